"""The file-level workflows, one per tool, shared by the QGIS algorithms and the command line.

A front end collects parameter values (:mod:`.specs` declares them), builds a request
(:mod:`.requests`) and calls ``run_*`` with a :class:`~.feedback.Feedback`; the workflow checks
the outputs and the free space, reads the inputs (:mod:`.inputs`), applies the sensor presets,
calls the core, writes the outputs through one staging (committed together, deleted on error or
cancel) and returns the outputs keyed by parameter name.

Names are imported on first use (the specs and requests must load without torch).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "check_request": ".checks",
    "BatchOutcome": ".batch", "run_batch": ".batch",
    "EstimationOutcome": ".estimation", "run_estimation": ".estimation",
    "Feedback": ".feedback", "forward_warnings": ".feedback",
    "FusionOutcome": ".fusion", "fuse_to_file": ".fusion", "run_fusion": ".fusion",
    "Inputs": ".inputs", "load_inputs": ".inputs",
    "QualityOutcome": ".quality", "run_quality": ".quality",
    "BatchRequest": ".requests", "EstimationRequest": ".requests", "FusionRequest": ".requests", "QualityRequest": ".requests",
    "SimulationRequest": ".requests",
    "SimulationOutcome": ".simulation", "run_simulation": ".simulation",
    "BATCH": ".specs", "ESTIMATION": ".specs", "FUSION": ".specs", "QUALITY": ".specs", "SIMULATION": ".specs", "TOOLS": ".specs",
    "Param": ".specs", "ToolSpec": ".specs",
}

__all__ = [*_LAZY, "request_type", "runner"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def request_type(tool_id: str):
    """The request class of a tool (torch-free: the QGIS algorithms check requests without torch)."""
    from .requests import EstimationRequest, FusionRequest, QualityRequest, SimulationRequest

    return {"blindfusion": FusionRequest, "estimatedegradation": EstimationRequest,
            "simulateobservations": SimulationRequest, "fusionquality": QualityRequest}[tool_id]


def runner(tool_id: str):
    """``(request type, run function)`` of a tool (imported on call: they need torch)."""
    from .batch import run_batch
    from .estimation import run_estimation
    from .fusion import run_fusion
    from .quality import run_quality
    from .requests import BatchRequest, EstimationRequest, FusionRequest, QualityRequest, SimulationRequest
    from .simulation import run_simulation

    return {"blindfusion": (FusionRequest, run_fusion), "estimatedegradation": (EstimationRequest, run_estimation),
            "simulateobservations": (SimulationRequest, run_simulation),
            "fusionquality": (QualityRequest, run_quality), "batchfusion": (BatchRequest, run_batch)}[tool_id]
