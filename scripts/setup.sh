#!/usr/bin/env bash
# Idempotent set-up of everything a fresh Debian 12 machine lacks to run, test and demo the plugin:
# Debian packages (QGIS, GDAL, rasterio, scipy, Qt's translation tools for the i18n check), a venv
# that sees them, pinned pip packages, the plugin linked into a private plugin folder and enabled in
# a private QGIS profile.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/.venv"
plugins="$root/.qgis/plugins"
profile="$root/.qgis/profile"

apt_packages=(qgis python3-qgis qgis-providers python3-gdal python3-rasterio python3-scipy
              python3-venv python3-matplotlib python3-skimage python3-psutil python3-h5py xvfb xauth
              pyqt5-dev-tools qttools5-dev-tools)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own python3 (not a pyenv shim): only it sees python3-qgis and Debian's GDAL.
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -c "import torch, onnxruntime, onnx, pytest, hypothesis, distributed" 2>/dev/null; then
  echo "setup: installing pip packages (torch is pinned: an unpinned torch pulls a CUDA build)"
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then ort=onnxruntime-gpu; else ort=onnxruntime; fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt "$ort" "numpy<2"
fi

# The plugin folder must be named hsi_blind_fusion: link the checkout under that name.
mkdir -p "$plugins" "$profile"
if [ "$(readlink "$plugins/hsi_blind_fusion" 2>/dev/null)" != "$root" ]; then
  rm -f "$plugins/hsi_blind_fusion"
  ln -s "$root" "$plugins/hsi_blind_fusion"
fi
# Make `import hsi_blind_fusion` work in the venv without installing a copy.
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$plugins" > "$site/hsi_blind_fusion_dev.pth"

# qgis_process only loads enabled plugins; `plugins enable` fails when the plugin is already enabled.
qp_env=(env PATH="$venv/bin:$PATH" QT_QPA_PLATFORM=offscreen QGIS_PLUGINPATH="$plugins"
        QGIS_CUSTOM_CONFIG_PATH="$profile" PYTHONPATH="$plugins")
if ! "${qp_env[@]}" qgis_process.bin plugins 2>/dev/null | grep -q '^\* hsi_blind_fusion$'; then
  echo "setup: enabling the plugin for qgis_process"
  out=$("${qp_env[@]}" qgis_process.bin plugins enable hsi_blind_fusion 2>&1) \
    || grep -q "already enabled" <<<"$out" || { echo "$out"; echo "setup: warning: could not enable the plugin"; }
fi
echo "setup: ready"
