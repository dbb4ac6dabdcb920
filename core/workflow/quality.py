"""The quality workflow: metrics of a fused image against a reference, and without a reference
against the HSI and MSI it was fused from (QNR, its distortions, the consistency residuals)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import io, metrics
from ..errors import InvalidInputError
from ..progress import check_cancelled
from .checks import PairCheck, QualityCheck, check_quality
from .feedback import Feedback, forward_warnings
from .requests import QualityRequest
from .specs import QUALITY


@dataclass
class QualityOutcome:
    outputs: dict          # every metric (None where not computed) and OUTPUT_CSV
    metrics: dict


def run_quality(request: QualityRequest, feedback: Optional[Feedback] = None) -> QualityOutcome:
    fb = feedback or Feedback()
    fb.progress(0.0, "Checking the inputs")
    checked = check_quality(request)
    values = {name: None for name, _ in QUALITY.numbers}
    with forward_warnings(fb):
        scale = int(request.scale or 0) or (checked.pair.grid.scale if checked.pair else 0)
        if checked.reference is not None:
            fb.progress(0.05, "Metrics against the reference")
            values.update(reference_metrics(request, checked, scale, fb))
        if checked.pair is not None:
            fb.progress(0.3, "Quality without a reference")
            values.update(no_reference_metrics(request.fused, checked.pair, request.degradation, fb))
        check_cancelled(fb.is_canceled)
        for k, v in values.items():
            if v is not None or (k == "ERGAS" and checked.reference is not None):
                fb.info(f"{k}: {'n/a' if v is None else f'{v:.6g}'}")
        if request.output_csv:
            lines = ["metric,value"] + [f"{k},{'' if v is None else repr(float(v))}" for k, v in values.items()]
            with io.Staging(fb.is_canceled) as staging:
                io.write_text(staging.path(request.output_csv), "\n".join(lines) + "\n")
                staging.commit()
    fb.progress(1.0, "done")
    return QualityOutcome({**values, "OUTPUT_CSV": request.output_csv}, values)


def reference_metrics(request: QualityRequest, checked: QualityCheck, scale: int, fb: Feedback) -> dict:
    """RMSE, PSNR, SAM, SSIM and ERGAS over the pixels valid in both rasters."""
    ri, fi = checked.reference, checked.fused
    if ri.georeferenced and fi.georeferenced and not ri.transform.almost_equals(fi.transform):
        fb.warning("the reference and fused rasters have different geotransforms; compared pixel by pixel")
    ref = io.read_raster(request.reference, info=ri)
    fus = io.read_raster(request.fused, info=fi)
    valid = ref.valid & fus.valid
    if not valid.any():
        raise InvalidInputError("no pixel is valid in both the reference and the fused image")
    if not valid.all():
        fb.info(f"{int((~valid).sum())} nodata pixels left out")
    rv, fv = ref.data[:, valid][:, None, :], fus.data[:, valid][:, None, :]
    try:
        ssim = metrics.ssim(ref.data, fus.data, valid=valid)
    except ValueError as exc:
        fb.warning(f"SSIM not computed: {exc}")
        ssim = None
    return {"RMSE": metrics.rmse(rv, fv), "PSNR": metrics.psnr(rv, fv), "SAM": metrics.sam(rv, fv), "SSIM": ssim,
            "ERGAS": metrics.ergas(rv, fv, scale) if scale > 0 else None}


def no_reference_metrics(fused_path: str, pair: PairCheck, degradation_path: Optional[str], fb: Feedback) -> dict:
    """QNR, D_lambda, D_s and the consistency residuals of the fused raster with the HSI and MSI.

    The blur kernel and the response come from ``degradation_path`` (the fusion's JSON) or are
    estimated from the pair (the same blind estimate the fusion starts from)."""
    from ..consistency import consistency_residuals, mean_relative_residuals
    from ..qnr import qnr

    data = io.read_pair(pair.hsi, pair.msi, pair.grid, fb.is_canceled, fill_invalid=False)
    hsi, msi, s = data.hsi, data.msi, data.scale
    if degradation_path:
        spec = io.read_degradation(degradation_path, scale=s, hsi_bands=pair.hsi.count, msi_bands=pair.msi.count)
        from ..kernels import kernel_from_array
        from ..responses import normalize_rows

        kernel, srf = kernel_from_array(spec.kernel), normalize_rows(spec.srf)
        gain = np.ones(srf.shape[0]) if spec.msi_gain is None else np.asarray(spec.msi_gain, dtype=np.float64)
        if spec.msi_gain is None:
            fb.warning("the degradation file has no msi_gain: the MSI residual assumes the MSI and HSI share units")
        fb.info(f"kernel and response from {degradation_path}")
    else:
        from ..estimation import estimate_degradation

        fb.progress(0.35, "Estimating the kernel and the response")
        deg = estimate_degradation(hsi.data, msi.data, scale=s, hsi_valid=hsi.valid, msi_valid=msi.valid,
                                   hsi_wavelengths=hsi.wavelengths_nm, cancel=fb.is_canceled)
        kernel, srf, gain = deg.kernel, deg.srf, deg.msi_gain
        fb.info(f"kernel ({kernel.shape[0]}x{kernel.shape[1]}) and response estimated from the HSI and MSI "
                "(give DEGRADATION to use the fusion's own)")
    rows = io.RasterRows(fused_path)
    fb.progress(0.6, "QNR")
    q = qnr(rows, hsi.data, msi.data, s, kernel, hsi.valid, msi.valid, cancel=fb.is_canceled)
    fb.info(f"QNR on {q.blocks} blocks of {q.block_hr}x{q.block_hr} fused pixels ({q.block_lr}x{q.block_lr} HSI "
            "pixels)")
    fb.progress(0.85, "Consistency residuals")
    res = consistency_residuals(hsi.data, msi.data, kernel, srf, s, gain, fused=rows, hsi_valid=hsi.valid,
                                msi_valid=msi.valid)
    return {**q.as_dict(), **mean_relative_residuals(res)}
