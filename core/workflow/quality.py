"""The quality workflow: metrics of a fused image against a reference."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import io, metrics
from ..errors import InvalidInputError
from .feedback import Feedback, forward_warnings
from .inputs import check_bands_match
from .outputs import CSV
from .requests import QualityRequest
from .specs import QUALITY_METRICS


@dataclass
class QualityOutcome:
    outputs: dict          # the metrics (None where not computed) and OUTPUT_CSV
    metrics: dict


def run_quality(request: QualityRequest, feedback: Optional[Feedback] = None) -> QualityOutcome:
    fb = feedback or Feedback()
    io.check_outputs([(request.output_csv, CSV, "output OUTPUT_CSV")], (request.reference, request.fused))
    with forward_warnings(fb):
        ri, fi = io.raster_info(request.reference), io.raster_info(request.fused)
        check_bands_match(ri, fi, "reference", "fused image")
        if ri.georeferenced and fi.georeferenced and not ri.transform.almost_equals(fi.transform):
            fb.warning("the reference and fused rasters have different geotransforms; compared pixel by pixel")
        ref = io.read_raster(request.reference, info=ri)
        fus = io.read_raster(request.fused, info=fi)
        valid = ref.valid & fus.valid
        if not valid.any():
            raise InvalidInputError("no pixel is valid in both rasters")
        r, f = ref.data, fus.data
        if not valid.all():
            fb.info(f"{int((~valid).sum())} nodata pixels left out")
            rows, cols = np.where(valid)
            box = (slice(None), slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
            r, f = r[box].copy(), f[box].copy()
            v = valid[box[1:]]
            f[:, ~v] = r[:, ~v]  # holes inside the box count as perfect (noted in the help)
            rv, fv = ref.data[:, valid][:, None, :], fus.data[:, valid][:, None, :]
        else:
            rv, fv = r, f
        scale = int(request.scale or 0)
        values = {
            "RMSE": metrics.rmse(rv, fv),
            "PSNR": metrics.psnr(rv, fv),
            "SAM": metrics.sam(rv, fv),
            "SSIM": metrics.ssim(r, f),
            "ERGAS": metrics.ergas(rv, fv, scale) if scale > 0 else None,
        }
        assert tuple(values) == tuple(name for name, _ in QUALITY_METRICS)
        for k, v in values.items():
            fb.info(f"{k}: {'n/a' if v is None else f'{v:.6g}'}")
        if request.output_csv:
            lines = ["metric,value"] + [f"{k},{'' if v is None else repr(float(v))}" for k, v in values.items()]
            with io.Staging(fb.is_canceled) as staging:
                io.write_text(staging.path(request.output_csv), "\n".join(lines) + "\n")
                staging.commit()
    return QualityOutcome({**values, "OUTPUT_CSV": request.output_csv}, values)
