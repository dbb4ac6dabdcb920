"""Blind fusion: estimate K and P, build a starting HR image, then refine image and degradation
by alternating optimization (the method of Nie, Zhang, Wei et al.), with ``separate`` and
``joint`` modes for ablation.

The reconstruction network is fitted on random crops (plus a margin covering the kernel and the
network's receptive field), so one step costs the same for a 512² lab cube or a large scene. The
final image is produced tile by tile; every stage after the (LR-sized) estimation is local, and
each tile is computed with a margin that covers the whole chain's reach, so tiles match the
whole-image result to float precision (no seams, no blending needed). Large scenes are never held
as a whole HR cube: tiles go to a ``writer`` callback when one is given.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
import torch

from .degradation_layers import KernelLayer, ResponseLayer
from .devices import resolve_device, run_with_gpu_fallback, seed_everything
from .errors import Cancelled, InvalidInputError
from .estimation import Degradation, NormalizedPair, estimate_normalized, normalize_pair
from .backbone import backbone_estimate
from .initial_estimate import (ClassicalEstimator, fit_classical, flat_block_noise_sigma, lr_identity_noise_cap,
                               smooth_shape_where_dark_)
from .meta_init import load_meta_weights
from .msi_denoising import denoise_msi
from .operators import blur_downsample, project
from .reconstruction_net import ReconstructionNet, guidance_features, spectral_subspace
from .responses import normalize_rows

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
MODES = ("alternating", "separate", "joint")


@dataclass
class FusionResult(Degradation):
    """The degradation the image was fused with, and the fused image ``(bands, H, W)`` in the HSI's
    units (None when the tiles went to a ``writer``)."""

    image: Optional[np.ndarray] = None


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
    # Starting image: "classical" (the default: after fitting it measures 0.19 dB better than the
    # backbone retrained on scene-sized crops, on the mean of docs/pretrained.md's cases; the
    # backbone gains 0.18 dB on Jasper Ridge and loses 1.06 dB on balloons at 30 dB),
    # "backbone" or "auto" (the pre-trained band-wise refinement when its model loads, else classical).
    initial: str = "classical"
    # Total-variation prior (scale-free: weight 1 = as heavy as the data terms at the start) and
    # what it smooths: "correction" (the network's change to the start; the default since the start
    # is built from a denoised MSI: with TV on the image at weight 1 the fitting put noise back
    # into the spectra, paints x8 30 dB 38.78 -> 38.42 dB and SAM 5.11 -> 6.28, while correction
    # at weight 10 keeps the start, 38.78 / 5.12, and stays within 0.02 dB of it on the training
    # scenes) or "image". docs/network_prior.md, "Final defaults".
    tv_weight: float = 10.0
    tv_on: str = "correction"
    tile_size: int | None = None     # HR tile side for the output; None = from available memory
    cache_limit_bytes: int = 1 << 30 # scenes whose HR cube fits keep it in memory (faster fitting)
    # Start the network from the meta-learned weights in models/ (when present). Off by default:
    # on the final PSNR they measured no gain (docs/pretrained.md), and their initial correction
    # costs a short run dearly (small synthetic scene, 2 x 2 iterations: 36.08 dB vs 40.13 from
    # the zero-initialized output layer, which starts exactly at the starting image).
    meta_init: bool = False
    output_shape_smoothing: bool = True   # the classical dark-pixel spectral smoothing on a backbone start's output
    residual_denoising: bool = True       # classical start: back-project only the LR residual's signal (False = all of it, as before)
    noise_cap: bool = True                # cap the MSI noise estimates by the LR identity (initial_estimate.lr_identity_noise_cap)
    # Strength of the non-local means on the MSI before it guides the start and the fitting
    # (msi_denoising.py; tuned on the training scenes, where it lifts the classical start by
    # 0.0..+2.1 dB). The K/P estimate keeps the original MSI. 0 = off.
    msi_denoising: float = 0.85


Writer = Callable[[slice, slice, np.ndarray], None]


def fuse(hsi: np.ndarray, msi: np.ndarray, scale: int | None = None, srf: np.ndarray | None = None,
         outer_iterations: int = 40, inner_iterations: int = 10, mode: str = "alternating",
         device: str = "auto", seed: int = 0, progress: Progress | None = None,
         cancel: Cancel | None = None, degradation: Degradation | None = None,
         hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None,
         kernel_size: int | None = None, hsi_wavelengths: np.ndarray | None = None,
         settings: FusionSettings | None = None, writer: Optional[Writer] = None) -> FusionResult:
    """Fuse ``hsi`` ``(bands, h, w)`` with ``msi`` ``(msi_bands, H, W)`` into ``(bands, H, W)``.

    ``srf`` is a starting response (rows = MSI bands); ``degradation`` a starting K and P (e.g.
    from :func:`estimate_degradation`). ``outer_iterations=0`` returns the starting estimate.
    ``progress(fraction, message)`` is called regularly; ``cancel()`` returning True raises
    :class:`Cancelled` within about a second. Masks mark valid pixels (False = nodata, NaN in
    the output). With ``writer(rows, cols, block)`` the image is handed over tile by tile (in the
    HSI's units) and ``result.image`` is None: the whole HR cube never sits in memory.
    """
    cfg = settings or FusionSettings()
    cfg.outer_iterations, cfg.inner_iterations, cfg.mode = int(outer_iterations), int(inner_iterations), mode
    if mode not in MODES:
        raise InvalidInputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if cfg.tv_on not in ("image", "correction"):
        raise InvalidInputError(f"unknown TV target {cfg.tv_on!r}; use image or correction")
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

    def attempt(dev: torch.device, retry: int) -> FusionResult:
        run_cfg = cfg if retry == 0 else _smaller(cfg, pair, dev)
        return _fuse_on(run_cfg, pair, deg, dev, seed, report, writer, timings, mode)

    return run_with_gpu_fallback(attempt, dev, lambda msg: warnings.warn(msg, stacklevel=3))


def _smaller(cfg: FusionSettings, pair: NormalizedPair, dev: torch.device) -> FusionSettings:
    """Settings for a retry after GPU out-of-memory: no whole-scene cache, half the tile."""
    tile = cfg.tile_size or auto_tile_size(pair.y.shape[0], streaming_reach(pair.scale), pair.scale,
                                           _device_budget(dev))
    return replace(cfg, cache_limit_bytes=0, tile_size=max(pair.scale, tile // 2 // pair.scale * pair.scale))


def _fuse_on(cfg: FusionSettings, pair: NormalizedPair, deg: Degradation, dev: torch.device, seed: int,
             report: "_Reporter", writer: Optional[Writer], timings: dict, mode: str) -> FusionResult:
    """Everything after the (NumPy) degradation estimate, on one device."""
    seed_everything(seed)
    t = time.perf_counter()
    y = torch.from_numpy(pair.y).to(dev)
    z = torch.from_numpy(pair.z).to(dev)
    hv = torch.from_numpy(pair.hsi_valid).to(dev)
    mv = torch.from_numpy(pair.msi_valid).to(dev)
    kernel0 = torch.as_tensor(deg.kernel, dtype=torch.float32, device=dev)
    srf0 = torch.as_tensor(deg.diagnostics["srf_normalized_units"], dtype=torch.float32, device=dev)
    msi_noise = None
    if cfg.msi_denoising > 0:
        report(0.2, "denoising the multispectral image")
        with torch.no_grad():
            # in place: z is this call's normalized copy (pair.z, or its copy on the GPU), and only
            # its shape is read after this; a large MSI then costs no second copy
            z, msi_noise = denoise_msi(z, y, kernel0, srf0, pair.scale, hv, mv, cfg.msi_denoising, report.check,
                                       inplace=True)
        timings["msi_denoising"] = time.perf_counter() - t
        t = time.perf_counter()
    report(0.2, "building the initial estimate")
    with torch.no_grad():
        scene = _SceneWindows.build(cfg, y, z, hv, kernel0, srf0, pair.scale, report.check)
    timings["initial_estimate"] = time.perf_counter() - t

    t = time.perf_counter()
    fitter = _Fitter(cfg, pair, scene, y, z, hv, mv, deg, dev, seed, report, msi_noise)
    kernel, srf_n, losses = fitter.run()
    timings["fusion"] = time.perf_counter() - t

    t = time.perf_counter()
    out = _Output(pair, writer)
    reach = scene.margin + (0 if scene.cached else scene.guidance_margin) + fitter.net.receptive_radius + 1
    tile = cfg.tile_size or auto_tile_size(pair.y.shape[0], reach, pair.scale, _device_budget(dev))
    fitter.render(tile, out.put)
    timings["write"] = time.perf_counter() - t
    report(1.0, "done")
    return FusionResult(
        image=out.image, kernel=kernel, srf=normalize_rows(srf_n), scale=pair.scale,
        msi_gain=srf_n.sum(axis=1) * pair.z_unit / pair.y_unit,
        initial_kernel=deg.initial_kernel, initial_srf=deg.initial_srf,
        diagnostics={"losses": losses, "timings": timings, "device": str(dev), "mode": mode,
                     "outer_iterations": cfg.outer_iterations, "inner_iterations": cfg.inner_iterations,
                     "initial_estimate": scene.method, "meta_initialized": fitter.meta_initialized,
                     "tv_weight": fitter.tv_weight,
                     "msi_noise_std": None if msi_noise is None else (msi_noise.cpu().numpy() * pair.z_unit).tolist(),
                     "classical_ridge": scene.estimator.ridge if scene.estimator is not None else None,
                     "tile_size": tile, "cached": scene.cached,
                     "seed": seed, "estimated_kernel": deg.kernel, "estimated_srf": deg.srf,
                     "estimation_residuals": deg.diagnostics.get("estimation_residuals", [])})


def auto_tile_size(bands: int, margin: int, scale: int, budget_bytes: int | None = None) -> int:
    """The largest HR tile whose working set fits an eighth of the available memory, capped at
    1 GB; a multiple of the scale. Measured (benchmarks/large_scene.py, 100 bands): rendering a
    streamed tile peaks at about 1.6 float32 cubes of the tile plus its margin (the band-chunked
    start image, its guidance, the network output); 3 cubes leaves room."""
    budget = budget_bytes or min(1 << 30, _available_memory() // 8)
    side = int(math.sqrt(budget / (bands * 4 * 3))) - 2 * margin
    side = max(128, min(2048, side))
    return max(scale, side // scale * scale)


def streaming_reach(scale: int) -> int:
    """HR pixels of context a streamed tile needs with the default kernel support (2·scale + 1),
    rounded up: the classical start's back-projections, the guidance maps, the network's receptive field."""
    return 24 * scale


def _device_budget(dev: torch.device) -> int | None:
    """On a GPU the tile must fit its free memory too (an eighth of it, capped like the CPU's)."""
    if dev.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(dev)
    return min(1 << 30, _available_memory() // 8, free // 8)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


class _Output:
    """Collects tiles into one array, or passes them to the caller's writer, in the HSI's units."""

    def __init__(self, pair: NormalizedPair, writer: Optional[Writer]):
        self.pair, self.writer = pair, writer
        self.clip = float(np.nanmin(pair.y)) >= 0
        bands, (height, width) = pair.y.shape[0], pair.z.shape[1:]
        self.image = None if writer else np.empty((bands, height, width), dtype=np.float32)

    def put(self, rows: slice, cols: slice, block: torch.Tensor) -> None:
        p, s = self.pair, self.pair.scale
        b = block.detach().cpu().numpy().astype(np.float32) * np.float32(p.y_unit)
        if self.clip:
            np.maximum(b, 0, out=b)
        invalid = ~p.msi_valid[rows, cols]
        lr_invalid = ~p.hsi_valid[rows.start // s : -(-rows.stop // s), cols.start // s : -(-cols.stop // s)]
        if lr_invalid.any():
            up = np.kron(lr_invalid, np.ones((s, s), dtype=bool))
            r0, c0 = rows.start - rows.start // s * s, cols.start - cols.start // s * s
            invalid |= up[r0 : r0 + b.shape[1], c0 : c0 + b.shape[2]]
        b[:, invalid] = np.nan
        if self.writer:
            self.writer(rows, cols, b)
        else:
            self.image[:, rows, cols] = b


def _padded_basis(basis: torch.Tensor, dims: int) -> torch.Tensor:
    """Zero columns up to ``dims`` so the network has one shape for any band count."""
    if basis.shape[1] >= dims:
        return basis
    return torch.cat([basis, basis.new_zeros(basis.shape[0], dims - basis.shape[1])], dim=1)


class _SceneWindows:
    """The starting image and the network's guidance on any HR window.

    Small scenes keep both as whole arrays (fast slicing); large ones compute each window from
    the classical estimator with enough margin to be exact.
    """

    def __init__(self, estimator: ClassicalEstimator | None, x_full: torch.Tensor | None,
                 y: torch.Tensor, z: torch.Tensor, basis: torch.Tensor, scale: int, method: str):
        self.estimator, self.x_full, self.y, self.z = estimator, x_full, y, z
        self.basis, self.scale, self.method = basis, scale, method
        self.cached = x_full is not None
        self.features_full: torch.Tensor | None = None
        self.kernel = self.srf = None
        self._version = 0                  # bumped by every new K and P
        self._kept: dict[tuple[int, int, int, int], list] = {}   # streaming: grown start image, guidance, version

    @classmethod
    def build(cls, cfg: FusionSettings, y, z, hv, kernel, srf, scale: int,
              check: Callable[[], None]) -> "_SceneWindows":
        if cfg.initial not in ("auto", "backbone", "classical"):
            raise InvalidInputError(f"unknown initial estimate {cfg.initial!r}; use auto, backbone or classical")
        basis = _padded_basis(spectral_subspace(y, cfg.subspace_dims), cfg.subspace_dims)
        bands, (height, width) = y.shape[0], z.shape[1:]
        fits = bands * height * width * 4 * 3 + 4 * cfg.subspace_dims * height * width * 4 <= cfg.cache_limit_bytes
        if fits and cfg.initial != "classical":
            x = backbone_estimate(y, z, kernel, srf, scale)
            if x is not None:
                return cls(None, x, y, z, basis, scale, "backbone")
        estimator = fit_classical(y, z, kernel, scale, hsi_valid=hv, check=check,
                                  denoise_residual=cfg.residual_denoising,
                                  srf=srf if cfg.noise_cap else None)
        x_full = estimator.whole(check) if fits else None
        return cls(estimator, x_full, y, z, basis, scale, "classical")

    @property
    def margin(self) -> int:
        return self.estimator.margin if self.estimator is not None else 0

    def set_degradation(self, kernel: torch.Tensor, srf: torch.Tensor) -> None:
        """New K and P: the guidance changes (recomputed at once when cached)."""
        self.kernel, self.srf = kernel.detach(), srf.detach()
        self._version += 1
        if self.cached:
            self.features_full = guidance_features(self.x_full, self.y, self.z, self.kernel, self.srf,
                                                   self.scale, self.basis)

    @property
    def guidance_margin(self) -> int:
        """HR pixels of context the guidance maps need (blur plus bicubic reach), on the LR grid."""
        s = self.scale
        return s * math.ceil((self.kernel.shape[-1] // 2 + 3 * s) / s)

    def window(self, rows: slice, cols: slice, keep: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The starting image and the guidance on HR rows x cols (one estimate of a grown window).

        Streaming scenes: with ``keep`` the window's start image stays in memory (training crops
        are revisited; the start image never changes, the guidance only with K and P) until
        :meth:`forget`."""
        if self.cached:
            return self.x_full[:, rows, cols], self.features_full[:, rows, cols]
        key = (rows.start, rows.stop, cols.start, cols.stop)
        entry = self._kept.get(key)
        if entry is None:
            entry = self._grown_start(rows, cols) + [None, -1]
            if keep:
                self._kept[key] = entry
        xb, (r0, r1, c0, c1), features, version = entry
        if version != self._version:
            s = self.scale
            features = guidance_features(xb, self.y[:, r0 // s : r1 // s, c0 // s : c1 // s],
                                         self.z[:, r0:r1, c0:c1], self.kernel, self.srf, s, self.basis)
            entry[2], entry[3] = features, self._version
        inner = (slice(None), slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
        return xb[inner], features[inner]

    def forget(self, rows: slice | None = None, cols: slice | None = None) -> None:
        """Drop one kept window, or all of them (before rendering: their memory goes to the tiles)."""
        if rows is None:
            self._kept.clear()
        else:
            self._kept.pop((rows.start, rows.stop, cols.start, cols.stop), None)

    def kept_window_bytes(self, rows: int, cols: int) -> int:
        """Memory one kept streaming window of rows x cols takes (start image and guidance)."""
        grow = 2 * self.guidance_margin
        return (rows + grow) * (cols + grow) * (self.y.shape[0] + self.basis.shape[1] * 4) * 4

    def _grown_start(self, rows: slice, cols: slice) -> list:
        s, grow = self.scale, self.guidance_margin
        height, width = self.z.shape[1:]
        r0, c0 = max(0, (rows.start - grow) // s * s), max(0, (cols.start - grow) // s * s)
        r1 = min(height, -(-(rows.stop + grow) // s) * s)
        c1 = min(width, -(-(cols.stop + grow) // s) * s)
        return [self.estimator.region(slice(r0, r1), slice(c0, c1)), (r0, r1, c0, c1)]


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

    def __init__(self, cfg: FusionSettings, pair: NormalizedPair, scene: _SceneWindows, y, z, hv, mv,
                 deg: Degradation, dev: torch.device, seed: int, report: _Reporter,
                 msi_noise: torch.Tensor | None = None):
        self.cfg, self.pair, self.scene, self.y, self.z, self.dev, self.report = cfg, pair, scene, y, z, dev, report
        self.msi_noise = msi_noise               # the MSI's noise before denoising (None: read it from z)
        self.hv, self.mv = hv, mv                # boolean; weights are made per crop (a float MSI mask is 4x larger)
        self.scale = pair.scale
        self.kernel_layer = KernelLayer(deg.kernel).to(dev)
        self.response_layer = ResponseLayer(deg.diagnostics["srf_normalized_units"]).to(dev)
        self.net = ReconstructionNet(cfg.subspace_dims, cfg.width, cfg.depth).to(dev)
        # no fitting (0 iterations) = the starting image itself: the zero-initialized last layer
        # adds nothing, while unfitted meta-learned weights would add an arbitrary correction
        fits = cfg.outer_iterations > 0 and cfg.inner_iterations > 0
        self.meta_initialized = bool(cfg.meta_init) and fits and load_meta_weights(self.net)
        self.rng = np.random.default_rng(seed)
        self.crop = self._crop_size()
        radius = self.kernel_layer.size // 2 + self.net.receptive_radius + 1
        self.margin = self.scale * math.ceil(radius / self.scale)
        self.tv_weight = cfg.tv_weight
        self.tv_scale = 0.0
        self.pool: list[tuple[int, int]] = []   # streaming scenes: the crop positions kept in memory
        self.pool_size = 0                      # set once K is known (the window's reach depends on it)

    def _crop_size(self) -> tuple[int, int]:
        s = self.scale
        want = self.cfg.crop_size or max(128, 8 * s)
        height, width = self.z.shape[1:]
        return (min(height, s * max(1, want // s)), min(width, s * max(1, want // s)))

    def refresh(self) -> None:
        with torch.no_grad():
            self.scene.set_degradation(self.kernel_layer(), self.response_layer())

    def image_on(self, region: tuple[slice, slice], keep: bool = False) -> torch.Tensor:
        return self.image_and_start(region, keep)[0]

    def image_and_start(self, region: tuple[slice, slice], keep: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's image on ``region`` and the starting image it corrects."""
        x_base, features = self.scene.window(*region, keep=keep)
        return x_base + torch.einsum("cl,lhw->chw", self.scene.basis, self.net(features)), x_base

    def _pool_size(self) -> int:
        """How many training crops a streaming scene keeps in memory (4..32, within a quarter of
        the cache budget: 256 MB by default)."""
        rows, cols = (c + 2 * self.margin for c in self.crop)
        budget = min(self.cfg.cache_limit_bytes // 4, _available_memory() // 16)
        return int(max(4, min(32, budget // max(1, self.scene.kept_window_bytes(rows, cols)))))

    def _random_position(self) -> tuple[int, int]:
        s, (ch, cw) = self.scale, self.crop
        height, width = self.z.shape[1:]
        return (s * int(self.rng.integers(0, (height - ch) // s + 1)),
                s * int(self.rng.integers(0, (width - cw) // s + 1)))

    def _next_position(self) -> tuple[int, int]:
        """Cached scenes: any crop. Streaming scenes: one of a pool of kept crops (their start
        images cost a classical estimate of a grown window each), renewed by :meth:`renew_pool`."""
        if not self.pool_size:
            return self._random_position()
        if len(self.pool) < self.pool_size:
            self.pool.append(self._random_position())
            return self.pool[-1]
        return self.pool[int(self.rng.integers(0, len(self.pool)))]

    def renew_pool(self) -> None:
        """Swap the oldest kept crop for a new one, so the fit sees more of a large scene over time."""
        if self.pool_size and len(self.pool) == self.pool_size:
            self.scene.forget(*self.sample_region(self.pool.pop(0))[0])

    def sample_region(self, position: tuple[int, int] | None = None):
        """A crop (rows/cols multiples of the scale) and its margin-extended region."""
        s, (ch, cw), m = self.scale, self.crop, self.margin
        height, width = self.z.shape[1:]
        r0, c0 = position if position is not None else self._next_position()
        R0, C0 = max(0, r0 - m), max(0, c0 - m)
        R1, C1 = min(height, r0 + ch + m), min(width, c0 + cw + m)
        inner = (slice(r0 - R0, r0 - R0 + ch), slice(c0 - C0, c0 - C0 + cw))
        lr_inner = (slice((r0 - R0) // s, (r0 - R0 + ch) // s), slice((c0 - C0) // s, (c0 - C0 + cw) // s))
        lr_global = (slice(r0 // s, (r0 + ch) // s), slice(c0 // s, (c0 + cw) // s))
        return (slice(R0, R1), slice(C0, C1)), inner, lr_inner, (slice(r0, r0 + ch), slice(c0, c0 + cw)), lr_global

    def loss(self, x_region, kernel, srf, sample, x_base=None) -> torch.Tensor:
        """``mean|(X*K)↓s − Y| + mean|P·X − Z|`` over valid pixels of the crop (+ TV prior)."""
        region, inner, lr_inner, hr_global, lr_global = sample
        y_hat = blur_downsample(x_region, kernel, self.scale)[:, lr_inner[0], lr_inner[1]]
        w_lr = self.hv[lr_global].to(x_region.dtype)
        lr_term = (torch.abs(y_hat - self.y[:, lr_global[0], lr_global[1]]) * w_lr).sum() / (w_lr.sum() * y_hat.shape[0] + 1e-12)
        xi = x_region[:, inner[0], inner[1]]
        z_hat = project(xi, srf)
        w_hr = self.mv[hr_global].to(x_region.dtype)
        hr_term = (torch.abs(z_hat - self.z[:, hr_global[0], hr_global[1]]) * w_hr).sum() / (w_hr.sum() * z_hat.shape[0] + 1e-12)
        data = lr_term + hr_term
        if self.tv_weight > 0:
            if self.cfg.tv_on == "correction" and x_base is not None:
                xi = xi - x_base[:, inner[0], inner[1]]
            tv = (xi[:, 1:] - xi[:, :-1]).abs().mean() + (xi[:, :, 1:] - xi[:, :, :-1]).abs().mean()
            return data + self.tv_weight * self.tv_scale * tv
        return data

    def run(self):
        cfg = self.cfg
        opt_net = torch.optim.Adam(self.net.parameters(), lr=cfg.lr_reconstruction)
        opt_deg = torch.optim.Adam(list(self.kernel_layer.parameters()) + list(self.response_layer.parameters()),
                                   lr=cfg.lr_degradation)
        losses: dict[str, list[float]] = {"degradation": [], "reconstruction": []}
        self.refresh()
        self.pool_size = 0 if self.scene.cached else self._pool_size()
        self._calibrate_tv()
        total = max(1, cfg.outer_iterations)
        for outer in range(cfg.outer_iterations):
            if cfg.mode == "alternating":
                losses["degradation"].append(self._steps(opt_deg, cfg.inner_iterations, train_net=False, train_deg=True))
                self.refresh()
                losses["reconstruction"].append(self._steps(opt_net, cfg.inner_iterations, train_net=True, train_deg=False))
            elif cfg.mode == "separate":
                losses["reconstruction"].append(self._steps(opt_net, cfg.inner_iterations, train_net=True, train_deg=False))
            else:
                losses["reconstruction"].append(self._steps((opt_net, opt_deg), cfg.inner_iterations, train_net=True, train_deg=True))
                self.refresh()
            self.renew_pool()
            self.report(0.25 + 0.65 * (outer + 1) / total,
                        f"fusion, outer iteration {outer + 1}/{cfg.outer_iterations}: loss {losses['reconstruction'][-1]:.3e}")
        self.scene.forget()
        self.pool.clear()
        with torch.no_grad():
            kernel = self.kernel_layer().cpu().numpy().astype(np.float64)
            srf = self.response_layer().cpu().numpy().astype(np.float64)
            self.refresh()
        return kernel / kernel.sum(), srf, losses

    def _calibrate_tv(self) -> None:
        """Scale-free prior: on the starting image, the TV term weighs tv_weight times the data terms."""
        if self.tv_weight <= 0:
            return
        sample = self.sample_region()
        with torch.no_grad():
            x_start, _ = self.scene.window(*sample[0], keep=True)
            inner = sample[1]
            xi = x_start[:, inner[0], inner[1]]
            tv = (xi[:, 1:] - xi[:, :-1]).abs().mean() + (xi[:, :, 1:] - xi[:, :, :-1]).abs().mean()
            saved, self.tv_weight = self.tv_weight, 0.0
            data = self.loss(x_start, self.kernel_layer(), self.response_layer(), sample)
            self.tv_weight = saved
        self.tv_scale = float(data) / max(float(tv), 1e-12)

    def _steps(self, optimizers, steps: int, train_net: bool, train_deg: bool) -> float:
        opts = optimizers if isinstance(optimizers, tuple) else (optimizers,)
        total = 0.0
        for _ in range(steps):
            self.report.check()
            sample = self.sample_region()
            for o in opts:
                o.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(train_net):
                x_region, x_base = self.image_and_start(sample[0], keep=True)
            if not train_net:
                x_region = x_region.detach()
            with torch.set_grad_enabled(train_deg):
                kernel, srf = self.kernel_layer(), self.response_layer()
            if not train_deg:
                kernel, srf = kernel.detach(), srf.detach()
            loss = self.loss(x_region, kernel, srf, sample, x_base)
            loss.backward()
            for o in opts:
                o.step()
            total += float(loss.detach())
        return total / max(1, steps)

    def _shape_smoothing(self) -> dict | None:
        """The classical start's dark-pixel spectral smoothing, for a backbone start (whose
        refinement does not have it). Not for a classical start, fitted or not: since the start is
        built from the denoised MSI and the TV prior holds the network's correction, smoothing the
        fitted output measured -0.12..+0.06 dB on the training scenes and -2.2 dB on
        the small synthetic scene (docs/network_prior.md). Its MSI noise level is the one before
        denoising, capped by the LR identity (uncapped, texture inflated it 4-8 times)."""
        if not self.cfg.output_shape_smoothing or self.scene.method != "backbone":
            return None
        sigma = 0.7
        noise = self.msi_noise if self.msi_noise is not None else flat_block_noise_sigma(self.z)
        if self.cfg.noise_cap:
            with torch.no_grad():
                kernel, srf = self.kernel_layer(), self.response_layer()
                cap = lr_identity_noise_cap(self.y, blur_downsample(self.z, kernel, self.scale), kernel, srf, self.hv)
            noise = torch.minimum(noise, cap)
        return {"sigma": sigma, "snr": 30.0, "noise": float(torch.sqrt((noise ** 2).sum())),
                "floor": 0.05 * float(self.y.sum(0).mean().clamp_min(1e-12)), "reach": int(math.ceil(3 * sigma)) + 1}

    def render(self, tile: int, put: Callable[[slice, slice, torch.Tensor], None]) -> None:
        """The whole HR image, tile by tile; each tile is computed with a halo covering the
        network's receptive field, so tiles meet without seams."""
        height, width = self.z.shape[1:]
        shape = self._shape_smoothing()
        halo = self.net.receptive_radius + 1 + (shape["reach"] if shape else 0)
        tiles = [(r0, c0) for r0 in range(0, height, tile) for c0 in range(0, width, tile)]
        with torch.no_grad():
            for i, (r0, c0) in enumerate(tiles):
                self.report(0.9 + 0.1 * i / len(tiles), f"writing tile {i + 1}/{len(tiles)}")
                r1, c1 = min(height, r0 + tile), min(width, c0 + tile)
                a, b = max(0, r0 - halo), min(height, r1 + halo)
                c, d = max(0, c0 - halo), min(width, c1 + halo)
                x = self.image_on((slice(a, b), slice(c, d)))
                if shape:
                    smooth_shape_where_dark_(x, self.z[:, a:b, c:d], shape["noise"], shape["sigma"],
                                             shape["snr"], shape["floor"])
                put(slice(r0, r1), slice(c0, c1), x[:, r0 - a : r1 - a, c0 - c : c1 - c])
