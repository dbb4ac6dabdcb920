"""The fusion workflow: inputs checked and read, the core's fusion streamed into the output
GeoTIFF, the degradation JSON and the report written, all outputs committed together."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import io
from ..devices import resolve_device, working_memory_budget
from ..fusion import auto_tile_size, fuse, streaming_reach
from ..progress import Cancel, Progress, check_cancelled
from ..rendering import TileFarm
from ..results import FusionResult
from ..settings import FusionSettings
from ..windows import Window
from .feedback import Feedback, forward_warnings
from .inputs import Inputs, load_inputs
from .outputs import GEOTIFF, HTML, JSON, save_degradation, save_report, settings_table
from .requests import FusionRequest
from .specs import FUSION

#: streaming runs keep a copy of fused images up to this size for the report (previews, residuals)
KEEP_IMAGE_BYTES = 256 << 20


@dataclass
class FusionOutcome:
    """What a fusion run produced: ``outputs`` keyed by parameter name (as QGIS returns them)."""

    outputs: dict
    result: FusionResult
    inputs: Inputs
    seconds: float


def run_fusion(request: FusionRequest, feedback: Optional[Feedback] = None,
               settings: Optional[FusionSettings] = None, farm: Optional[TileFarm] = None) -> FusionOutcome:
    """Run a fusion request end to end. ``settings`` is the base the request's fields go into
    (benchmarks and ablations; the QGIS algorithm and the command line use the defaults); a
    ``farm`` computes the output's tiles elsewhere (core/tile_farm.py: on Dask workers)."""
    fb = feedback or Feedback()
    t0 = time.perf_counter()
    fb.progress(0.0, "Reading and checking the inputs")
    io.check_outputs([(request.output, GEOTIFF, "output OUTPUT"),
                      (request.output_degradation, JSON, "output OUTPUT_DEGRADATION"),
                      (request.report, HTML, "output REPORT")],
                     (request.hsi, request.msi, request.srf, request.degradation))
    with forward_warnings(fb):
        inputs = load_inputs(request.hsi, request.msi, request.scale, request.srf, request.degradation,
                             request.msi_sensor, request.hsi_sensor, cancel=fb.is_canceled)
        for w in inputs.warnings:
            fb.warning(w)
        for m in inputs.messages:
            fb.info(m)
        fb.info(f"HSI {inputs.pair.hsi.data.shape}, MSI {inputs.pair.msi.data.shape}, scale {inputs.scale}")
        io.check_free_space({request.output: inputs.fused_bytes(), request.output_degradation: 100_000,
                             request.report: 2_000_000})
        cfg = request.settings(settings)
        with io.Staging(fb.is_canceled) as staging:
            t = time.perf_counter()
            core = fb.reporter(0.05, 0.95)
            result = fuse_to_file(inputs, cfg, staging.path(request.output), core, core.cancelled, farm=farm)
            fuse_s = time.perf_counter() - t
            d = result.diagnostics
            fb.info(f"Fusion done in {fuse_s:.1f} s on {d.device} (tiles of {d.tile_size} pixels, written "
                    "window by window)")
            fb.progress(0.95, "Writing the outputs")
            if request.output_degradation:
                check_cancelled(fb.is_canceled)
                save_degradation(inputs, result, staging.path(request.output_degradation))
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


def output_tile_size(inputs: Inputs, cfg: FusionSettings) -> int:
    """The tile side for writing: the setting, else the core's automatic tile rounded down to a
    multiple of the GeoTIFF block (256) and of the scale, so written windows fill whole blocks."""
    if cfg.tile_size:
        return cfg.tile_size
    s = inputs.scale
    budget = working_memory_budget(resolve_device(cfg.device))
    tile = auto_tile_size(inputs.pair.hsi.data.shape[0], streaming_reach(s), s, budget)
    step = 256 * s // math.gcd(256, s)
    return max(step, tile // step * step) if tile >= step else tile


def fuse_to_file(inputs: Inputs, cfg: FusionSettings, path: str, progress: Optional[Progress] = None,
                 cancel: Optional[Cancel] = None, keep_image_bytes: int = KEEP_IMAGE_BYTES,
                 farm: Optional[TileFarm] = None) -> FusionResult:
    """Fuse the loaded pair into the GeoTIFF ``path``, window by window as the tiles come (the HR
    cube is never held in memory; the file is deleted on error or cancel). ``result.image`` holds a
    copy only when the cube is at most ``keep_image_bytes`` (for the report), else None."""
    from dataclasses import replace

    pair = inputs.pair
    hv, mv = inputs.masks()
    cfg = replace(cfg, tile_size=output_tile_size(inputs, cfg))
    bands, (height, width) = pair.hsi.data.shape[0], pair.msi.data.shape[1:]
    keep = (np.full((bands, height, width), np.nan, dtype=np.float32)
            if bands * height * width * 4 <= keep_image_bytes else None)
    hsi = pair.hsi
    writer = io.WindowWriter(path, bands, height, width, pair.msi.transform, pair.msi.crs,
                             wavelengths_nm=hsi.wavelengths_nm, descriptions=hsi.descriptions,
                             fwhm_nm=hsi.info.fwhm_nm, bad_bands=hsi.info.bad_bands, valid=inputs.valid_hr(),
                             cancel=cancel)

    def put(window: Window, block: np.ndarray) -> None:
        writer(window, block)
        if keep is not None:
            keep[(slice(None),) + window.slices()] = block

    try:
        result = fuse(pair.hsi.data, pair.msi.data, scale=inputs.scale, srf=inputs.srf, progress=progress,
                      cancel=cancel, degradation=inputs.degradation, hsi_valid=hv, msi_valid=mv,
                      hsi_wavelengths=inputs.hsi_wavelengths, settings=cfg, writer=put, farm=farm)
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
