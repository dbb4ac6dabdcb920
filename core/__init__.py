"""QGIS-free numerical core of hsi_blind_fusion: simulate sensor pairs, estimate the blur kernel
and spectral response blindly, and fuse an LR hyperspectral with an HR multispectral image.

Public API::

    from hsi_blind_fusion.core import fuse, estimate_degradation, simulate, FusionSettings

File-level work (reading rasters, writing GeoTIFFs and reports) lives in :mod:`.io` and
:mod:`.workflow`; the command line and the QGIS algorithms call the workflow.

Names are imported on first use, so that importing a light part of the core (the errors, the
tool specifications) does not load torch: the plugin must list its algorithms, and say what is
missing, on a QGIS without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import Cancelled, DeviceUnavailableError, FusionError, InvalidInputError

_LAZY = {
    "estimate_degradation": ".estimation", "fuse": ".fusion", "simulate": ".simulation",
    "Degradation": ".results", "EstimationDiagnostics": ".results", "FusionDiagnostics": ".results",
    "FusionResult": ".results", "FusionSettings": ".settings", "Window": ".windows",
}

__all__ = ["Cancelled", "DeviceUnavailableError", "FusionError", "InvalidInputError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
