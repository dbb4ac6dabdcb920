"""File-level workflows shared by the QGIS algorithms and the command line (QGIS-free).

``load_inputs`` validates and reads an HSI/MSI pair plus the optional starting response (CSV) and
degradation (JSON); ``run_fusion`` / ``run_estimation`` call the core; ``save_*`` write the outputs
(GeoTIFF on the MSI grid, degradation JSON, HTML report), each atomically.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import raster_io
from .errors import InvalidInputError

#: Streaming runs keep a copy of fused images up to this size for the report (previews, residuals).
KEEP_IMAGE_BYTES = 256 << 20


@dataclass
class Inputs:
    pair: raster_io.PairData
    srf: Optional[np.ndarray] = None  # starting response from the SRF file
    degradation: Optional[object] = None  # core Degradation built from the JSON
    warnings: list = field(default_factory=list)
    read_seconds: float = 0.0

    @property
    def scale(self):
        return self.pair.scale

    @property
    def msi_names(self):
        d = self.pair.msi.descriptions
        return [x or f"band {i + 1}" for i, x in enumerate(d)]


def load_inputs(hsi_path: str, msi_path: str, scale: int = 0, srf_path: Optional[str] = None,
                degradation_path: Optional[str] = None, cancel: Optional[Callable] = None) -> Inputs:
    """Check and read the inputs; side files (SRF, degradation) are checked before any pixel is read.
    ``cancel()`` returning True raises :class:`Cancelled` between the steps."""
    t0 = time.perf_counter()
    # Cheap checks of the side files first (before reading the pixels).
    hi, mi = raster_io.raster_info(hsi_path), raster_io.raster_info(msi_path)
    s, _, _, _, _ = raster_io.check_pair(hi, mi, scale)
    srf = None
    if srf_path:
        srf = raster_io.read_srf_csv(srf_path, mi.count, hi.count, hi.wavelengths_nm)
    degradation = None
    if degradation_path:
        spec = raster_io.read_degradation(degradation_path, scale=s, hsi_bands=hi.count, msi_bands=mi.count)
        degradation = degradation_from_spec(spec)
    pair = raster_io.prepare_pair(hsi_path, msi_path, scale, cancel=cancel)
    warnings = list(pair.warnings)
    for d, role in ((pair.hsi, "HSI"), (pair.msi, "MSI")):
        bad = int((~d.valid).sum())
        if bad:
            warnings.append(
                f"{bad} of {d.valid.size} {role} pixels are nodata, masked, NaN or Inf: left out of the "
                "estimation; the output is nodata there")
    return Inputs(pair=pair, srf=srf, degradation=degradation, warnings=warnings,
                  read_seconds=time.perf_counter() - t0)


def degradation_from_spec(spec: raster_io.DegradationSpec):
    """A core ``Degradation`` (the starting point of ``fuse``) from a read JSON."""
    from .estimation import Degradation
    from .kernels import kernel_from_array
    from .responses import normalize_rows

    k = kernel_from_array(spec.kernel)
    p = normalize_rows(spec.srf)
    gain = getattr(spec, "msi_gain", None)
    gain = np.ones(p.shape[0]) if gain is None else np.asarray(gain, dtype=np.float64)
    return Degradation(kernel=k, srf=p, scale=spec.scale, msi_gain=gain, initial_kernel=k.copy(),
                       initial_srf=p.copy(), diagnostics={"source": "degradation file"})


def _valid_hr(inputs: Inputs) -> np.ndarray:
    s = inputs.scale
    hv = np.kron(inputs.pair.hsi.valid.astype(np.uint8), np.ones((s, s), np.uint8)).astype(bool)
    mv = inputs.pair.msi.valid
    h, w = min(hv.shape[0], mv.shape[0]), min(hv.shape[1], mv.shape[1])
    out = np.zeros_like(mv)
    out[:h, :w] = hv[:h, :w] & mv[:h, :w]
    return out


def _masks(inputs: Inputs):
    hv, mv = inputs.pair.hsi.valid, inputs.pair.msi.valid
    return (None if hv.all() else hv), (None if mv.all() else mv)


def run_fusion(inputs: Inputs, outer_iterations: int = 40, inner_iterations: int = 10, device: str = "auto",
               seed: int = 0, progress: Optional[Callable] = None, cancel: Optional[Callable] = None,
               output_path: Optional[str] = None, tile_size: int = 0, keep_image_bytes: int = KEEP_IMAGE_BYTES,
               msi_denoising: Optional[float] = None):
    """Fuse the loaded pair. With ``output_path`` the fused GeoTIFF is written window by window as
    the tiles come (:class:`raster_io.WindowWriter`: temporary file in the same folder, renamed onto
    ``output_path`` when complete, deleted on error or cancel), so the HR cube is never held in
    memory; ``result.image`` then holds a copy only when the cube is at most ``keep_image_bytes``
    (for the report), else None. ``tile_size`` 0 = automatic (from the available memory);
    ``msi_denoising`` is the MSI's non-local means strength (None = the default, 0 = off)."""
    from . import fuse
    from .fusion import FusionSettings

    hv, mv = _masks(inputs)
    settings = FusionSettings(tile_size=int(tile_size) if tile_size and int(tile_size) > 0 else None)
    if msi_denoising is not None:
        settings.msi_denoising = float(msi_denoising)
    kwargs = dict(scale=inputs.scale, srf=inputs.srf, outer_iterations=int(outer_iterations),
                  inner_iterations=int(inner_iterations), device=device, seed=int(seed), progress=progress,
                  cancel=cancel, degradation=inputs.degradation, hsi_valid=hv, msi_valid=mv,
                  hsi_wavelengths=inputs.pair.hsi.wavelengths_nm, settings=settings)
    if not output_path:
        return fuse(inputs.pair.hsi.data, inputs.pair.msi.data, **kwargs)
    msi = inputs.pair.msi
    bands, (height, width) = inputs.pair.hsi.data.shape[0], msi.data.shape[1:]
    if settings.tile_size is None:
        settings.tile_size = _auto_tile(inputs)
    keep = (np.full((bands, height, width), np.nan, dtype=np.float32)
            if bands * height * width * 4 <= keep_image_bytes else None)
    writer = raster_io.WindowWriter(output_path, bands, height, width, msi.transform, msi.crs,
                                    wavelengths_nm=inputs.pair.hsi.wavelengths_nm,
                                    descriptions=inputs.pair.hsi.descriptions, valid=_valid_hr(inputs),
                                    cancel=cancel)

    def put(rows, cols, block):
        writer(rows, cols, block)
        if keep is not None:
            keep[:, rows, cols] = block

    try:
        result = fuse(inputs.pair.hsi.data, inputs.pair.msi.data, writer=put, **kwargs)
        t = time.perf_counter()
        writer.close()
        result.diagnostics.setdefault("timings", {})["write"] = (
            result.diagnostics.get("timings", {}).get("write", 0.0) + time.perf_counter() - t)
        result.diagnostics["written_window_by_window"] = output_path
    except BaseException:
        writer.abort()
        raise
    if keep is not None:
        result.image = keep
    return result


def _auto_tile(inputs: Inputs) -> int:
    """The core's automatic tile, rounded down to a multiple of the GeoTIFF block (256) and of the
    scale, so that the written windows fill whole GeoTIFF tiles."""
    import math

    from .fusion import auto_tile_size, streaming_reach

    s = inputs.scale
    tile = auto_tile_size(inputs.pair.hsi.data.shape[0], streaming_reach(s), s)
    step = 256 * s // math.gcd(256, s)
    return max(step, tile // step * step) if tile >= step else tile


def run_estimation(inputs: Inputs, device: str = "auto", seed: int = 0, progress: Optional[Callable] = None,
                   cancel: Optional[Callable] = None):
    from . import estimate_degradation

    hv, mv = _masks(inputs)
    return estimate_degradation(inputs.pair.hsi.data, inputs.pair.msi.data, scale=inputs.scale, srf=inputs.srf,
                                device=device, seed=int(seed), progress=progress, cancel=cancel,
                                hsi_valid=hv, msi_valid=mv)


def fused_output_bytes(inputs: Inputs) -> int:
    """Upper bound of the fused GeoTIFF's size (HSI bands on the cropped MSI grid, float32)."""
    _, h, w = inputs.pair.msi.data.shape
    return raster_io.raster_output_bytes(inputs.pair.hsi.data.shape[0], h, w)


def save_fused(inputs: Inputs, image: np.ndarray, path: str, cancel: Optional[Callable] = None) -> str:
    """The fused image as float32 GeoTIFF on the (cropped) MSI grid, HSI band names and wavelengths."""
    msi = inputs.pair.msi
    img = np.asarray(image, dtype=np.float32)
    if img.shape[1:] != msi.data.shape[1:]:
        raise InvalidInputError(f"the fused image {img.shape[1:]} does not match the MSI grid {msi.data.shape[1:]}")
    return raster_io.write_raster(path, img, msi.transform, msi.crs, valid=_valid_hr(inputs),
                                  wavelengths_nm=inputs.pair.hsi.wavelengths_nm,
                                  descriptions=inputs.pair.hsi.descriptions, cancel=cancel)


def save_degradation(inputs: Inputs, result, path: str) -> str:
    extra = {}
    gain = getattr(result, "msi_gain", None)
    if gain is not None:
        extra["msi_gain"] = [float(g) for g in np.asarray(gain, dtype=np.float64).ravel()]
    return raster_io.write_degradation(path, result.scale, result.kernel, result.srf,
                                       inputs.pair.hsi.wavelengths_nm, inputs.pair.msi.wavelengths_nm, extra)


def save_report(inputs: Inputs, result, path: str, title: str, settings: dict,
                extra_timings: Optional[dict] = None) -> str:
    from .report import write_report

    diag = getattr(result, "diagnostics", None) or {}
    timings = dict(extra_timings or {})
    timings.update({k: v for k, v in (diag.get("timings") or {}).items() if isinstance(v, (int, float))})
    settings = dict(settings)
    settings.setdefault("scale", inputs.scale)
    settings.setdefault("HSI size", "x".join(str(v) for v in inputs.pair.hsi.data.shape))
    settings.setdefault("MSI size", "x".join(str(v) for v in inputs.pair.msi.data.shape))
    return write_report(path, title, settings, result.kernel, result.srf,
                        initial_kernel=getattr(result, "initial_kernel", None),
                        initial_srf=getattr(result, "initial_srf", None),
                        hsi_wavelengths_nm=inputs.pair.hsi.wavelengths_nm, msi_names=inputs.msi_names,
                        timings=timings, device=diag.get("device") or "cpu (the estimation runs in NumPy)",
                        warnings=inputs.warnings, losses=_report_losses(diag),
                        hsi=inputs.pair.hsi.data, msi=inputs.pair.msi.data, scale=inputs.scale,
                        fused=getattr(result, "image", None), msi_gain=getattr(result, "msi_gain", None),
                        msi_wavelengths_nm=inputs.pair.msi.wavelengths_nm, hsi_valid=inputs.pair.hsi.valid,
                        msi_valid=inputs.pair.msi.valid)


def _report_losses(diag: dict) -> dict:
    """The loss curves of a run: the fusion's losses and the degradation estimate's residuals."""
    losses = dict(diag.get("losses") or {})
    if len(diag.get("estimation_residuals") or []) > 1:
        losses["degradation estimate (residual per round)"] = list(diag["estimation_residuals"])
    return losses
