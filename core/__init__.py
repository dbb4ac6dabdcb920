"""QGIS-free numerical core of hsi_blind_fusion: simulate sensor pairs, estimate the blur kernel
and spectral response blindly, and fuse an LR hyperspectral with an HR multispectral image.

Public API::

    from hsi_blind_fusion.core import fuse, estimate_degradation, simulate
"""
from .errors import Cancelled, DeviceUnavailableError, FusionError, InvalidInputError
from .simulation import simulate
from .estimation import Degradation, estimate_degradation
from .fusion import FusionResult, fuse

__all__ = [
    "Cancelled", "DeviceUnavailableError", "FusionError", "InvalidInputError",
    "simulate", "Degradation", "estimate_degradation", "FusionResult", "fuse",
]
