"""MSI_MTF through the tools: the degradation JSON records the restoration its kernel belongs to,
and a fusion reusing it with another MSI_MTF says so."""
import json

from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import EstimationRequest, FusionRequest, run_estimation, run_fusion
from helpers.feedback import Recording


def test_the_json_records_msi_mtf_and_a_mismatch_is_warned(tmp_path):
    paths = write_scene(make_scene(size=64, scale=4, bands=12, snr_db=40.0, seed=0), str(tmp_path / "scene"))
    deg = str(tmp_path / "deg.json")
    run_estimation(EstimationRequest(hsi=paths["hsi"], msi=paths["msi"], output=deg, msi_mtf=0.3, device="cpu"))
    assert json.loads(open(deg, encoding="utf-8").read())["msi_mtf"] == 0.3
    same, other = Recording(), Recording()
    common = dict(hsi=paths["hsi"], msi=paths["msi"], degradation=deg, outer_iterations=0, device="cpu")
    run_fusion(FusionRequest(output=str(tmp_path / "a.tif"), msi_mtf=0.3, **common), same)
    run_fusion(FusionRequest(output=str(tmp_path / "b.tif"), **common), other)
    assert not [w for w in same.warnings if "MSI_MTF" in w]
    assert [w for w in other.warnings if "estimated with MSI_MTF=0.3" in w]


def test_a_json_with_an_impossible_msi_mtf_is_refused(tmp_path):
    import pytest

    from hsi_blind_fusion.core import io
    from hsi_blind_fusion.core.errors import InvalidInputError

    path = tmp_path / "d.json"
    path.write_text(json.dumps({"scale": 4, "kernel": [[1.0]], "srf": [[1.0]], "msi_mtf": 0}), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="msi_mtf"):
        io.read_degradation(str(path))
    path.write_text(json.dumps({"scale": 4, "kernel": [[1.0]], "srf": [[1.0]]}), encoding="utf-8")
    assert io.read_degradation(str(path)).msi_mtf == 1.0
