"""Blind fusion: estimate K and P, build a starting HR image, then refine image and degradation
by alternating optimization (the method of Nie, Zhang, Wei et al.), with ``separate`` and
``joint`` modes for ablation.

The reconstruction network is fitted on random crops (plus a margin covering the kernel and the
network's receptive field), so one step costs the same for a 512² lab cube or a large scene; the
final image is one tiled forward pass over the whole grid.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .degradation_layers import KernelLayer, ResponseLayer
from .devices import resolve_device, seed_everything
from .errors import Cancelled, InvalidInputError
from .estimation import Degradation, NormalizedPair, estimate_normalized, normalize_pair
from .backbone import backbone_estimate
from .initial_estimate import regression_estimate
from .meta_init import load_meta_weights
from .operators import blur_downsample, project
from .reconstruction_net import ReconstructionNet, guidance_features, spectral_subspace
from .responses import normalize_rows

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
MODES = ("alternating", "separate", "joint")


@dataclass
class FusionResult:
    """The fused image ``(bands, H, W)`` in the HSI's units, and the degradation it was fused with."""

    image: np.ndarray
    kernel: np.ndarray
    srf: np.ndarray
    scale: int
    msi_gain: np.ndarray
    initial_kernel: np.ndarray
    initial_srf: np.ndarray
    diagnostics: dict = field(default_factory=dict)


@dataclass
class FusionSettings:
    outer_iterations: int = 40
    inner_iterations: int = 10
    mode: str = "alternating"
    lr_degradation: float = 1e-4
    lr_reconstruction: float = 1e-3
    subspace_dims: int = 10
    width: int = 32
    depth: int = 3
    crop_size: int | None = None
    initial: str = "auto"        # "auto" (backbone when its model loads, else classical), "backbone", "classical"
    meta_init: bool = True       # start the network from meta-learned weights when models/ has them


def fuse(hsi: np.ndarray, msi: np.ndarray, scale: int | None = None, srf: np.ndarray | None = None,
         outer_iterations: int = 40, inner_iterations: int = 10, mode: str = "alternating",
         device: str = "auto", seed: int = 0, progress: Progress | None = None,
         cancel: Cancel | None = None, degradation: Degradation | None = None,
         hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None,
         kernel_size: int | None = None, hsi_wavelengths: np.ndarray | None = None,
         settings: FusionSettings | None = None) -> FusionResult:
    """Fuse ``hsi`` ``(bands, h, w)`` with ``msi`` ``(msi_bands, H, W)`` into ``(bands, H, W)``.

    ``srf`` is a starting response (rows = MSI bands); ``degradation`` a starting K and P (e.g.
    from :func:`estimate_degradation`). ``outer_iterations=0`` returns the starting estimate.
    ``progress(fraction, message)`` is called regularly; ``cancel()`` returning True raises
    :class:`Cancelled` within about a second. Masks mark valid pixels (False = nodata).
    """
    cfg = settings or FusionSettings()
    cfg.outer_iterations, cfg.inner_iterations, cfg.mode = int(outer_iterations), int(inner_iterations), mode
    if mode not in MODES:
        raise InvalidInputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if cfg.outer_iterations < 0 or cfg.inner_iterations < 0:
        raise InvalidInputError("iteration counts must be zero or positive")
    report = _Reporter(progress, cancel)
    timings: dict[str, float] = {}
    dev = resolve_device(device)
    seed_everything(seed)

    t = time.perf_counter()
    pair = normalize_pair(hsi, msi, scale, hsi_valid, msi_valid)
    timings["validate"] = time.perf_counter() - t

    t = time.perf_counter()
    report(0.0, "estimating the blur kernel and spectral response")
    start_k = degradation.kernel if degradation is not None else None
    start_p = degradation.srf if degradation is not None else srf
    if degradation is not None and degradation.scale != pair.scale:
        raise InvalidInputError(
            f"the starting degradation was estimated for scale {degradation.scale}, these images have scale {pair.scale}")
    deg = estimate_normalized(pair, srf=start_p, kernel=start_k, kernel_size=kernel_size, seed=seed,
                              progress=report.sub(0.0, 0.2), cancel=report.cancel,
                              hsi_wavelengths=hsi_wavelengths)
    timings["degradation_estimate"] = time.perf_counter() - t

    t = time.perf_counter()
    report(0.2, "building the initial estimate")
    y = torch.from_numpy(pair.y).to(dev)
    z = torch.from_numpy(pair.z).to(dev)
    hv = torch.from_numpy(pair.hsi_valid).to(dev)
    mv = torch.from_numpy(pair.msi_valid).to(dev)
    kernel0 = torch.as_tensor(deg.kernel, dtype=torch.float32, device=dev)
    srf0 = torch.as_tensor(deg.diagnostics["srf_normalized_units"], dtype=torch.float32, device=dev)
    with torch.no_grad():
        x_base, initial_method = _initial_estimate(cfg.initial, y, z, kernel0, srf0, pair.scale, hv)
    timings["initial_estimate"] = time.perf_counter() - t

    t = time.perf_counter()
    fitter = _Fitter(cfg, pair, y, z, hv, mv, x_base, deg, dev, seed, report)
    x, kernel, srf_n, losses = fitter.run()
    timings["fusion"] = time.perf_counter() - t
    report(1.0, "done")

    image = x.detach().cpu().numpy() * pair.y_unit
    if float(np.nanmin(pair.y)) >= 0:
        np.maximum(image, 0, out=image)
    image = image.astype(np.float32)
    image[:, ~pair.msi_valid] = np.nan
    lr_invalid = ~pair.hsi_valid
    if lr_invalid.any():
        up = np.kron(lr_invalid, np.ones((pair.scale, pair.scale), dtype=bool))
        image[:, up] = np.nan
    return FusionResult(
        image=image, kernel=kernel, srf=normalize_rows(srf_n), scale=pair.scale,
        msi_gain=srf_n.sum(axis=1) * pair.z_unit / pair.y_unit,
        initial_kernel=deg.initial_kernel, initial_srf=deg.initial_srf,
        diagnostics={"losses": losses, "timings": timings, "device": str(dev), "mode": mode,
                     "outer_iterations": cfg.outer_iterations, "inner_iterations": cfg.inner_iterations,
                     "initial_estimate": initial_method, "meta_initialized": fitter.meta_initialized,
                     "seed": seed, "estimated_kernel": deg.kernel, "estimated_srf": deg.srf,
                     "estimation_residuals": deg.diagnostics.get("estimation_residuals", [])})


def _initial_estimate(method: str, y, z, kernel, srf, scale: int, hsi_valid) -> tuple[torch.Tensor, str]:
    """The starting HR image: the pre-trained backbone when asked for (or "auto") and available."""
    if method not in ("auto", "backbone", "classical"):
        raise InvalidInputError(f"unknown initial estimate {method!r}; use auto, backbone or classical")
    if method != "classical":
        x = backbone_estimate(y, z, kernel, srf, scale)
        if x is not None:
            return x, "backbone"
    return regression_estimate(y, z, kernel, scale, hsi_valid=hsi_valid), "classical"


def _padded_basis(basis: torch.Tensor, dims: int) -> torch.Tensor:
    """Zero columns up to ``dims`` so the network has one shape for any band count."""
    if basis.shape[1] >= dims:
        return basis
    return torch.cat([basis, basis.new_zeros(basis.shape[0], dims - basis.shape[1])], dim=1)


class _Reporter:
    """Progress and cancellation in one place; ``sub`` maps a stage's [0, 1] onto a range."""

    def __init__(self, progress: Progress | None, cancel: Cancel | None):
        self.progress, self._cancel = progress, cancel

    def __call__(self, fraction: float, message: str) -> None:
        self.check()
        if self.progress:
            self.progress(min(max(fraction, 0.0), 1.0), message)

    def cancel(self) -> bool:
        return bool(self._cancel and self._cancel())

    def check(self) -> None:
        if self.cancel():
            raise Cancelled("cancelled by the user")

    def sub(self, lo: float, hi: float) -> Progress:
        return lambda f, msg: self(lo + (hi - lo) * f, msg)


class _Fitter:
    """The per-scene optimization of the network (and of K and P, depending on the mode)."""

    def __init__(self, cfg: FusionSettings, pair: NormalizedPair, y, z, hv, mv, x_base,
                 deg: Degradation, dev: torch.device, seed: int, report: _Reporter):
        self.cfg, self.pair, self.y, self.z, self.dev, self.report = cfg, pair, y, z, dev, report
        self.hv, self.mv = hv.float(), mv.float()
        self.x_base = x_base
        self.scale = pair.scale
        self.kernel_layer = KernelLayer(deg.kernel).to(dev)
        self.response_layer = ResponseLayer(deg.diagnostics["srf_normalized_units"]).to(dev)
        self.basis = _padded_basis(spectral_subspace(x_base, cfg.subspace_dims), cfg.subspace_dims)
        self.net = ReconstructionNet(cfg.subspace_dims, cfg.width, cfg.depth).to(dev)
        self.meta_initialized = bool(cfg.meta_init) and load_meta_weights(self.net)
        self.rng = np.random.default_rng(seed)
        self.crop = self._crop_size()
        radius = self.kernel_layer.size // 2 + self.net.receptive_radius + 1
        self.margin = self.scale * math.ceil(radius / self.scale)
        self.features = None

    def _crop_size(self) -> tuple[int, int]:
        s = self.scale
        want = self.cfg.crop_size or max(128, 8 * s)
        height, width = self.z.shape[1:]
        return (min(height, s * max(1, want // s)), min(width, s * max(1, want // s)))

    def refresh_features(self) -> None:
        with torch.no_grad():
            self.features = guidance_features(self.x_base, self.y, self.z, self.kernel_layer(),
                                              self.response_layer(), self.scale, self.basis)

    def image_on(self, region: tuple[slice, slice]) -> torch.Tensor:
        rs, cs = region
        return self.x_base[:, rs, cs] + torch.einsum("cl,lhw->chw", self.basis, self.net(self.features[:, rs, cs]))

    def sample_region(self):
        """A random crop (rows/cols multiples of the scale) and its margin-extended region."""
        s, (ch, cw), m = self.scale, self.crop, self.margin
        height, width = self.z.shape[1:]
        r0 = s * int(self.rng.integers(0, (height - ch) // s + 1))
        c0 = s * int(self.rng.integers(0, (width - cw) // s + 1))
        R0, C0 = max(0, r0 - m), max(0, c0 - m)
        R1, C1 = min(height, r0 + ch + m), min(width, c0 + cw + m)
        inner = (slice(r0 - R0, r0 - R0 + ch), slice(c0 - C0, c0 - C0 + cw))
        lr_inner = (slice((r0 - R0) // s, (r0 - R0 + ch) // s), slice((c0 - C0) // s, (c0 - C0 + cw) // s))
        lr_global = (slice(r0 // s, (r0 + ch) // s), slice(c0 // s, (c0 + cw) // s))
        return (slice(R0, R1), slice(C0, C1)), inner, lr_inner, (slice(r0, r0 + ch), slice(c0, c0 + cw)), lr_global

    def loss(self, x_region, kernel, srf, sample) -> torch.Tensor:
        """``mean|(X*K)↓s − Y| + mean|P·X − Z|`` over valid pixels of the crop."""
        region, inner, lr_inner, hr_global, lr_global = sample
        y_hat = blur_downsample(x_region, kernel, self.scale)[:, lr_inner[0], lr_inner[1]]
        w_lr = self.hv[lr_global]
        lr_term = (torch.abs(y_hat - self.y[:, lr_global[0], lr_global[1]]) * w_lr).sum() / (w_lr.sum() * y_hat.shape[0] + 1e-12)
        z_hat = project(x_region[:, inner[0], inner[1]], srf)
        w_hr = self.mv[hr_global]
        hr_term = (torch.abs(z_hat - self.z[:, hr_global[0], hr_global[1]]) * w_hr).sum() / (w_hr.sum() * z_hat.shape[0] + 1e-12)
        return lr_term + hr_term

    def run(self):
        cfg = self.cfg
        opt_net = torch.optim.Adam(self.net.parameters(), lr=cfg.lr_reconstruction)
        opt_deg = torch.optim.Adam(list(self.kernel_layer.parameters()) + list(self.response_layer.parameters()),
                                   lr=cfg.lr_degradation)
        losses: dict[str, list[float]] = {"degradation": [], "reconstruction": []}
        self.refresh_features()
        total = max(1, cfg.outer_iterations)
        for outer in range(cfg.outer_iterations):
            if cfg.mode == "alternating":
                losses["degradation"].append(self._steps(opt_deg, cfg.inner_iterations, train_net=False, train_deg=True))
                self.refresh_features()
                losses["reconstruction"].append(self._steps(opt_net, cfg.inner_iterations, train_net=True, train_deg=False))
            elif cfg.mode == "separate":
                losses["reconstruction"].append(self._steps(opt_net, cfg.inner_iterations, train_net=True, train_deg=False))
            else:
                losses["reconstruction"].append(self._steps((opt_net, opt_deg), cfg.inner_iterations, train_net=True, train_deg=True))
                self.refresh_features()
            self.report(0.25 + 0.7 * (outer + 1) / total,
                        f"fusion, outer iteration {outer + 1}/{cfg.outer_iterations}: loss {losses['reconstruction'][-1]:.3e}")
        with torch.no_grad():
            kernel = self.kernel_layer().cpu().numpy().astype(np.float64)
            srf = self.response_layer().cpu().numpy().astype(np.float64)
            self.refresh_features()
            x = self._full_image()
        return x, kernel / kernel.sum(), srf, losses

    def _steps(self, optimizers, steps: int, train_net: bool, train_deg: bool) -> float:
        opts = optimizers if isinstance(optimizers, tuple) else (optimizers,)
        total = 0.0
        for _ in range(steps):
            self.report.check()
            sample = self.sample_region()
            region = sample[0]
            for o in opts:
                o.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(train_net):
                x_region = self.image_on(region)
            if not train_net:
                x_region = x_region.detach()
            with torch.set_grad_enabled(train_deg):
                kernel, srf = self.kernel_layer(), self.response_layer()
            if not train_deg:
                kernel, srf = kernel.detach(), srf.detach()
            loss = self.loss(x_region, kernel, srf, sample)
            loss.backward()
            for o in opts:
                o.step()
            total += float(loss.detach())
        return total / max(1, steps)

    def _full_image(self, tile: int = 256) -> torch.Tensor:
        """The whole HR image, computed in row bands with a halo so tiles meet without seams."""
        height = self.z.shape[1]
        halo = self.net.receptive_radius + 1
        out = torch.empty_like(self.x_base)
        for r0 in range(0, height, tile):
            self.report.check()
            r1 = min(height, r0 + tile)
            a, b = max(0, r0 - halo), min(height, r1 + halo)
            x = self.image_on((slice(a, b), slice(None)))
            out[:, r0:r1] = x[:, r0 - a : r0 - a + (r1 - r0)]
        return out
