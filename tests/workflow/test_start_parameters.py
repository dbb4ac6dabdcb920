"""The start's auto/off parameters reach the core's settings, from the fusion tool and through a
batch's pairs; their default is auto."""
import pytest

from hsi_blind_fusion.core.workflow import FusionRequest
from hsi_blind_fusion.core.workflow.requests import BatchRequest


@pytest.mark.parametrize("name,field", [("BAND_DETAIL", "band_detail"), ("CHROMATIC_BLUR", "chromatic_blur")])
def test_parameter_reaches_the_settings(name, field):
    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", name: "off"})
    assert getattr(r.settings(), field) == "off"
    assert getattr(FusionRequest(hsi="h", msi="m", output="o").settings(), field) == "auto"
    b = BatchRequest.from_values({"FOLDER": "d", "OUTPUT_FOLDER": "o", name: "off"})
    assert getattr(b.pair_request("h.tif", "m.tif", "o.tif").settings(), field) == "off"
