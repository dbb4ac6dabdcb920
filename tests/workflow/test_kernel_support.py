"""The blur's support in the workflow: chosen from the data and recorded in the degradation JSON
and the report; a support given with KERNEL_SIZE is used as given, and one that cuts the blur off
is a warning in the log; a noisy MSI's refit (core/kernel_refit.py) is on record too."""
import json
from dataclasses import replace

import numpy as np
import pytest

from hsi_blind_fusion.core import simulate
from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import EstimationRequest, run_estimation

from helpers.feedback import Recording


@pytest.fixture(scope="module")
def wide_blur(tmp_path_factory):
    """x4 with a Gaussian PSF of sigma 3 MSI pixels: wider than the default 9 x 9 support."""
    s = make_scene(size=128, scale=4, bands=20, kernel_sigma=3.0, kernel_size=25, snr_db=40.0, seed=0)
    return write_scene(s, str(tmp_path_factory.mktemp("wide_blur")))


def test_support_grows_and_is_recorded(wide_blur, tmp_path):
    fb = Recording()
    run_estimation(EstimationRequest(hsi=wide_blur["hsi"], msi=wide_blur["msi"], output=str(tmp_path / "d.json"),
                                     report=str(tmp_path / "r.html"), device="cpu"), fb)
    d = json.loads((tmp_path / "d.json").read_text())
    assert d["kernel_support"] == len(d["kernel"]) > 9
    assert [t["size"] for t in d["kernel_support_tried"]][0] == 9
    assert d["kernel_border_mass"] < 0.01 and "kernel_warning" not in d
    assert not [w for w in fb.warnings if w.startswith("kernel:")]
    assert "Kernel support" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_given_support_wins_and_warns_when_too_small(wide_blur, tmp_path):
    fb = Recording()
    run_estimation(EstimationRequest(hsi=wide_blur["hsi"], msi=wide_blur["msi"], output=str(tmp_path / "d.json"),
                                     kernel_size=5, device="cpu"), fb)
    d = json.loads((tmp_path / "d.json").read_text())
    assert d["kernel_support"] == len(d["kernel"]) == 5
    assert d["kernel_border_mass"] > 0.01 and "KERNEL_SIZE" in d["kernel_warning"]
    assert [w for w in fb.warnings if w.startswith("kernel:") and "KERNEL_SIZE" in w]


def _motion_blurred(scene, snr_db):
    """The scene observed through a 13 px diagonal motion trail at ``snr_db`` (at 25 dB its first
    fit is far from Gaussian-like, 0.73, so the noisy MSI's kernel is refitted: kernel correlation
    0.88 -> 0.98 when written)."""
    trail = np.zeros((13, 13))
    trail[np.arange(1, 12), np.arange(1, 12)] = 1.0
    trail[6, 2:11] += 0.5
    hsi, msi = simulate(scene.truth, trail / trail.sum(), scene.srf, scene.scale, snr_db=snr_db, seed=3)
    return replace(scene, hsi=hsi, msi=msi, kernel=trail / trail.sum())


def test_a_clean_msi_is_fitted_once_and_a_noisy_one_refitted_on_record(wide_blur, tmp_path_factory, tmp_path):
    fb = Recording()
    run_estimation(EstimationRequest(hsi=wide_blur["hsi"], msi=wide_blur["msi"], output=str(tmp_path / "c.json"),
                                     device="cpu"), fb)
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["msi_snr_db"] > 35 and d["kernel_refitted_on_denoised_msi"] is False
    assert not [m for m in fb.infos if "fitted again" in m]

    noisy = write_scene(_motion_blurred(make_scene(size=128, scale=4, bands=20, snr_db=None, seed=0), 25.0),
                        str(tmp_path_factory.mktemp("noisy")))
    fb = Recording()
    run_estimation(EstimationRequest(hsi=noisy["hsi"], msi=noisy["msi"], output=str(tmp_path / "n.json"),
                                     report=str(tmp_path / "n.html"), device="cpu"), fb)
    d = json.loads((tmp_path / "n.json").read_text())
    assert d["msi_snr_db"] < 35 and d["kernel_refitted_on_denoised_msi"] is True
    assert d["kernel_gaussian_likeness"] < 0.9
    assert [m for m in fb.infos if "fitted again on the denoised MSI" in m]
    assert "the denoised MSI (refit)" in (tmp_path / "n.html").read_text(encoding="utf-8")

    run_estimation(EstimationRequest(hsi=noisy["hsi"], msi=noisy["msi"], output=str(tmp_path / "off.json"),
                                     msi_denoising=0.0, device="cpu"), Recording())
    assert "msi_snr_db" not in json.loads((tmp_path / "off.json").read_text())
