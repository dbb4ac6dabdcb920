"""The cheap checks before a run (core/workflow/checks.py), shared by every workflow and the QGIS
algorithms' checkParameterValues(); the DEVICE choices and cuda:N."""
import os

import pytest
import torch

from hsi_blind_fusion.core import DeviceUnavailableError, InvalidInputError
from hsi_blind_fusion.core.workflow import FusionRequest, QualityRequest, SimulationRequest, request_type
from hsi_blind_fusion.core.workflow.checks import check_request


def test_fusion_checks(scene, tmp_path):
    _, paths = scene
    ok = FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.bsq"))
    check = check_request(ok)
    assert check.grid.scale == 4 and check.hsi.count == 20
    cases = [
        (dict(hsi=paths["msi"], msi=paths["hsi"]), "swapped"),
        (dict(output=str(tmp_path / "f.xyz")), r"\.bsq"),
        (dict(output=str(tmp_path / "f.bsq"), cog=True), "Cloud-Optimized.*ENVI"),
        (dict(output=paths["hsi"]), "also an input"),
        (dict(degradation=str(tmp_path / "missing.json")), "not found"),
    ]
    for change, pattern in cases:
        values = {**ok.__dict__, **change}
        with pytest.raises(InvalidInputError, match=pattern):
            check_request(FusionRequest(**values))
    assert not os.listdir(tmp_path)


def test_every_workflow_runs_the_same_checks(scene, tmp_path, monkeypatch):
    """The workflow calls the function checkParameterValues calls (not a copy of it)."""
    from hsi_blind_fusion.core.workflow import checks, fusion, quality, simulation

    _, paths = scene

    def refuse(request):
        raise InvalidInputError("refused by the shared check")

    for module, name in ((fusion, "check_fusion"), (quality, "check_quality"), (simulation, "check_simulation")):
        monkeypatch.setattr(module, name, refuse)
    from hsi_blind_fusion.core.workflow import run_fusion, run_quality, run_simulation

    for run, request in ((run_fusion, FusionRequest(paths["hsi"], paths["msi"], str(tmp_path / "f.tif"))),
                         (run_quality, QualityRequest(fused=paths["truth"], reference=paths["truth"])),
                         (run_simulation, SimulationRequest(paths["truth"], str(tmp_path / "a.tif"),
                                                            str(tmp_path / "b.tif")))):
        with pytest.raises(InvalidInputError, match="shared check"):
            run(request)
    assert checks.check_request.__module__ == checks.__name__
    assert request_type("blindfusion") is FusionRequest and request_type("fusionquality") is QualityRequest


def test_quality_checks(scene, tmp_path):
    _, paths = scene
    with pytest.raises(InvalidInputError, match="REFERENCE.*HSI and MSI"):
        check_request(QualityRequest(fused=paths["truth"]))
    with pytest.raises(InvalidInputError, match="both HSI and MSI"):
        check_request(QualityRequest(fused=paths["truth"], hsi=paths["hsi"]))
    with pytest.raises(InvalidInputError, match="not on the MSI grid"):         # the LR image is not a fusion
        check_request(QualityRequest(fused=paths["hsi"], hsi=paths["hsi"], msi=paths["msi"]))
    with pytest.raises(InvalidInputError, match="same bands"):
        check_request(QualityRequest(fused=paths["msi"], reference=paths["truth"]))
    checked = check_request(QualityRequest(fused=paths["truth"], hsi=paths["hsi"], msi=paths["msi"]))
    assert checked.pair.grid.scale == 4 and checked.reference is None


def test_device_choices_and_cuda_index(monkeypatch):
    from hsi_blind_fusion.core.devices import resolve_device
    from hsi_blind_fusion.core.workflow import specs

    monkeypatch.setattr(specs, "cuda_device_count", lambda: 1)
    assert specs.device_options() == ("auto", "cpu", "cuda")
    monkeypatch.setattr(specs, "cuda_device_count", lambda: 3)
    assert specs.device_options()[-3:] == ("cuda:0", "cuda:1", "cuda:2")
    assert specs.FUSION.param("DEVICE").current_options() == specs.device_options()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceUnavailableError, match="cuda:0, cuda:1"):
        resolve_device("cuda:2")
    with pytest.raises(InvalidInputError, match="cuda:N"):
        resolve_device("gpu")
