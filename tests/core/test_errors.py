"""Bad inputs raise typed errors (InvalidInputError / DeviceUnavailableError) with useful messages."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import (DeviceUnavailableError, FusionError, InvalidInputError,
                                   estimate_degradation, fuse)
from hsi_blind_fusion.core.devices import resolve_device

rng = np.random.default_rng(0)
HSI = rng.random((31, 16, 16)).astype(np.float32) + 0.1
MSI = rng.random((3, 64, 64)).astype(np.float32) + 0.1


def test_error_hierarchy():
    assert issubclass(InvalidInputError, FusionError) and issubclass(InvalidInputError, ValueError)
    assert issubclass(DeviceUnavailableError, FusionError)


BAD_PAIRS = {
    "hsi-2d": (HSI[0], MSI, {}, "hyperspectral"),
    "msi-2d": (HSI, MSI[0], {}, "multispectral"),
    "hsi-4d": (HSI[None], MSI, {}, "hyperspectral"),
    "swapped": (MSI, HSI, {}, "swapped"),
    "single-band-hsi": (HSI[:1], MSI[:1], {}, "single band"),
    "non-integer-ratio": (HSI, MSI[:, :60, :60], {}, "integer scale"),
    "anisotropic-ratio": (HSI, np.zeros((3, 64, 32), np.float32) + 0.5, {}, "scale"),
    "scale-1": (HSI, MSI[:, :16, :16], {"scale": 1}, "2 or more"),
    "wrong-scale": (HSI, MSI, {"scale": 3}, "needs an MSI"),
    "hsi-all-nan": (np.full_like(HSI, np.nan), MSI, {}, "no valid pixel"),
    "msi-all-inf": (HSI, np.full_like(MSI, np.inf), {}, "no valid pixel"),
    "hsi-zero": (np.zeros_like(HSI), MSI, {}, "zero everywhere"),
    "msi-zero": (HSI, np.zeros_like(MSI), {}, "zero everywhere"),
    "srf-wrong-shape": (HSI, MSI, {"srf": np.ones((4, 31))}, "spectral response"),
    "srf-wrong-bands": (HSI, MSI, {"srf": np.ones((3, 30))}, "spectral response"),
    "srf-negative": (HSI, MSI, {"srf": -np.ones((3, 31))}, "negative"),
    "srf-nan": (HSI, MSI, {"srf": np.full((3, 31), np.nan)}, "NaN"),
    "mask-shape": (HSI, MSI, {"hsi_valid": np.ones((8, 8), bool)}, "mask"),
    "mask-all-false": (HSI, MSI, {"msi_valid": np.zeros((64, 64), bool)}, "no valid pixel"),
}


@pytest.mark.parametrize("case", list(BAD_PAIRS), ids=list(BAD_PAIRS))
@pytest.mark.parametrize("func", ["fuse", "estimate_degradation"])
def test_bad_inputs_raise_invalid_input(case, func):
    hsi, msi, kwargs, words = BAD_PAIRS[case]
    f = fuse if func == "fuse" else estimate_degradation
    extra = {"outer_iterations": 1, "inner_iterations": 1} if func == "fuse" else {}
    with pytest.raises(InvalidInputError) as info:
        f(hsi, msi, device="cpu", **kwargs, **extra)
    assert words.lower() in str(info.value).lower(), str(info.value)


@pytest.mark.parametrize("kwargs", [{"mode": "sequential"}, {"mode": ""}, {"outer_iterations": -1},
                                    {"inner_iterations": -2}, {"device": "tpu"}])
def test_bad_options_raise_invalid_input(kwargs):
    with pytest.raises(InvalidInputError):
        fuse(HSI, MSI, **kwargs)


def test_unknown_mode_message_lists_modes():
    with pytest.raises(InvalidInputError, match="alternating"):
        fuse(HSI, MSI, mode="nope")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present; 'cuda' is valid here")
@pytest.mark.parametrize("func", ["fuse", "resolve"])
def test_cuda_without_gpu_raises_device_unavailable(func):
    with pytest.raises(DeviceUnavailableError, match="cuda"):
        if func == "fuse":
            fuse(HSI, MSI, device="cuda", outer_iterations=0)
        else:
            resolve_device("cuda")


def test_auto_and_cpu_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None).type in ("cpu", "cuda")
