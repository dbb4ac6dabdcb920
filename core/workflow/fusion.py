"""The fusion workflow: inputs checked and read, the core's fusion streamed into the output
GeoTIFF, the degradation JSON and the report written, all outputs committed together."""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from affine import Affine

from .. import io
from ..devices import resolve_device, working_memory_budget
from ..fusion import auto_tile_size, fuse, streaming_reach
from ..kernels import kernel_offset
from ..progress import Cancel, Progress, check_cancelled
from ..rendering import TileFarm
from ..results import FusionResult
from ..settings import FusionSettings
from ..windows import Window
from .feedback import Feedback, forward_warnings
from .inputs import Inputs, load_inputs
from .checks import check_fusion
from .outputs import (change_messages, cleaning_messages, kernel_messages, linearity_messages, refit_messages,
                      save_degradation, save_report, settings_table, start_messages)
from .requests import FusionRequest
from .specs import FUSION

#: runs keep a copy of fused images up to this size for the report (larger ones are read back from
#: the written file: decimated for the previews, by strips for the scores)
KEEP_IMAGE_BYTES = 256 << 20

#: working memory of one written tile: 512 px tiles for 100 bands at x8 (768, with the core's 1 GB
#: budget, wrote no faster and peaked 0.5-0.6 GB higher on a 4096² scene: docs/speed.md)
STREAMED_TILE_BUDGET = 640 << 20


@dataclass
class FusionOutcome:
    """What a fusion run produced: ``outputs`` keyed by parameter name (as QGIS returns them)."""

    outputs: dict
    result: FusionResult
    inputs: Inputs
    seconds: float


def _degradation_mtf_mismatch(request: FusionRequest, inputs: Inputs) -> list[str]:
    """A warning when DEGRADATION was estimated with another MSI_MTF than this run's: its kernel is
    relative to the MSI as restored then (it is only a starting point, refined on this MSI)."""
    then, now = inputs.degradation_msi_mtf, float(request.msi_mtf)
    if inputs.degradation is None or abs(then - now) < 1e-9:
        return []
    return [f"DEGRADATION was estimated with MSI_MTF={then:g}, this fusion uses MSI_MTF={now:g}: "
            "its kernel belongs to the other restoration of the MSI and is only a starting point here; give the "
            "same MSI_MTF to both tools to reuse it as estimated."]


def run_fusion(request: FusionRequest, feedback: Optional[Feedback] = None,
               settings: Optional[FusionSettings] = None, farm: Optional[TileFarm] = None) -> FusionOutcome:
    """Run a fusion request end to end. ``settings`` is the base the request's fields go into
    (benchmarks and ablations; the QGIS algorithm and the command line use the defaults); a
    ``farm`` computes the output's tiles elsewhere (core/tile_farm.py: on Dask workers)."""
    fb = feedback or Feedback()
    t0 = time.perf_counter()
    fb.progress(0.0, "Reading and checking the inputs")
    check_fusion(request)
    with forward_warnings(fb):
        inputs = load_inputs(request.hsi, request.msi, request.scale, request.srf, request.degradation,
                             request.msi_sensor, request.hsi_sensor, cancel=fb.is_canceled, msi2_path=request.msi2,
                             snap_offset=request.output_grid == "msi")
        for w in inputs.warnings + _degradation_mtf_mismatch(request, inputs):
            fb.warning(w)
        for m in inputs.messages:
            fb.info(m)
        fb.info(f"HSI {inputs.pair.hsi.data.shape}, MSI {inputs.pair.msi.data.shape}, scale {inputs.scale}")
        io.check_free_space({request.output: inputs.fused_bytes(), request.output_degradation: 100_000,
                             request.report: 2_000_000})
        cfg = request.settings(settings)
        on_msi_grid = request.output_grid == "msi" and inputs.msi_warp is not None
        with io.Staging(fb.is_canceled) as staging:
            t = time.perf_counter()
            core = fb.reporter(0.05, 0.9 if on_msi_grid else 0.95)
            fused_path = staging.path(request.output)
            if on_msi_grid:
                # made on the HSI-aligned grid in a temporary GeoTIFF beside the output, then warped
                aligned_path = io.files.temporary_path(os.path.splitext(request.output)[0] + ".tif")
                try:
                    result = fuse_to_file(inputs, cfg, aligned_path, core, core.cancelled, farm=farm)
                    fb.progress(0.9, "warping the fused image onto the MSI's grid")
                    _warp_to_msi_grid(inputs, aligned_path, fused_path, fb, cloud_optimized=bool(request.cog))
                finally:
                    io.remove_raster_quietly(aligned_path)
            else:
                result = fuse_to_file(inputs, cfg, fused_path, core, core.cancelled,
                                      cloud_optimized=bool(request.cog), farm=farm)
            fuse_s = time.perf_counter() - t
            d = result.diagnostics
            fb.info(f"Fusion done in {fuse_s:.1f} s on {d.device} (tiles of {d.tile_size} pixels, written "
                    f"window by window); {d.outer_iterations_run} outer iterations: {d.stop_reason}")
            for m in (cleaning_messages(result) + linearity_messages(result) + refit_messages(result)
                      + change_messages(result, applied=False) + start_messages(result)):
                fb.info(m)
            fb.info(f"Blur kernel {result.kernel.shape[0]} x {result.kernel.shape[0]} MSI pixels")
            fb.info(offset_message(inputs, result))
            for w in kernel_messages(result) + change_messages(result) + guard_messages(result):
                fb.warning(w)
            fb.progress(0.95, "Writing the outputs")
            if request.output_degradation:
                check_cancelled(fb.is_canceled)
                save_degradation(inputs, result, staging.path(request.output_degradation), request.msi_mtf)
            if request.report:
                check_cancelled(fb.is_canceled)
                save_report(inputs, result, staging.path(request.report), FUSION.display,
                            settings_table(FUSION, request, inputs),
                            {"read": inputs.read_seconds, "fusion (total)": fuse_s})
            staging.commit()
    fb.progress(1.0, "done")
    outputs = {"OUTPUT": request.output, "OUTPUT_DEGRADATION": request.output_degradation,
               "REPORT": request.report}
    return FusionOutcome(outputs, result, inputs, time.perf_counter() - t0)


def guard_messages(result) -> list[str]:
    """What the guard found, in plain words (core/guard.py)."""
    d = result.diagnostics
    if d.guard is None:
        return []
    out = [f"guard: {p}" for p in d.guard.problems()]
    if d.written != "fusion":
        out.append("guard: the output holds the bicubic-upsampled HSI, not a fusion: the fused image was no better "
                   "than it (see the report)")
    return out


def offset_message(inputs: Inputs, result) -> str:
    """The residual shift between the HSI's and the MSI's grids that the estimated kernel absorbs."""
    dy, dx = kernel_offset(result.kernel)
    t = inputs.pair.msi.transform
    return (f"remaining offset between the HSI and the MSI grids (absorbed by the estimated kernel): {dx:+.2f}, "
            f"{dy:+.2f} MSI pixels in x, y ({dx * abs(t.a):+.2f}, {-dy * abs(t.e):+.2f} in the CRS's units)")


def provenance_tags(inputs: Inputs, result, cfg: FusionSettings) -> dict:
    """How the fused image was made, as GeoTIFF metadata (the inputs, scale, warp, offset, degradation)."""
    from ... import __version__

    hsi, msi = inputs.hsi_file or inputs.pair.hsi.info, inputs.msi_file or inputs.pair.msi.info
    dy, dx = kernel_offset(result.kernel)
    tags = {"FUSION_SOFTWARE": f"hsi_blind_fusion {__version__}",
            "FUSION_HSI": str(hsi.source or hsi.path), "FUSION_MSI": str(msi.source or msi.path),
            "FUSION_SCALE": str(inputs.scale),
            "FUSION_MSI_WARP": "none" if inputs.msi_warp is None else
            f"{inputs.msi_warp.resampling} onto the HSI-aligned grid ({'; '.join(inputs.msi_warp.reasons)})",
            "FUSION_KERNEL_OFFSET_MSI_PX": f"{dx:.3f} {dy:.3f}",
            "FUSION_KERNEL_SIZE": str(result.kernel.shape[0]),
            "FUSION_ITERATIONS": f"{cfg.outer_iterations} x {cfg.inner_iterations}",
            "FUSION_STARTING_RESPONSE": inputs.srf_source,
            "FUSION_WRITTEN": result.diagnostics.written}
    cleaning = result.diagnostics.hsi_cleaning
    tags["FUSION_HSI_CLEANING"] = "off" if cleaning is None else (
        f"{cleaning.mode}: {'cleaned HSI' if cleaning.applied else 'HSI as it is'} ({cleaning.striped_bands} bands "
        f"striped, {cleaning.outliers_replaced} outlier values)")
    found = getattr(result.diagnostics.estimation, "msi_linearity", None)
    tags["FUSION_MSI_LINEARIZATION"] = "off" if found is None else (
        "MSI as it is" if not found.any_applied else "bands " + " ".join(
            f"{m + 1}:{g:.3f}" for m, (g, use) in enumerate(zip(found.exponents, found.applied)) if use) + " linearized")
    changes = getattr(result.diagnostics.estimation, "pair_changes", None)
    tags["FUSION_CHANGED_AREAS"] = "off" if changes is None else (
        f"{100 * changes.changed:.1f} % written as upsampled HSI (the images disagree there)" if changes.applied
        else "none")
    kernels = result.diagnostics.band_kernels
    tags["FUSION_CHROMATIC_BLUR"] = "one kernel for all bands" if kernels is None else (
        "own kernels for bands " + ", ".join(f"{a + 1}-{b}" for (a, b), p in zip(kernels.groups, kernels.params)
                                             if np.any(p != 0)))
    shares = result.diagnostics.band_detail
    tags["FUSION_BAND_DETAIL"] = "not tested" if shares is None else (
        "all bands take all of the MSI's detail" if min(shares) >= 0.995 else
        "share of the MSI's detail per band: " + " ".join(f"{s:.2f}" for s in shares))
    if inputs.kept_bands is not None and not inputs.kept_bands.all():
        tags["FUSION_BANDS_LEFT_OUT"] = " ".join(str(int(i) + 1) for i in np.flatnonzero(~inputs.kept_bands))
    return tags


def _warp_to_msi_grid(inputs: Inputs, aligned_path: str, path: str, fb: Feedback,
                      cloud_optimized: bool = False) -> None:
    """The fused image, made on the HSI-aligned grid, warped onto the MSI's own grid and CRS over
    the fused area."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import from_bounds

    msi = inputs.msi_file
    t = inputs.pair.msi.transform
    height, width = inputs.pair.msi.data.shape[1:]
    bounds = transform_bounds(inputs.msi_warp.crs, msi.crs, t.c, t.f + t.e * height, t.c + t.a * width, t.f,
                              densify_pts=21)
    win = from_bounds(*bounds, transform=msi.transform)
    box = Window.from_bounds(math.floor(win.row_off), math.ceil(win.row_off + win.height), math.floor(win.col_off),
                             math.ceil(win.col_off + win.width)).clip(msi.height, msi.width)
    grid = msi.transform * Affine.translation(box.col, box.row)
    io.warp_raster(aligned_path, path, msi.crs, grid, box.width, box.height,
                   io.sharp_resampling(inputs.msi_warp.crs, msi.crs), fb.is_canceled, cloud_optimized=cloud_optimized)
    fb.info(f"the fused image is warped onto the MSI's grid ({box.width} x {box.height} pixels of the MSI)")


def output_tile_size(inputs: Inputs, cfg: FusionSettings) -> int:
    """The tile side for writing: the setting, else the core's automatic tile rounded down to a
    multiple of the GeoTIFF block (256) and of the scale, so written windows fill whole blocks."""
    if cfg.tile_size:
        return cfg.tile_size
    s = inputs.scale
    budget = working_memory_budget(resolve_device(cfg.device), cap_bytes=STREAMED_TILE_BUDGET)
    tile = auto_tile_size(inputs.pair.hsi.data.shape[0], streaming_reach(s), s, budget)
    step = 256 * s // math.gcd(256, s)
    return max(step, tile // step * step) if tile >= step else tile


def fuse_to_file(inputs: Inputs, cfg: FusionSettings, path: str, progress: Optional[Progress] = None,
                 cancel: Optional[Cancel] = None, keep_image_bytes: int = KEEP_IMAGE_BYTES,
                 cloud_optimized: bool = False, farm: Optional[TileFarm] = None) -> FusionResult:
    """Fuse the loaded pair into the raster ``path`` (GeoTIFF or ENVI by its extension; a COG with
    ``cloud_optimized``), window by window as the tiles come (the HR cube is never held in memory;
    the file is deleted on error or cancel). ``result.image`` holds a copy only when the cube is at
    most ``keep_image_bytes``, else None (the report then reads the written file back). A ``farm``
    computes the tiles elsewhere (core/tile_farm.py)."""
    from dataclasses import replace

    pair = inputs.pair
    hv, mv = inputs.masks()
    cfg = replace(cfg, tile_size=output_tile_size(inputs, cfg))
    bands, (height, width) = pair.hsi.data.shape[0], pair.msi.data.shape[1:]
    keep = (np.full((bands, height, width), np.nan, dtype=np.float32)
            if bands * height * width * 4 <= keep_image_bytes else None)
    hsi = inputs.hsi_file or pair.hsi.info
    left_out = None if inputs.kept_bands is None or inputs.kept_bands.all() else ~inputs.kept_bands
    flags = hsi.bad_bands if left_out is None else (left_out if hsi.bad_bands is None else hsi.bad_bands | left_out)
    writer = io.WindowWriter(path, inputs.file_bands, height, width, pair.msi.transform, pair.msi.crs,
                             wavelengths_nm=hsi.wavelengths_nm, descriptions=hsi.descriptions, fwhm_nm=hsi.fwhm_nm,
                             bad_bands=flags, valid=inputs.valid_hr(), cancel=cancel, cloud_optimized=cloud_optimized)

    def put(window: Window, block: np.ndarray) -> None:
        writer(window, inputs.to_file_bands(block), owned=keep is None)     # tiles are not reused
        if keep is not None:
            keep[(slice(None),) + window.slices()] = block

    try:
        result = fuse(pair.hsi.data, pair.msi.data, scale=inputs.scale, srf=inputs.srf, progress=progress,
                      cancel=cancel, degradation=inputs.degradation, hsi_valid=hv, msi_valid=mv,
                      hsi_wavelengths=inputs.hsi_wavelengths, settings=cfg, writer=put, farm=farm)
        writer.metadata["extra_tags"] = provenance_tags(inputs, result, cfg)
        t = time.perf_counter()
        writer.close()
        result.diagnostics.timings["write"] = result.diagnostics.timings.get("write", 0.0) + time.perf_counter() - t
        result.diagnostics.written_to = path
    except BaseException:
        writer.abort()
        raise
    if keep is not None:
        result.image = keep
    return result
