"""The estimation workflow: the blind kernel and response of a pair, as JSON (and a report)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from .. import io
from ..estimation import estimate_degradation
from ..progress import check_cancelled
from ..results import Degradation
from .feedback import Feedback, forward_warnings
from .inputs import Inputs, load_inputs
from .checks import check_estimation
from .outputs import (change_messages, kernel_messages, linearity_messages, refit_messages, save_degradation,
                      save_report, settings_table)
from .requests import EstimationRequest
from .specs import ESTIMATION


@dataclass
class EstimationOutcome:
    outputs: dict
    degradation: Degradation
    inputs: Inputs
    seconds: float


def run_estimation(request: EstimationRequest, feedback: Optional[Feedback] = None) -> EstimationOutcome:
    fb = feedback or Feedback()
    t0 = time.perf_counter()
    fb.progress(0.0, "Reading and checking the inputs")
    check_estimation(request)
    with forward_warnings(fb):
        inputs = load_inputs(request.hsi, request.msi, request.scale, request.srf, None, request.msi_sensor,
                             request.hsi_sensor, cancel=fb.is_canceled)
        for w in inputs.warnings:
            fb.warning(w)
        for m in inputs.messages:
            fb.info(m)
        io.check_free_space({request.output: 100_000, request.report: 2_000_000})
        core = fb.reporter(0.1, 0.9)
        t = time.perf_counter()
        hv, mv = inputs.masks()
        deg = estimate_degradation(inputs.pair.hsi.data, inputs.pair.msi.data, scale=inputs.scale, srf=inputs.srf,
                                   device=request.device, seed=int(request.seed), progress=core,
                                   cancel=core.cancelled, hsi_valid=hv, msi_valid=mv,
                                   kernel_size=int(request.kernel_size) or None, msi_mtf=float(request.msi_mtf),
                                   msi_denoising=float(request.msi_denoising),
                                   msi_linearization=request.msi_linearization,
                                   changed_areas=request.changed_areas)
        est_s = time.perf_counter() - t
        fb.info(f"Kernel support {deg.kernel.shape[0]} x {deg.kernel.shape[0]} MSI pixels "
                f"({100 * deg.diagnostics.kernel_border_mass:.2f} % of its mass on its border)")
        for m in linearity_messages(deg) + refit_messages(deg) + change_messages(deg, applied=False):
            fb.info(m)
        for w in kernel_messages(deg) + change_messages(deg):
            fb.warning(w)
        fb.progress(0.9, "Writing the outputs")
        with io.Staging(fb.is_canceled) as staging:
            check_cancelled(fb.is_canceled)
            save_degradation(inputs, deg, staging.path(request.output), request.msi_mtf)
            if request.report:
                check_cancelled(fb.is_canceled)
                save_report(inputs, deg, staging.path(request.report), "Estimated sensor degradation",
                            settings_table(ESTIMATION, request, inputs),
                            {"read": inputs.read_seconds, "estimation (total)": est_s})
            staging.commit()
    fb.progress(1.0, "done")
    return EstimationOutcome({"OUTPUT": request.output, "REPORT": request.report}, deg, inputs,
                             time.perf_counter() - t0)
