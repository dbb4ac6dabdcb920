"""Help and conventions: ``qgis_process.bin help`` of each algorithm reads as plain text with the
sections What / Inputs / Outputs / Tips / Limits, every parameter has help, helpUrl points to a README
section, icons exist, sensor-preset options agree with the core tables."""
import os
import re
import shutil
import subprocess

import pytest

from helpers.paths import ROOT, qgis_env

EXE = shutil.which("qgis_process.bin")
ALGS = ("blindfusion", "estimatedegradation", "simulateobservations", "fusionquality", "batchfusion")


def _readme_anchors():
    anchors = set()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


@pytest.mark.skipif(EXE is None, reason="qgis_process.bin not installed")
@pytest.mark.parametrize("alg", ALGS)
def test_qgis_process_help_reads_well(alg):
    r = subprocess.run([EXE, "help", f"hsifusion:{alg}"], env=qgis_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    desc = out.split("Description\n----------------\n", 1)[1].split("\n----------------\nArguments", 1)[0]
    for section in ("Inputs\n", "Outputs\n", "Tips\n", "Limits\n"):
        assert section in desc, (alg, section)
    assert len(desc.split("\n\n")[0]) > 80  # a real summary first
    assert not re.search(r"</?[a-zA-Z][^>]*>", desc), "raw HTML in the help"
    # every argument has a help line before its type
    args = out.split("Arguments\n----------------\n", 1)[1].split("\n----------------\nOutputs", 1)[0]
    blocks = re.findall(r"^([A-Z_]+): .*\n\t(.*)\n", args, re.M)
    assert blocks, args
    for name, first in blocks:
        assert not first.startswith("Argument type"), f"{alg}: {name} has no help"


def test_parameters_help_url_icons(qgis_app):
    from qgis.core import QgsApplication

    anchors = _readme_anchors()
    for alg_id in ALGS:
        alg = QgsApplication.processingRegistry().algorithmById(f"hsifusion:{alg_id}")
        assert alg is not None
        for p in alg.parameterDefinitions():
            assert p.help().strip(), f"{alg_id}: {p.name()} has no help"
            assert p.description().strip()
        url = alg.helpUrl()
        assert url.startswith("https://") and url.split("#", 1)[1] in anchors, url
        assert os.path.isfile(alg.svgIconPath()) and not alg.icon().isNull()
        assert alg.shortHelpString().strip()


def test_sensor_options_match_core(qgis_app):
    from qgis.core import QgsApplication

    from hsi_blind_fusion.core import sensor_presets

    for alg_id in ("blindfusion", "estimatedegradation"):
        alg = QgsApplication.processingRegistry().algorithmById(f"hsifusion:{alg_id}")
        msi, hsi = alg.parameterDefinition("MSI_SENSOR"), alg.parameterDefinition("HSI_SENSOR")
        assert msi.options() == sensor_presets.MSI_SENSOR_OPTIONS
        assert hsi.options() == sensor_presets.HSI_SENSOR_OPTIONS
        for key in sensor_presets.MSI_SENSOR_OPTIONS[2:]:
            assert key in msi.help()
        for key in sensor_presets.HSI_SENSOR_OPTIONS[2:]:
            assert key in hsi.help()


def test_presets_in_a_run(qgis_app, scene, tmp_path):
    """MSI_SENSOR=auto detects the scene's Sentinel-2 bands; an explicit wrong preset is a clear error;
    the report shows the starting response."""
    import processing
    from qgis.core import QgsProcessingException

    s, paths = scene
    rep = str(tmp_path / "deg.html")
    res = processing.run("hsifusion:estimatedegradation", {
        "HSI": paths["hsi"], "MSI": paths["msi"], "MSI_SENSOR": "auto", "DEVICE": "cpu",
        "OUTPUT": str(tmp_path / "deg.json"), "REPORT": rep})
    page = open(res["REPORT"], encoding="utf-8").read()
    assert "Sentinel-2" in page and "Consistency residuals" in page
    with pytest.raises(QgsProcessingException, match="sentinel2_10m"):
        processing.run("hsifusion:estimatedegradation", {
            "HSI": paths["hsi"], "MSI": paths["msi"], "MSI_SENSOR": "sentinel2_10m", "DEVICE": "cpu",
            "OUTPUT": str(tmp_path / "deg2.json")})
