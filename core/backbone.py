"""The pre-trained backbone that can refine the reconstruction's starting image.

Sensor-agnostic by construction: the network works on one HSI band at a time, with weights
shared across bands, so one model serves any number of HSI and MSI bands. For band ``c`` it
reads six maps on the HR grid, all divided by the band's mean level ``m_c``:

0. the classical estimate ``x_c`` (:func:`regression_estimate`, local guided regression, built
   exactly as the classical start of the fusion),
1. the bicubic up-sampled LR band ``up(y_c)``,
2. the up-sampled LR residual ``up(y_c - ((x*K)↓s)_c)``,
3. the MSI residual brought back to band ``c`` through the pseudo-inverse of the response,
   ``(P⁺(Z - P·x))_c``,
4. the MSI detail for band ``c``: ``g_c - up((g*K)↓s)_c`` with ``g = P⁺Z``,
5. a constant ``log2(scale) / 4``,

and returns a correction ``r_c``; the estimate is ``x_c + m_c·r_c``. The network's last layer was
zero at the start of training, so an untrained backbone equals the classical estimate.

Inference runs the ONNX export through onnxruntime (CUDA when available, else CPU); when
onnxruntime or the ONNX file is missing or unreadable it runs the torch weights (``.pt``); when
neither loads it warns and returns None (the fusion then uses the classical estimate).
"""
from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .initial_estimate import regression_estimate
from .operators import blur_downsample, upsample

LOG = logging.getLogger(__name__)
MODELS = Path(__file__).resolve().parents[1] / "models"
ONNX_FILE = MODELS / "backbone.onnx"
TORCH_FILE = MODELS / "backbone.pt"
IN_CHANNELS = 6
_CACHE: dict = {}


class BandNet(nn.Module):
    """A compact dilated residual CNN: ``(N, 6, H, W)`` band features -> ``(N, 1, H, W)`` correction."""

    def __init__(self, width: int = 24, dilations: tuple[int, ...] = (1, 2, 4, 8, 4, 2, 1)):
        super().__init__()
        self.head = nn.Conv2d(IN_CHANNELS, width, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in dilations)
        self.tail = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        self.act = nn.LeakyReLU(0.1)
        self.receptive_radius = 2 + sum(dilations)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h = self.act(self.head(f))
        for conv in self.body:
            h = h + self.act(conv(h))
        return self.tail(h)


def band_features(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor, scale: int,
                  x_base: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(bands, 6, H, W)`` normalized features, the per-band levels ``(bands, 1, 1)`` and ``x_base``."""
    height, width = z.shape[1:]
    if x_base is None:
        # the same start as the classical path, MSI noise estimate capped through the response
        x_base = regression_estimate(y, z, kernel, scale, srf=srf)
    up_y = upsample(y, scale, height, width)
    lr_res = upsample(y - blur_downsample(x_base, kernel, scale), scale, height, width)
    p = srf.to(y.dtype)
    gram = p @ p.T
    reg = 1e-3 * torch.trace(gram) / gram.shape[0]
    pinv = p.T @ torch.linalg.inv(gram + reg * torch.eye(gram.shape[0], dtype=p.dtype, device=p.device))  # (bands, m)
    msi_res = torch.einsum("cm,mhw->chw", pinv, z - torch.einsum("mc,chw->mhw", p, x_base))
    g = torch.einsum("cm,mhw->chw", pinv, z)
    detail = g - upsample(blur_downsample(g, kernel, scale), scale, height, width)
    level = up_y.abs().mean(dim=(1, 2), keepdim=True)
    level = level.clamp_min(1e-2 * float(level.mean()) + 1e-6)
    const = torch.full_like(up_y, math.log2(max(scale, 1)) / 4.0)
    f = torch.stack([x_base / level, up_y / level, lr_res / level, msi_res / level, detail / level, const], dim=1)
    return f, level, x_base


def load_torch_model(path: Path = TORCH_FILE) -> BandNet | None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = BandNet(**state.get("config", {}))
        net.load_state_dict(state["weights"])
        net.eval()
        return net
    except Exception as exc:  # missing, corrupt or mismatched file
        warnings.warn(f"backbone: torch weights {path} not usable ({exc.__class__.__name__}: {exc})", stacklevel=3)
        return None


def load_onnx_session(path: Path = ONNX_FILE):
    try:
        import onnxruntime as ort
    except Exception as exc:
        warnings.warn(f"backbone: onnxruntime not available ({exc}); using torch weights", stacklevel=3)
        return None
    try:
        opts = ort.SessionOptions()
        # Share torch's thread count and do not spin between calls: onnxruntime and torch take
        # turns, and spinning workers would steal the cores torch is using.
        opts.intra_op_num_threads = max(1, torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:
        warnings.warn(f"backbone: ONNX model {path} not usable ({exc.__class__.__name__}: {str(exc)[:200]}); "
                      "trying torch weights", stacklevel=3)
        return None


def _runner(onnx_path: Path, torch_path: Path):
    key = (str(onnx_path), str(torch_path))
    if key not in _CACHE:
        session = load_onnx_session(onnx_path)
        if session is not None:
            name = session.get_inputs()[0].name
            _CACHE[key] = ("onnx", lambda f: torch.from_numpy(session.run(None, {name: f.cpu().numpy()})[0]))
        else:
            net = load_torch_model(torch_path)
            if net is None:
                _CACHE[key] = None
            else:
                def run(f, net=net):
                    with torch.no_grad():
                        return net.to(f.device)(f.float())
                _CACHE[key] = ("torch", run)
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def backbone_estimate(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor,
                      scale: int, onnx_path: Path | None = None, torch_path: Path | None = None,
                      batch: int = 4) -> torch.Tensor | None:
    """HR estimate ``(bands, H, W)`` from normalized ``y`` ``(bands, h, w)`` and ``z`` ``(msi_bands, H, W)``
    with the estimated kernel and response (normalized units), or None when no model is usable."""
    runner = _runner(Path(onnx_path or ONNX_FILE), Path(torch_path or TORCH_FILE))
    if runner is None:
        warnings.warn("backbone: no usable model in models/; the classical initial estimate is used", stacklevel=2)
        return None
    kind, run = runner
    try:
        with torch.no_grad():
            f, level, x_base = band_features(y, z, kernel, srf, scale)
            out = torch.empty_like(x_base)
            for b0 in range(0, f.shape[0], batch):
                r = run(f[b0:b0 + batch].contiguous().float()).to(x_base.device, x_base.dtype)
                out[b0:b0 + batch] = x_base[b0:b0 + batch] + r[:, 0] * level[b0:b0 + batch]
        if not torch.isfinite(out).all():
            raise FloatingPointError("non-finite output")
        LOG.info("backbone estimate via %s", kind)
        return out
    except Exception as exc:
        warnings.warn(f"backbone: inference failed ({exc.__class__.__name__}: {exc}); classical estimate used",
                      stacklevel=2)
        return None


def export_onnx(net: BandNet, path: Path, opset: int = 17) -> None:
    """Export with dynamic batch (bands) and spatial axes."""
    net = net.eval()
    dummy = torch.zeros(2, IN_CHANNELS, 40, 48)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(net, dummy, path, opset)


def _export(net, dummy, path, opset):
    torch.onnx.export(net, (dummy,), str(path), input_names=["features"], output_names=["correction"],
                      dynamic_axes={"features": {0: "bands", 2: "height", 3: "width"},
                                    "correction": {0: "bands", 2: "height", 3: "width"}},
                      opset_version=opset, dynamo=False)
