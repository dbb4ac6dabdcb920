"""Writing a run's side outputs: the degradation JSON and the HTML report."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import io
from ..report import write_report
from .inputs import Inputs
from .specs import ToolSpec

GEOTIFF = (".tif", ".tiff")
RASTER = io.RASTER_EXTENSIONS
JSON = (".json",)
HTML = (".html", ".htm")
CSV = (".csv", ".txt")


def save_degradation(inputs: Inputs, result, path: str) -> str:
    """The degradation JSON of a fusion or an estimation (with the MSI gains)."""
    extra = {}
    if getattr(result, "msi_gain", None) is not None:
        extra["msi_gain"] = [float(g) for g in np.asarray(result.msi_gain, dtype=np.float64).ravel()]
    return io.write_degradation(path, result.scale, result.kernel, result.srf, inputs.hsi_wavelengths,
                                inputs.pair.msi.wavelengths_nm, extra)


def settings_table(tool: ToolSpec, request, inputs: Inputs) -> dict:
    """The report's settings: every input parameter of the run, and where the response started."""
    table: dict = {}
    for p in tool.parameters:
        if p.is_output:
            continue
        value = getattr(request, p.key)
        if p.name == "TILE_SIZE" and not value:
            value = "auto"
        table[p.name] = "(none)" if value is None else value
        if p.name == "SRF":
            table["starting response"] = inputs.srf_source
    return table


def save_report(inputs: Inputs, result, path: str, title: str, settings: dict,
                extra_timings: Optional[dict] = None) -> str:
    """The HTML report of a fusion (``result`` a FusionResult) or an estimation (a Degradation).

    A fused image not kept in memory is read back from the written raster: decimated for the
    previews (through its overviews), by strips for QNR and the residuals."""
    diag = result.diagnostics
    fused = getattr(result, "image", None)
    written = getattr(diag, "written_to", None)
    if fused is None and written:
        fused = io.RasterRows(written)
    timings = dict(extra_timings or {})
    timings.update({k: v for k, v in getattr(diag, "timings", {}).items() if isinstance(v, (int, float))})
    settings = dict(settings)
    settings.setdefault("scale", inputs.scale)
    settings.setdefault("HSI size", "x".join(str(v) for v in inputs.pair.hsi.data.shape))
    settings.setdefault("MSI size", "x".join(str(v) for v in inputs.pair.msi.data.shape))
    losses = dict(getattr(diag, "losses", {}) or {})
    estimation = getattr(diag, "estimation", diag)
    if len(getattr(estimation, "residuals", []) or []) > 1:
        losses["degradation estimate (residual per round)"] = list(estimation.residuals)
    device = getattr(diag, "device", None) or "cpu (the estimation runs in NumPy)"
    return write_report(path, title, settings, result.kernel, result.srf,
                        initial_kernel=result.initial_kernel, initial_srf=result.initial_srf,
                        hsi_wavelengths_nm=inputs.hsi_wavelengths, msi_names=inputs.msi_names,
                        timings=timings, device=device, warnings=inputs.warnings, losses=losses,
                        hsi=inputs.pair.hsi.data, msi=inputs.pair.msi.data, scale=inputs.scale,
                        fused=fused, msi_gain=result.msi_gain,
                        msi_wavelengths_nm=inputs.pair.msi.wavelengths_nm, hsi_valid=inputs.pair.hsi.valid,
                        msi_valid=inputs.pair.msi.valid)
