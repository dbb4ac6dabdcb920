"""The blur's support in the workflow: chosen from the data and recorded in the degradation JSON
and the report; a support given with KERNEL_SIZE is used as given, and one that cuts the blur off
is a warning in the log."""
import json

import pytest

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
