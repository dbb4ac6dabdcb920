"""The fusion workflow behind both front ends: requests from parameter values, streaming into the
output, outputs committed together."""
import os

import numpy as np
import pytest
import rasterio

from hsi_blind_fusion.core import Cancelled, FusionSettings
from hsi_blind_fusion.core.workflow import Feedback, FusionRequest, run_fusion
from hsi_blind_fusion.core.workflow.fusion import fuse_to_file
from hsi_blind_fusion.core.workflow.inputs import load_inputs
from hsi_blind_fusion.core.workflow.specs import FUSION


def test_request_from_parameter_values():
    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", "OUTER_ITERATIONS": 3,
                                   "SRF": "", "REPORT": None, "TILE_SIZE": 0})
    assert (r.hsi, r.outer_iterations, r.srf, r.report) == ("h.tif", 3, None, None)
    cfg = r.settings()
    assert cfg.outer_iterations == 3 and cfg.tile_size is None and cfg == FusionSettings(outer_iterations=3)
    # every parameter of the tool is a field of the request, with the same default
    for p in FUSION.parameters:
        assert hasattr(r, p.key), p.name
        if p.default is not None and not p.is_output:
            assert getattr(FusionRequest, p.key) == p.default, p.name


def test_streams_into_the_output(scene, tmp_path):
    _, paths = scene
    inputs = load_inputs(paths["hsi"], paths["msi"])
    out = tmp_path / "fused.tif"
    cfg = FusionSettings(outer_iterations=1, inner_iterations=1, device="cpu", tile_size=32)
    r = fuse_to_file(inputs, cfg, str(out))
    assert r.diagnostics.tile_size == 32 and r.diagnostics.written_to == str(out)
    assert os.listdir(tmp_path) == ["fused.tif"]
    with rasterio.open(out) as ds:
        got = ds.read()
        assert ds.transform == inputs.pair.msi.transform and got.shape == r.image.shape
    np.testing.assert_array_equal(got, np.nan_to_num(r.image, nan=-9999.0))
    r2 = fuse_to_file(inputs, cfg, str(tmp_path / "b.tif"), keep_image_bytes=0)
    assert r2.image is None            # nothing kept in memory when the image is above the limit


class CancelAfter(Feedback):
    def __init__(self, text):
        self.text, self.tripped, self.warnings = text, False, []

    def progress(self, fraction, message=""):
        self.tripped |= self.text in message

    def is_canceled(self):
        return self.tripped

    def warning(self, message):
        self.warnings.append(message)


@pytest.mark.parametrize("text", ["initial estimate", "outer iteration 1", "Writing the outputs"])
def test_cancel_leaves_nothing(scene, tmp_path, text):
    _, paths = scene
    request = FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"), outer_iterations=2,
                            inner_iterations=1, device="cpu", output_degradation=str(tmp_path / "d.json"),
                            report=str(tmp_path / "r.html"))
    with pytest.raises(Cancelled):
        run_fusion(request, CancelAfter(text))
    assert os.listdir(tmp_path) == []
