"""The per-scene fitting of the alternating optimization: the reconstruction network (and K and
P, depending on the mode) fitted on random crops of the scene.

A crop carries a margin that covers the kernel and the network's receptive field, so one step
costs the same for a 512² lab cube or a large scene. Streaming scenes fit on a pool of kept crops
(their start images cost a classical estimate of a grown window each), renewed one crop per
outer iteration so the fit sees more of the scene over time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .adam import Adam
from .degradation_layers import KernelLayer, ResponseLayer
from .devices import available_memory
from .meta_init import load_meta_weights
from .observations import DeviceObservations
from .operators import blur_downsample, project
from .progress import Reporter
from .reconstruction_net import ReconstructionNet
from .results import Degradation
from .scene_windows import SceneWindows
from .settings import FusionSettings
from .guard import sample_windows
from .windows import Window


@dataclass(frozen=True)
class Crop:
    """A training crop: ``hr`` (image coordinates, on the LR grid) and the ``region`` the network
    is evaluated on (the crop plus its margin, clipped to the image)."""

    hr: Window
    region: Window

    def inner(self) -> Window:
        """The crop in the region's coordinates."""
        return self.hr.relative_to(self.region)

    def lr(self, scale: int) -> Window:
        """The crop on the LR grid, in image coordinates."""
        return self.hr.to_lr(scale)

    def lr_inner(self, scale: int) -> Window:
        """The crop on the LR grid, in the region's coordinates."""
        return self.inner().to_lr(scale)


class CropSampler:
    """Random crops (rows/cols multiples of the scale) and, for streaming scenes, the kept pool."""

    def __init__(self, cfg: FusionSettings, obs: DeviceObservations, margin: int, seed: int):
        s = obs.scale
        want = cfg.crop_size or max(128, 8 * s)
        height, width = obs.hr_shape
        self.scale, self.height, self.width, self.margin = s, height, width, margin
        self.size = (min(height, s * max(1, want // s)), min(width, s * max(1, want // s)))
        self.rng = np.random.default_rng(seed)
        self.pool: list[Crop] = []
        self.pool_size = 0          # 0: any crop (cached scenes); set by the fitter for streaming ones

    def _random(self) -> Crop:
        s, (ch, cw) = self.scale, self.size
        r0 = s * int(self.rng.integers(0, (self.height - ch) // s + 1))
        c0 = s * int(self.rng.integers(0, (self.width - cw) // s + 1))
        hr = Window(r0, c0, ch, cw)
        return Crop(hr, hr.grow(self.margin).clip(self.height, self.width))

    def next(self) -> Crop:
        """Cached scenes: any crop. Streaming scenes: one of the pool (filled first)."""
        if not self.pool_size:
            return self._random()
        if len(self.pool) < self.pool_size:
            self.pool.append(self._random())
            return self.pool[-1]
        return self.pool[int(self.rng.integers(0, len(self.pool)))]

    def renew(self) -> Crop | None:
        """Drop the oldest kept crop (returned, to be forgotten) once the pool is full."""
        if self.pool_size and len(self.pool) == self.pool_size:
            return self.pool.pop(0)
        return None


class Fitter:
    """The per-scene optimization of the network (and of K and P, depending on the mode)."""

    def __init__(self, cfg: FusionSettings, obs: DeviceObservations, scene: SceneWindows, deg: Degradation,
                 report: Reporter):
        dev = obs.y.device
        self.cfg, self.obs, self.scene, self.report = cfg, obs, scene, report
        self.scale = obs.scale
        self.kernel_layer = KernelLayer(deg.kernel).to(dev)
        self.response_layer = ResponseLayer(deg.diagnostics.srf_normalized_units).to(dev)
        self.net = ReconstructionNet(cfg.subspace_dims, cfg.width, cfg.depth).to(dev)
        # no fitting (0 iterations) = the starting image itself: the zero-initialized last layer
        # adds nothing, while unfitted meta-learned weights would add an arbitrary correction
        self.meta_initialized = bool(cfg.meta_init) and cfg.fits_network and load_meta_weights(self.net)
        radius = self.kernel_layer.size // 2 + self.net.receptive_radius + 1
        self.crops = CropSampler(cfg, obs, self.scale * math.ceil(radius / self.scale), cfg.seed)
        self.tv_weight = cfg.tv_weight
        self.tv_scale = 0.0
        self.holdout = None if cfg.stopping != "converged" else holdout_pixels(obs.hsi_valid, cfg.holdout_fraction,
                                                                               cfg.seed)
        self.outer_run, self.stop_reason = 0, ""

    def refresh(self) -> None:
        with torch.no_grad():
            self.scene.set_degradation(self.kernel_layer(), self.response_layer())

    def image_and_start(self, window: Window, keep: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's image on ``window`` and the starting image it corrects."""
        x_base, features = self.scene.window(window, keep=keep)
        return x_base + torch.einsum("cl,lhw->chw", self.scene.basis, self.net(features)), x_base

    def _pool_size(self) -> int:
        """How many training crops a streaming scene keeps in memory (4..32, within a quarter of
        the cache budget)."""
        rows, cols = (c + 2 * self.crops.margin for c in self.crops.size)
        budget = min(self.cfg.cache_limit_bytes // 4, available_memory() // 16)
        return int(max(4, min(32, budget // max(1, self.scene.kept_window_bytes(rows, cols)))))

    def loss(self, x_region: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor, crop: Crop,
             x_base: torch.Tensor | None = None) -> torch.Tensor:
        """``mean|(X*K)↓s − Y| + mean|P·X − Z|`` over valid pixels of the crop (+ TV prior)."""
        s, obs = self.scale, self.obs
        lr_rows, lr_cols = crop.lr(s).slices()
        li_rows, li_cols = crop.lr_inner(s).slices()
        in_rows, in_cols = crop.inner().slices()
        hr_rows, hr_cols = crop.hr.slices()
        y_hat = blur_downsample(x_region, kernel, s)[:, li_rows, li_cols]
        w_lr = obs.lr_weights(lr_rows, lr_cols).to(x_region.dtype)
        if self.holdout is not None:
            w_lr = w_lr * (~self.holdout[lr_rows, lr_cols]).to(x_region.dtype)
        count = w_lr.sum() * (y_hat.shape[0] if w_lr.dim() == 2 else 1)
        lr_term = (torch.abs(y_hat - obs.y[:, lr_rows, lr_cols]) * w_lr).sum() / (count + 1e-12)
        xi = x_region[:, in_rows, in_cols]
        z_hat = project(xi, srf)
        w_hr = obs.msi_valid[hr_rows, hr_cols].to(x_region.dtype)
        hr_term = (torch.abs(z_hat - obs.z[:, hr_rows, hr_cols]) * w_hr).sum() / (w_hr.sum() * z_hat.shape[0] + 1e-12)
        data = lr_term + hr_term
        if self.tv_weight > 0:
            if self.cfg.tv_on == "correction" and x_base is not None:
                xi = xi - x_base[:, in_rows, in_cols]
            return data + self.tv_weight * self.tv_scale * _total_variation(xi)
        return data

    def run(self) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]]:
        """Fit; returns the final kernel, the response in normalized units and the loss curves."""
        cfg = self.cfg
        opt_net = Adam(self.net.parameters(), lr=cfg.lr_reconstruction)
        opt_deg = Adam(list(self.kernel_layer.parameters()) + list(self.response_layer.parameters()),
                                   lr=cfg.lr_degradation)
        losses: dict[str, list[float]] = {"degradation": [], "reconstruction": []}
        self.refresh()
        self.crops.pool_size = 0 if self.scene.cached else self._pool_size()
        self._calibrate_tv()
        total = max(1, cfg.outer_iterations)
        probes = sample_windows(*self.obs.hr_shape, self.scale, cfg.seed + 1, side=128, count=4)
        watch = None if self.holdout is None or not cfg.fits_network else Convergence(cfg)
        if watch is not None:
            losses["held-out LR consistency"] = [self.held_out_error(probes)]
            watch.update(losses["held-out LR consistency"][0])
            best = self._state()
        self.stop_reason = f"the schedule's {cfg.outer_iterations} outer iterations ran"
        for outer in range(cfg.outer_iterations):
            if cfg.mode == "alternating":
                losses["degradation"].append(self._steps((opt_deg,), cfg.inner_iterations, train_net=False,
                                                         train_deg=True))
                self.refresh()
                losses["reconstruction"].append(self._steps((opt_net,), cfg.inner_iterations, train_net=True,
                                                            train_deg=False))
            elif cfg.mode == "separate":
                losses["reconstruction"].append(self._steps((opt_net,), cfg.inner_iterations, train_net=True,
                                                            train_deg=False))
            else:
                losses["reconstruction"].append(self._steps((opt_net, opt_deg), cfg.inner_iterations,
                                                            train_net=True, train_deg=True))
                self.refresh()
            dropped = self.crops.renew()
            if dropped is not None:
                self.scene.forget(dropped.region)
            self.outer_run = outer + 1
            self.report((outer + 1) / total,
                        f"fusion, outer iteration {outer + 1}/{cfg.outer_iterations}: loss {losses['reconstruction'][-1]:.3e}")
            if watch is not None:
                losses["held-out LR consistency"].append(self.held_out_error(probes))
                stop = watch.update(losses["held-out LR consistency"][-1])
                if watch.best_at == outer + 1:
                    best = self._state()
                if stop and outer + 1 < cfg.outer_iterations:
                    self.stop_reason = (f"converged: the held-out LR consistency stopped improving (best after outer "
                                        f"iteration {watch.best_at}, kept; stopped after {outer + 1})")
                    self.report(1.0, f"fusion converged after {outer + 1} outer iterations")
                    break
        if watch is not None:
            self._restore(best)        # the iterate that predicted the held-out pixels best
        self.scene.forget()
        self.crops.pool.clear()
        with torch.no_grad():
            kernel = self.kernel_layer().cpu().numpy().astype(np.float64)
            srf = self.response_layer().cpu().numpy().astype(np.float64)
            self.refresh()
        return kernel / kernel.sum(), srf, losses

    def _calibrate_tv(self) -> None:
        """Scale-free prior: on the starting image, the TV term weighs tv_weight times the data terms."""
        if self.tv_weight <= 0:
            return
        crop = self.crops.next()
        with torch.no_grad():
            x_start, _ = self.scene.window(crop.region, keep=True)
            in_rows, in_cols = crop.inner().slices()
            tv = _total_variation(x_start[:, in_rows, in_cols])
            saved, self.tv_weight = self.tv_weight, 0.0
            data = self.loss(x_start, self.kernel_layer(), self.response_layer(), crop)
            self.tv_weight = saved
        self.tv_scale = float(data) / max(float(tv), 1e-12)

    def _steps(self, optimizers: tuple, steps: int, train_net: bool, train_deg: bool) -> float:
        total = 0.0
        for _ in range(steps):
            self.report.check()
            crop = self.crops.next()
            for o in optimizers:
                o.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(train_net):
                x_region, x_base = self.image_and_start(crop.region, keep=True)
            if not train_net:
                x_region = x_region.detach()
            with torch.set_grad_enabled(train_deg):
                kernel, srf = self.kernel_layer(), self.response_layer()
            if not train_deg:
                kernel, srf = kernel.detach(), srf.detach()
            loss = self.loss(x_region, kernel, srf, crop, x_base)
            loss.backward()
            for o in optimizers:
                o.step()
            total += float(loss.detach())
        return total / max(1, steps)


    def _state(self) -> dict:
        """A copy of what the fitting changes: the network's weights, K and P."""
        return {name: {k: v.detach().clone() for k, v in module.state_dict().items()}
                for name, module in (("net", self.net), ("kernel", self.kernel_layer), ("response", self.response_layer))}

    def _restore(self, state: dict) -> None:
        for name, module in (("net", self.net), ("kernel", self.kernel_layer), ("response", self.response_layer)):
            module.load_state_dict(state[name])

    def held_out_error(self, windows: list[Window]) -> float:
        """Mean ``|(X*K)↓s − Y|`` of the current image over the held-out LR pixels inside ``windows``
        (away from their edges, where the blur would reach outside)."""
        s, obs = self.scale, self.obs
        edge = math.ceil(self.kernel_layer.size // 2 / s) + 1
        total, count = 0.0, 0.0
        with torch.no_grad():
            kernel = self.kernel_layer()
            for w in windows:
                x = self.image_and_start(w)[0]
                lr = w.to_lr(s)
                inner = Window(edge, edge, max(0, lr.height - 2 * edge), max(0, lr.width - 2 * edge))
                rows, cols = inner.offset(lr.row, lr.col).slices()
                use = self.holdout[rows, cols] & obs.hsi_valid[rows, cols]
                d = (blur_downsample(x, kernel, s)[:, inner.rows, inner.cols] - obs.y[:, rows, cols]).abs()
                total += float(d[:, use].sum())
                count += float(use.sum()) * d.shape[0]
        return total / max(count, 1.0)


class Convergence:
    """When more iterations stop paying: the held-out error has not improved by more than
    ``convergence_tol`` (relative) for ``patience`` outer iterations, after at least
    ``min_outer_iterations``."""

    def __init__(self, cfg: FusionSettings):
        self.cfg = cfg
        self.best, self.best_at, self.seen, self.since = math.inf, 0, -1, 0

    def update(self, error: float) -> bool:
        """Record the error after the next outer iteration (the first call: the start); True when
        the alternation should stop."""
        self.seen += 1
        if error < self.best * (1 - self.cfg.convergence_tol):
            self.best, self.best_at, self.since = error, self.seen, 0
        else:
            self.since += 1
        return self.seen >= self.cfg.min_outer_iterations and self.since >= self.cfg.patience


def holdout_pixels(valid: torch.Tensor, fraction: float, seed: int) -> torch.Tensor | None:
    """A fixed random share of the valid LR pixels, left out of the fitting's LR term to judge it."""
    if fraction <= 0:
        return None
    g = torch.Generator().manual_seed(int(seed) + 7919)
    held = torch.rand(tuple(valid.shape), generator=g) < fraction
    return held.to(valid.device) & valid


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute vertical plus horizontal difference of ``(bands, h, w)``."""
    return (x[:, 1:] - x[:, :-1]).abs().mean() + (x[:, :, 1:] - x[:, :, :-1]).abs().mean()
