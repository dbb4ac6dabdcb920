"""The degradation JSON: the estimated kernel, response, scale and wavelengths of a sensor pair,
written by 'Estimate sensor degradation' and the fusion, read back as a starting point."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InvalidInputError
from .files import write_text


@dataclass
class DegradationSpec:
    """A degradation JSON as read: ``kernel`` (odd square, non-negative), ``srf`` (MSI x HSI bands)."""

    scale: int
    kernel: np.ndarray
    srf: np.ndarray
    hsi_wavelengths_nm: Optional[np.ndarray]
    msi_wavelengths_nm: Optional[np.ndarray]
    msi_gain: Optional[np.ndarray] = None
    #: the MSI restoration (MSI_MTF) the kernel was estimated after; 1 = none (files before it)
    msi_mtf: float = 1.0


def _list_or_none(a):
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return None
    return [float(v) for v in a]


def degradation_to_dict(scale: int, kernel, srf, hsi_wavelengths_nm=None, msi_wavelengths_nm=None,
                        extra: Optional[dict] = None) -> dict:
    d = {
        "scale": int(scale),
        "kernel": np.asarray(kernel, dtype=np.float64).tolist(),
        "srf": np.asarray(srf, dtype=np.float64).tolist(),
        "hsi_wavelengths_nm": _list_or_none(hsi_wavelengths_nm),
        "msi_wavelengths_nm": _list_or_none(msi_wavelengths_nm),
    }
    for k, v in (extra or {}).items():
        d.setdefault(k, v)
    return d


def format_degradation_json(d: dict) -> str:
    """JSON with one line per key and one line per matrix row (readable, diff-friendly)."""
    lines = []
    for key, value in d.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            rows = ",\n    ".join(json.dumps(r) for r in value)
            lines.append(f"  {json.dumps(key)}: [\n    {rows}\n  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_degradation(path: str, scale: int, kernel, srf, hsi_wavelengths_nm=None, msi_wavelengths_nm=None,
                      extra: Optional[dict] = None) -> str:
    """Write ``{"scale", "kernel", "srf" (rows = MSI bands), wavelengths, extra keys}`` to ``path``."""
    d = degradation_to_dict(scale, kernel, srf, hsi_wavelengths_nm, msi_wavelengths_nm, extra)
    return write_text(path, format_degradation_json(d))


def read_degradation(path: str, scale: Optional[int] = None, hsi_bands: Optional[int] = None,
                     msi_bands: Optional[int] = None) -> DegradationSpec:
    """Read and validate a degradation JSON; checks scale and band counts when given."""
    name = os.path.basename(str(path))
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError as exc:
        raise InvalidInputError(f"degradation file not found: {path}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"the degradation file {name} is not valid JSON: {exc}") from exc
    if not isinstance(d, dict) or not {"scale", "kernel", "srf"} <= set(d):
        raise InvalidInputError(
            f"the degradation file {name} must hold an object with 'scale', 'kernel' and 'srf' "
            "(as written by 'Estimate sensor degradation')")
    try:
        s = int(d["scale"])
        k = np.asarray(d["kernel"], dtype=np.float64)
        p = np.asarray(d["srf"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"the degradation file {name} holds non-numeric values: {exc}") from exc
    if s < 1 or s != d["scale"]:
        raise InvalidInputError(f"the degradation file {name} has an invalid scale {d['scale']!r}")
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise InvalidInputError(f"the kernel in {name} must be a square odd-sized matrix, got shape {k.shape}")
    if not np.all(np.isfinite(k)) or np.any(k < 0) or k.sum() <= 0:
        raise InvalidInputError(f"the kernel in {name} must be finite, non-negative and not all zero")
    if p.ndim != 2 or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise InvalidInputError(f"the spectral response in {name} must be a finite non-negative matrix")
    if scale and int(scale) != s:
        raise InvalidInputError(
            f"the degradation file {name} is for scale {s} but the images have scale {int(scale)}")
    if msi_bands is not None and hsi_bands is not None and p.shape != (msi_bands, hsi_bands):
        raise InvalidInputError(
            f"the spectral response in {name} is {p.shape[0]} x {p.shape[1]} (MSI x HSI bands) but the images "
            f"have {msi_bands} MSI and {hsi_bands} HSI bands")
    hw, mw = d.get("hsi_wavelengths_nm"), d.get("msi_wavelengths_nm")
    gain = d.get("msi_gain")
    if gain is not None:
        try:
            gain = np.asarray(gain, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"'msi_gain' in {name} is not a list of numbers") from exc
        if gain.size != p.shape[0] or not np.all(np.isfinite(gain)) or np.any(gain <= 0):
            raise InvalidInputError(f"'msi_gain' in {name} must hold {p.shape[0]} positive numbers")
    try:
        mtf = float(d.get("msi_mtf", 1.0))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"'msi_mtf' in {name} is not a number") from exc
    if not 0.0 < mtf <= 1.0:
        raise InvalidInputError(f"'msi_mtf' in {name} must be above 0 and at most 1, got {mtf}")
    return DegradationSpec(scale=s, kernel=k, srf=p,
                           hsi_wavelengths_nm=None if hw is None else np.asarray(hw, dtype=np.float64),
                           msi_wavelengths_nm=None if mw is None else np.asarray(mw, dtype=np.float64),
                           msi_gain=gain, msi_mtf=mtf)
