"""Reading a run's inputs: the checked pair, the starting response, the starting degradation.

The pair's geometry is checked once, from metadata, before any side file or pixel is read; the
pixels are read with NaN where they are invalid (the core fills them, once); the sensor presets
(MSI_SENSOR / HSI_SENSOR) give the starting response when no file does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import io, sensor_presets
from ..errors import InvalidInputError
from ..kernels import kernel_from_array
from ..progress import Cancel
from ..responses import normalize_rows
from ..results import Degradation, EstimationDiagnostics


@dataclass
class Inputs:
    """A loaded pair and its starting points, with what the user should be told about them."""

    pair: io.PairData
    srf: Optional[np.ndarray] = None            # starting response (rows = MSI bands)
    degradation: Optional[Degradation] = None   # starting K and P from a degradation file
    srf_source: str = "estimated from the data"
    warnings: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    read_seconds: float = 0.0

    @property
    def scale(self) -> int:
        return self.pair.scale

    @property
    def hsi_wavelengths(self) -> Optional[np.ndarray]:
        return self.pair.hsi.wavelengths_nm

    @property
    def msi_names(self) -> list[str]:
        return self.pair.msi.band_names

    def masks(self) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """The HSI and MSI validity masks, None where every pixel is valid."""
        hv, mv = self.pair.hsi.valid, self.pair.msi.valid
        return (None if hv.all() else hv), (None if mv.all() else mv)

    def valid_hr(self) -> np.ndarray:
        """Where the fused image is valid: the MSI is valid and the HSI pixel above it too."""
        s = self.scale
        hv = np.kron(self.pair.hsi.valid.astype(np.uint8), np.ones((s, s), np.uint8)).astype(bool)
        mv = self.pair.msi.valid
        h, w = min(hv.shape[0], mv.shape[0]), min(hv.shape[1], mv.shape[1])
        out = np.zeros_like(mv)
        out[:h, :w] = hv[:h, :w] & mv[:h, :w]
        return out

    def fused_bytes(self) -> int:
        """Upper bound of the fused GeoTIFF's size (HSI bands on the cropped MSI grid)."""
        _, h, w = self.pair.msi.data.shape
        return io.raster_output_bytes(self.pair.hsi.data.shape[0], h, w)


def degradation_from_spec(spec: io.DegradationSpec) -> Degradation:
    """A core ``Degradation`` (the starting point of ``fuse``) from a read JSON."""
    k = kernel_from_array(spec.kernel)
    p = normalize_rows(spec.srf)
    gain = np.ones(p.shape[0]) if spec.msi_gain is None else np.asarray(spec.msi_gain, dtype=np.float64)
    return Degradation(kernel=k, srf=p, scale=spec.scale, msi_gain=gain, initial_kernel=k.copy(),
                       initial_srf=p.copy(), diagnostics=EstimationDiagnostics(source="degradation file"))


def load_inputs(hsi_path: str, msi_path: str, scale: int = 0, srf_path: Optional[str] = None,
                degradation_path: Optional[str] = None, msi_sensor: str = "auto", hsi_sensor: str = "auto",
                cancel: Optional[Cancel] = None) -> Inputs:
    """Check and read the inputs of a fusion or an estimation (``cancel()`` True stops between the
    reads). Side files (SRF, degradation) are checked before any pixel is read."""
    t0 = time.perf_counter()
    hi, mi = io.raster_info(hsi_path), io.raster_info(msi_path)
    grid = io.pair_grid(hi, mi, scale)
    srf = io.read_srf_csv(srf_path, mi.count, hi.count, hi.wavelengths_nm) if srf_path else None
    degradation = None
    if degradation_path:
        spec = io.read_degradation(degradation_path, scale=grid.scale, hsi_bands=hi.count, msi_bands=mi.count)
        degradation = degradation_from_spec(spec)
    pair = io.read_pair(hi, mi, grid, cancel, fill_invalid=False)
    inputs = Inputs(pair=pair, srf=srf, degradation=degradation, warnings=list(pair.warnings))
    inputs.messages += [f"{role}: {info.product}" for info, role in ((hi, "HSI"), (mi, "MSI")) if info.product]
    for d, role in ((pair.hsi, "HSI"), (pair.msi, "MSI")):
        bad = int((~d.valid).sum())
        if bad:
            inputs.warnings.append(
                f"{bad} of {d.valid.size} {role} pixels are nodata, masked, NaN or Inf: left out of the "
                "estimation; the output is nodata there")
    _apply_sensor_presets(inputs, msi_sensor, hsi_sensor)
    inputs.read_seconds = time.perf_counter() - t0
    return inputs


def _apply_sensor_presets(inputs: Inputs, msi_sensor: str, hsi_sensor: str) -> None:
    """MSI_SENSOR / HSI_SENSOR: the starting response when no response or degradation file gives
    one, and the HSI's wavelengths when the raster has none."""
    hsi, msi = inputs.pair.hsi, inputs.pair.msi
    msi_key, hsi_key = (msi_sensor or "auto").lower(), (hsi_sensor or "auto").lower()
    res = sensor_presets.starting_response(msi_key, hsi.wavelengths_nm, hsi.data.shape[0], msi.wavelengths_nm,
                                           msi.data.shape[0], hsi_key, hsi_fwhm_nm=hsi.info.fwhm_nm)
    if res.hsi_wavelengths_nm is not None:
        hsi.info.wavelengths_nm = np.asarray(res.hsi_wavelengths_nm, dtype=float)
    messages = list(res.messages)
    if inputs.srf is not None or inputs.degradation is not None:
        given = "response file" if inputs.srf is not None else "degradation file"
        if msi_key not in ("auto", "none"):
            messages.append(f"MSI_SENSOR is ignored: the starting response comes from the {given}")
        else:
            messages = [m for m in messages if not m.startswith("MSI_SENSOR=auto")
                        and not m.startswith("starting spectral response")]
        source = f"the {given}"
    else:
        inputs.srf, source = res.srf, res.source
    inputs.messages += messages
    inputs.srf_source = f"{source} (MSI_SENSOR={msi_key}, HSI_SENSOR={hsi_key})"


def check_bands_match(a: io.RasterInfo, b: io.RasterInfo, a_name: str, b_name: str) -> None:
    """Two rasters of the same bands and grid size (e.g. a reference and a fused image)."""
    if (a.count, a.height, a.width) != (b.count, b.height, b.width):
        raise InvalidInputError(
            f"the {a_name} ({a.count} bands, {a.width}x{a.height}) and the {b_name} ({b.count} bands, "
            f"{b.width}x{b.height}) differ: they must have the same bands and grid")
