"""Blind estimation of the blur kernel K and the spectral response P before touching X.

``Y = (X*K)↓s`` and ``Z = P·X`` imply ``(Z*K)↓s = P·Y``: an identity between the two observations
that holds for the unknown X (as HySure exploits). Both sides are linear in one unknown when the
other is fixed, so K and P are found by alternating least squares:

- P given K: each MSI band is a non-negative, spectrally smooth combination of the LR-HSI bands
  matching the blurred, downsampled MSI band (non-negative least squares);
- K given P: the kernel on the probability simplex (non-negative, sums to 1), spatially smooth,
  matching ``P·Y`` (accelerated projected gradient on the normal equations).

This is fast (seconds) and far more accurate than descending the fusion loss with small learning
rates, which barely moves K. The fusion later refines K and P against the current estimate of X.

**Kernel support.** Unless the caller gives ``kernel_size``, the support is chosen from the data:
the kernel is first fitted on the default support (``2·scale + 1``); if more than
:data:`KERNEL_BORDER_LIMIT` of its mass lies on the one-pixel frame of that support, the blur is
cut off there (a wider blur piles what the support cannot reach onto its border), so the kernel is
fitted again on a wider support: 3·scale + 1, then, while still cut off, 5·scale + 1 and the widest
the search allows (:func:`~.kernels.widest_kernel_size`, 7·scale + 1, also bounded by the number of
LR pixels and by :data:`_MAX_SEARCH_SIZE`); the first kernel off its border, or the last, is
cropped to the smallest centred square that holds all but :data:`_CROP_LOSS` of its mass (plus a
one-pixel frame) and refitted there. The wide fits work on the normal equations (Gram matrices
accumulated over LR row chunks, see :class:`_GramProblem`), so their memory does not grow with the
number of pixels. The diagnostics record every support tried with its residual, the border mass of
the result, and a plain-language warning when the kernel still touches its border.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np
from scipy.optimize import nnls

from .blas import matmul
from .errors import InvalidInputError
from .kernels import (border_mass, centre_crop, centre_pad, default_kernel_size, gaussian_kernel_for_scale,
                      kernel_from_array, mass_extent, widest_kernel_size)
from .observations import NormalizedPair, normalize_pair
from .progress import Cancel, Progress, check_cancelled
from .responses import normalize_rows, srf_from_table
from .results import Degradation, EstimationDiagnostics

#: largest design matrix (entries) built for the kernel fit; samples are drawn below that.
_MAX_DESIGN_ENTRIES = 24_000_000

#: A kernel with more than this fraction of its mass on the one-pixel frame of its support is cut
#: off by that support (``kernel_truncated``); when the caller gave no ``kernel_size`` the support
#: then grows. Why 1 %: a kernel that fits its support has (almost) nothing on its frame (measured on
#: CAVE training scenes at x8 with the f_set motion kernels: at most 0.1 % at 30 dB, noise included),
#: while one cut off piles the mass it cannot reach there (8-98 % when 1-93 % of the blur lies
#: outside). Dropping the last 1 % of a kernel's mass changes its correlation with the full kernel by
#: about 0.002 (f_set kernels 05-07 cropped), so a kernel under the limit is as good as complete.
KERNEL_BORDER_LIMIT = 0.01
#: Mass a crop of the wide fit may leave out: noise scattered far from the blur and the faint end of
#: its tails (cropping 0.6 % of a motion kernel leaves its correlation at 1.000).
_CROP_LOSS = 0.005
#: Widest support the search fits (and the widest given support fitted from normal equations): a
#: blur that fills its support makes every FISTA step a dense size² x size² product, about 2 ms at
#: 49 (10-15 CPU s for a fit) and 6 ms at 63 (measured: 45 CPU s for a 55 px Gaussian at x16), and
#: the Gram matrix holds size⁴ float64 values (46 MB at 49). A wider ``kernel_size`` can be given.
_MAX_SEARCH_SIZE = 49
#: Multiply-adds spent on the Gram matrix of a wide fit (about a second on one core); LR blocks are
#: sampled below that (a 512 x 512 scene at x8 fits whole at 41 x 41).
_GRAM_BUDGET = 8e10


def estimate_degradation(hsi: np.ndarray, msi: np.ndarray, scale: int | None = None,
                         srf: np.ndarray | None = None, device: str = "auto", seed: int = 0,
                         progress: Progress | None = None, cancel: Cancel | None = None,
                         kernel_size: int | None = None, kernel: np.ndarray | None = None,
                         hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None,
                         hsi_wavelengths: np.ndarray | None = None, msi_mtf: float = 1.0,
                         msi_denoising: float = 0.85, msi_linearization: str = "auto",
                         changed_areas: str = "auto") -> Degradation:
    """Estimate K and P from the observations alone (see the module docstring).

    ``srf`` and ``kernel`` are optional starting points; by default the kernel starts as a Gaussian
    matched to the scale and the response from a non-negative least-squares fit. ``device`` is
    accepted for symmetry with :func:`fuse`; this step runs in NumPy/SciPy. ``msi_mtf`` below 1
    restores the MSI first, and a noisy MSI is denoised with ``msi_denoising`` (the fusion's
    setting; 0 = off) and K and P refitted on it (core/kernel_refit.py), as the fusion does with
    the same settings, so the kernel is the one that fusion uses. ``msi_linearization`` "auto"
    undoes a power-law response of the MSI's bands first where the pair shows one
    (core/msi_linearity.py), as the fusion does; ``changed_areas`` "auto" estimates K and P without
    the areas where the images disagree (core/pair_changes.py), as the fusion does.
    """
    pair = normalize_pair(hsi, msi, scale, hsi_valid, msi_valid)
    if msi_mtf < 1.0:
        from .msi_mtf import undo_msi_mtf          # torch-based; the estimate itself stays NumPy/SciPy
        pair = replace(pair, z=undo_msi_mtf(pair.z, msi_mtf, pair.msi_valid))
    from .kernel_refit import estimate_and_refit   # torch-based (the denoising); imports this module

    def estimate(p: NormalizedPair) -> Degradation:
        return estimate_and_refit(p, msi_denoising, srf=srf, kernel=kernel, kernel_size=kernel_size, seed=seed,
                                  progress=progress, cancel=cancel, hsi_wavelengths=hsi_wavelengths)

    deg = estimate(pair)
    changes = None
    if changed_areas == "auto":
        from .pair_changes import exclude_changes             # reads this module's footprint_valid
        deg, changes = exclude_changes(pair, deg, estimate)
        pair = changes.estimation_pair(pair)
    if msi_linearization == "auto":
        from .msi_linearity import linearize_and_estimate     # torch-based, as the refit
        pair, deg = linearize_and_estimate(pair, deg, estimate)
    deg.diagnostics.pair_changes = changes
    return deg


def estimate_normalized(pair: NormalizedPair, srf: np.ndarray | None = None,
                        kernel: np.ndarray | None = None, kernel_size: int | None = None,
                        seed: int = 0, rounds: int = 30, progress: Progress | None = None,
                        cancel: Cancel | None = None,
                        hsi_wavelengths: np.ndarray | None = None) -> Degradation:
    """Alternating least squares on ``(Z*K)↓s = P·Y`` for already normalized observations.

    ``kernel_size`` fixes the support; without it the support starts at the starting kernel's size
    (default ``2·scale + 1``) and grows when the kernel touches its border (module docstring).
    Supports up to the default size (and beyond :data:`_MAX_SEARCH_SIZE`) are fitted on the sampled
    design (``_MAX_DESIGN_ENTRIES``), wider ones on normal equations accumulated over the LR pixels
    (``_GRAM_BUDGET``).

    Diagnostics about the support (all sizes in MSI pixels, odd):

    - ``kernel_support``: the size of the returned kernel;
    - ``kernel_border_mass``: fraction of the returned kernel's mass on the one-pixel frame of its
      support (outermost row and column on each side), ``1 - K[1:-1, 1:-1].sum() / K.sum()``;
    - ``kernel_truncated``: that border mass is above :data:`KERNEL_BORDER_LIMIT` (1 %): the blur
      probably continues beyond the support;
    - ``kernel_support_tried``: ``[{"size", "residual", "border_mass"}, ...]`` in the order tried;
      ``residual`` is the RMS of ``(Z*K)↓s − P·Y`` on spatial differences (normalized units), all
      sizes of one search measured on the same LR samples;
    - ``kernel_support_limit``: the widest support the search could use (the given size when fixed);
    - ``kernel_warning``: a plain-language warning when truncated, else None.
    """
    t0 = time.perf_counter()
    s = pair.scale
    bands, msi_bands = pair.y.shape[0], pair.z.shape[0]
    fixed = kernel_size is not None
    size = kernel_size or (max(kernel.shape) if kernel is not None else default_kernel_size(s))
    size += 1 - size % 2
    k0 = kernel_from_array(kernel, size) if kernel is not None else gaussian_kernel_for_scale(s, size)
    p_start = srf_from_table(srf, msi_bands, bands) if srf is not None else None
    rng = np.random.default_rng(seed)
    known = hsi_wavelengths is not None and np.all(np.isfinite(hsi_wavelengths))
    order = np.argsort(hsi_wavelengths) if known else np.arange(bands)
    smooth_p = _second_difference(bands, order)
    limit = size if fixed else _search_limit(pair, size)
    share = 1.0 if limit <= size else 0.5

    # The first fit, on the starting support: up to the default size from the (sampled) design
    # itself, as always; a wider given support from its normal equations (all pixels in less memory),
    # unless its Gram matrix would be too large (beyond _MAX_SEARCH_SIZE).
    if size <= default_kernel_size(s) or size > _MAX_SEARCH_SIZE:
        blocks = _sample_blocks(pair, size, msi_bands, rng)
        first = _DesignProblem(*_block_samples(pair, size, blocks), size)
    else:
        first = _GramProblem(pair, size, rng, cancel)
    history: list[float] = []
    k, p = _alternate(first, k0, p_start, smooth_p, rounds, history, _sub(progress, 0.0, share), cancel)
    p_start_n = p_start if p_start is not None else _fit_response(first.y_samples, first.z_lr(k0), smooth_p, None)
    samples = first.samples
    tried = [{"size": size, "residual": history[-1] if history else float("nan"), "border_mass": border_mass(k)}]
    del first

    if border_mass(k) > KERNEL_BORDER_LIMIT and limit > size:
        k, p, samples = _widen(pair, k, p, k0, p_start, smooth_p, limit, rounds, rng, tried, history,
                               _sub(progress, share, 1.0), cancel)
    if progress:
        progress(1.0, f"degradation estimate done: {k.shape[0]}x{k.shape[0]} kernel")
    gain = p.sum(axis=1) * pair.z_unit / pair.y_unit
    b = border_mass(k)
    return Degradation(
        kernel=k, srf=normalize_rows(p), scale=s, msi_gain=gain,
        initial_kernel=k0, initial_srf=normalize_rows(p_start_n),
        diagnostics=EstimationDiagnostics(
            residuals=history, seconds=time.perf_counter() - t0, samples=samples, srf_normalized_units=p,
            kernel_support=int(k.shape[0]), kernel_border_mass=b, kernel_truncated=bool(b > KERNEL_BORDER_LIMIT),
            kernel_support_tried=tried, kernel_support_limit=int(limit),
            kernel_warning=_kernel_warning(k.shape[0], b, fixed, limit, s)))


def _sub(progress: Progress | None, a: float, b: float) -> Progress | None:
    """``progress`` with its fraction mapped onto ``[a, b]``."""
    if progress is None:
        return None
    return lambda f, msg: progress(a + (b - a) * f, msg)


def _alternate(problem, k: np.ndarray, p_start: np.ndarray | None, smooth_p: np.ndarray, rounds: int,
               history: list[float], progress: Progress | None, cancel: Cancel | None,
               tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Alternate P given K and K given P until K changes less than ``tol`` (L1) or ``rounds`` end.

    ``problem`` supplies ``z_lr(k)`` (the blurred, downsampled MSI at the P samples), ``y_samples``,
    ``kernel_step(k, p, iterations)`` and ``residual(k, p)``; appends the residual of each round to
    ``history`` and returns ``(k, p)`` with P refitted to the final K."""
    size = k.shape[0]
    fit_p = _ResponseFit(problem.y_samples, smooth_p, p_start)
    for r in range(rounds):
        check_cancelled(cancel)
        p = fit_p(problem.z_lr(k))
        k_new = problem.kernel_step(k, p, 400 if r == 0 else 200, cancel).reshape(size, size)
        change = float(np.abs(k_new - k).sum())
        k = k_new
        resid = problem.residual(k, p)
        history.append(resid)
        if progress:
            progress((r + 1) / rounds, f"degradation estimate, round {r + 1}/{rounds} ({size}x{size} kernel): "
                                       f"residual {resid:.2e}")
        if change < tol:
            break
    return k, fit_p(problem.z_lr(k))


def _search_limit(pair: NormalizedPair, size: int) -> int:
    """The widest support the search may fit: :func:`widest_kernel_size`, at most
    :data:`_MAX_SEARCH_SIZE`, and with no more kernel values than valid LR pixels (each LR pixel
    gives one equation per MSI band; beyond that the kernel is fitted to noise)."""
    lr_pixels = int(pair.hsi_valid.sum())
    by_data = int(np.sqrt(lr_pixels))
    by_data -= 1 - by_data % 2
    return max(size, min(widest_kernel_size(pair.scale), _MAX_SEARCH_SIZE, by_data))


def _widen(pair: NormalizedPair, k: np.ndarray, p: np.ndarray, k0: np.ndarray, p_start: np.ndarray | None,
           smooth_p: np.ndarray, limit: int, rounds: int, rng: np.random.Generator, tried: list[dict],
           history: list[float], progress: Progress | None, cancel: Cancel | None):
    """The kernel touched its border: grow the support, crop the kernel to its mass and refit.

    The support grows in up to three steps, to :func:`_step_sizes` (3·scale + 1, 5·scale + 1) and
    then to ``limit``,
    each fitted afresh from the starting kernel widened (a Gaussian matching the scale by default;
    not the cut-off fit, whose border pile would have to be unlearnt). The first step whose kernel
    keeps its border under :data:`KERNEL_BORDER_LIMIT`, or the last, is cropped to the smallest
    centred square holding all but :data:`_CROP_LOSS` of its mass plus a one-pixel frame and
    refitted there (kept if it stays off its border). A wide Gram matrix costs size⁴, so a blur up
    to 3·scale pixels wide never pays for the wider ones, nor one up to 5·scale for the widest.

    Returns ``(k, p, samples)``; ``tried`` gets one entry per support, with all residuals measured
    on the samples of the last (widest) problem, so that they compare."""
    fits = [(k, p)]
    sizes = [n for n in sorted({*_step_sizes(pair.scale), limit}) if tried[0]["size"] < n <= limit]
    share = 1.0 / len(sizes)
    for i, n in enumerate(sizes):
        wide = _GramProblem(pair, n, rng, cancel)
        step = _sub(progress, i * share, (i + 0.7) * share)
        k_w, p_w = _alternate(wide, centre_pad(k0, n), p_start, smooth_p, rounds, history, step, cancel)
        tried.append({"size": n, "border_mass": border_mass(k_w)})
        fits.append((k_w, p_w))
        if border_mass(k_w) <= KERNEL_BORDER_LIMIT or n == sizes[-1]:
            break
    size = min(n, mass_extent(k_w, 1.0 - _CROP_LOSS) + 2)
    if size < n:
        crop = centre_crop(k_w, size)
        wide.use_size(size)
        k_c, p_c = _alternate(wide, crop / crop.sum(), p_start, smooth_p, rounds, history,
                              _sub(progress, (i + 0.7) * share, (i + 1) * share), cancel)
        tried.append({"size": size, "border_mass": border_mass(k_c)})
        fits.append((k_c, p_c))
        if border_mass(k_c) <= KERNEL_BORDER_LIMIT:     # else the crop was too tight: keep the wide fit
            k_w, p_w = k_c, p_c
    for entry, (kk, pp) in zip(tried, fits):
        entry["residual"] = wide.residual(centre_pad(kk, n), pp)
    return k_w, p_w, wide.samples


def _step_sizes(scale: int) -> tuple[int, int]:
    """The search's steps before its widest: 3·scale + 1 and 5·scale + 1 (25 and 41 at x8), odd."""
    return tuple(n + 1 - n % 2 for n in (3 * int(scale) + 1, 5 * int(scale) + 1))


def _kernel_warning(size: int, mass: float, fixed: bool, limit: int, scale: int) -> str | None:
    """Plain-language warning when the kernel still touches the border of its support."""
    if not mass > KERNEL_BORDER_LIMIT:
        return None
    wider = int(np.ceil(1.5 * size)) | 1
    head = (f"the blur kernel still has {100 * mass:.1f} % of its mass on the border of its {size}x{size} "
            f"support")
    if fixed:
        return (f"{head} (the KERNEL_SIZE given): the blur is probably wider than {size} MSI pixels; give a "
                f"larger KERNEL_SIZE (e.g. {wider}) or leave it empty so that the estimate chooses the support")
    if size >= min(widest_kernel_size(scale), _MAX_SEARCH_SIZE):
        why = f"the widest the automatic search tries at scale {scale}"
    else:
        why = "the widest this image allows (no more kernel pixels than valid HSI pixels)"
    return (f"{head}, {why}: the blur may be wider than {size} MSI pixels, or the two images misregistered by "
            f"more than half an HSI pixel; check the registration, or give KERNEL_SIZE (e.g. {wider}) to fit a "
            f"wider kernel")


def _sample_blocks(pair: NormalizedPair, size: int, msi_bands: int,
                   rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """LR blocks ``(row, col, height, width)`` to fit on: the whole image when it fits the budget,
    else random square blocks (contiguous, so spatial differences can be taken inside them)."""
    h, w = pair.y.shape[1:]
    per_pixel = msi_bands * size * size * 3
    budget = max(64, _MAX_DESIGN_ENTRIES // per_pixel)
    if h * w <= budget:
        return [(0, 0, h, w)]
    side = min(h, w, 48)
    count = max(1, budget // (side * side))
    return [(int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side, side)
            for _ in range(count)]


def footprint_valid(pair: NormalizedPair, size: int) -> np.ndarray:
    """LR pixels whose HSI value and whole MSI footprint are valid."""
    s = pair.scale
    h, w = pair.y.shape[1:]
    ok = pair.hsi_valid.copy()
    if not pair.msi_valid.all():
        from scipy.ndimage import minimum_filter

        mv = minimum_filter(pair.msi_valid.astype(np.uint8), size=size, mode="nearest").astype(bool)
        ok &= mv[s // 2 :: s, s // 2 :: s][:h, :w]
    return ok


def _block_samples(pair: NormalizedPair, size: int, blocks):
    """Design and targets at valid pixels, and their horizontal/vertical differences (float64,
    made block by block: a float64 copy of a large MSI would be twice its size).

    Returns ``design (m, n, k²)``, ``y_samples (bands, n)``, ``grad_design (m, n', k²)``,
    ``grad_y (bands, n')``.
    """
    ok = footprint_valid(pair, size)
    d_rows, y_rows, gd_rows, gy_rows = [], [], [], []
    for r0, c0, bh, bw in blocks:
        d = _block_design(pair.z, pair.scale, size, r0, c0, bh, bw)
        yb = pair.y[:, r0 : r0 + bh, c0 : c0 + bw].astype(np.float64)
        okb = ok[r0 : r0 + bh, c0 : c0 + bw]
        d_rows.append(d[:, okb])
        y_rows.append(yb[:, okb])
        for axis in (1, 2):
            sl_a = [slice(None)] * 2
            sl_b = [slice(None)] * 2
            sl_a[axis - 1], sl_b[axis - 1] = slice(1, None), slice(None, -1)
            pair_ok = okb[tuple(sl_a)] & okb[tuple(sl_b)]
            gd = d[(slice(None), *sl_a)] - d[(slice(None), *sl_b)]
            gy = yb[(slice(None), *sl_a)] - yb[(slice(None), *sl_b)]
            gd_rows.append(gd[:, pair_ok])
            gy_rows.append(gy[:, pair_ok])
    design, y_samples = np.concatenate(d_rows, axis=1), np.concatenate(y_rows, axis=1)
    if y_samples.shape[1] < 4:
        raise InvalidInputError("fewer than 4 valid HSI pixels overlap valid MSI pixels; nothing to estimate from")
    grad_design, grad_y = np.concatenate(gd_rows, axis=1), np.concatenate(gy_rows, axis=1)
    if grad_y.shape[1] < 4:
        grad_design, grad_y = design, y_samples
    return design, y_samples, grad_design, grad_y


def _block_design(z: np.ndarray, scale: int, size: int, r0: int, c0: int, bh: int, bw: int) -> np.ndarray:
    """Flipped MSI patches (float64) under the LR block ``(r0, c0, bh, bw)``: ``design @ k.ravel()
    = ((Z*K)↓s)`` there, ``(msi bands, bh, bw, size²)``. Read from the block's own window of the
    MSI (:func:`_block_window`), never from a padded copy of the whole MSI."""
    win = _block_window(z, scale, size, r0, c0, bh, bw).astype(np.float64)
    r, c, d = np.arange(bh) * scale, np.arange(bw) * scale, np.arange(size)
    patches = win[:, r[:, None, None, None] + d[None, None, :, None],
                  c[None, :, None, None] + d[None, None, None, :]]
    return np.ascontiguousarray(patches[..., ::-1, ::-1].reshape(z.shape[0], bh, bw, size * size))


def _second_difference(n: int, order: np.ndarray) -> np.ndarray:
    """Second differences along the wavelength order (a smoothness prior on response rows)."""
    if n < 3:
        return np.zeros((0, n))
    d = np.zeros((n - 2, n))
    for i in range(n - 2):
        d[i, order[i]], d[i, order[i + 1]], d[i, order[i + 2]] = 1.0, -2.0, 1.0
    return d


def _fit_response(y_samples: np.ndarray, z_lr: np.ndarray, smooth: np.ndarray,
                  start: np.ndarray | None, smoothness: float = 1e-3, prior: float = 1e-2) -> np.ndarray:
    """Non-negative, smooth rows ``p_m`` with ``p_m · Y ≈ (Z_m*K)↓s`` (in normalized units).

    With a starting response, rows are also pulled toward it (scaled by a least-squares gain), so
    a user's table is refined rather than replaced. (One call of :class:`_ResponseFit`.)
    """
    return _ResponseFit(y_samples, smooth, start, smoothness, prior)(z_lr)


class _ResponseFit:
    """:func:`_fit_response` for fixed HSI samples: the stacked least-squares matrix (samples,
    smoothness rows, pull toward the start) is the same for every MSI band and every round, so it
    is reduced once by a thin QR (``||a x − b||² = ||r x − qᵀb||² + const``, the same minimizer under
    any constraint) and each NNLS then works on ``bands x bands`` instead of ``samples x bands``."""

    def __init__(self, y_samples: np.ndarray, smooth: np.ndarray, start: np.ndarray | None,
                 smoothness: float = 1e-3, prior: float = 1e-2):
        bands = y_samples.shape[0]
        self.y_samples, self.start, self.smooth_rows = y_samples, start, smooth.shape[0]
        energy = float(np.sum(y_samples**2)) / bands
        self.prior_w = np.sqrt(prior * energy)
        blocks = [y_samples.T, np.sqrt(smoothness * energy) * smooth]
        if start is not None:
            blocks.append(self.prior_w * np.eye(bands))
        a = np.vstack(blocks)
        if a.shape[0] > 2 * bands:
            self.q, self.r = np.linalg.qr(a)
        else:
            self.q, self.r = None, a

    def __call__(self, z_lr: np.ndarray) -> np.ndarray:
        bands = self.y_samples.shape[0]
        rows = []
        for m in range(z_lr.shape[0]):
            rhs = [z_lr[m], np.zeros(self.smooth_rows)]
            if self.start is not None:
                pred = matmul(self.start[m], self.y_samples)
                gain = float(matmul(pred, z_lr[m]) / max(matmul(pred, pred), 1e-12))
                rhs.append(self.prior_w * gain * self.start[m])
            b = np.concatenate(rhs)
            sol, _ = nnls(self.r, b if self.q is None else matmul(self.q.T, b), maxiter=50 * bands)
            if sol.sum() <= 0:
                raise InvalidInputError(
                    f"MSI band {m + 1} cannot be explained by any HSI band (its response came out zero): "
                    "do the two images show the same place and overlapping wavelengths?")
            rows.append(sol)
        return np.asarray(rows)


def _block_window(z: np.ndarray, scale: int, size: int, r0: int, c0: int, bh: int, bw: int) -> np.ndarray:
    """The MSI (float32) under the LR block ``(r0, c0, bh, bw)`` with the margin a ``size`` kernel's
    patches reach, mirrored at the image border as ``np.pad(mode="reflect")`` would (clamped to
    the edge for an MSI no larger than half the kernel)."""
    lead = scale // 2 - size // 2
    return _window(z, r0 * scale + lead, (r0 + bh - 1) * scale + lead + size, c0 * scale + lead,
                   (c0 + bw - 1) * scale + lead + size, min(z.shape[1:]) > size // 2)


def _window(image: np.ndarray, r0: int, r1: int, c0: int, c1: int, reflect: bool) -> np.ndarray:
    """``image[:, r0:r1, c0:c1]`` as float32, indices outside the image mirrored (``reflect``, the
    edge pixel not repeated, as ``np.pad(mode="reflect")``) or clamped to the edge."""
    def fold(i: np.ndarray, n: int) -> np.ndarray:
        if not reflect or n == 1:
            return np.clip(i, 0, n - 1)
        i = np.abs(i) % (2 * n - 2)
        return np.where(i >= n, 2 * n - 2 - i, i)

    rows, cols = fold(np.arange(r0, r1), image.shape[1]), fold(np.arange(c0, c1), image.shape[2])
    return np.ascontiguousarray(image[:, rows][:, :, cols], dtype=np.float32)


class _DesignProblem:
    """The kernel fit on an explicit (sampled) design: ``design @ k`` is ``(Z*K)↓s`` at the P samples,
    ``grad_design @ k`` its spatial differences (the kernel is fitted on those)."""

    def __init__(self, design: np.ndarray, y_samples: np.ndarray, grad_design: np.ndarray,
                 grad_y: np.ndarray, size: int):
        self.design, self.y_samples = design, y_samples
        self.grad_design, self.grad_y = grad_design, grad_y
        self.samples = int(y_samples.shape[1])
        self.solver = _KernelSolver(grad_design, size)

    def z_lr(self, k: np.ndarray) -> np.ndarray:
        return np.einsum("mnk,k->mn", self.design, k.ravel())

    def kernel_step(self, k: np.ndarray, p: np.ndarray, iterations: int, cancel: Cancel | None = None) -> np.ndarray:
        return self.solver.solve(matmul(p, self.grad_y), k.ravel(), iterations)

    def residual(self, k: np.ndarray, p: np.ndarray) -> float:
        r = np.einsum("mnk,k->mn", self.grad_design, k.ravel()) - matmul(p, self.grad_y)
        return float(np.sqrt(np.mean(r * r)))


class _GramProblem:
    """The kernel fit at a wide support from its normal equations, without keeping the design.

    Over LR row chunks of the sampled blocks, with ``a`` the flipped MSI patch differences (one row
    per pair of neighbouring LR pixels and MSI band) and ``ΔY`` the LR-HSI differences, it
    accumulates ``G = Σ a aᵀ / n``, ``C_m = Σ a_m ΔYᵀ / n`` (per MSI band) and ``YY = Σ ΔY ΔYᵀ / n``
    (in float64 on torch). The kernel step is the same smooth,
    simplex-constrained least squares as :class:`_KernelSolver`; any centred sub-support uses the
    matching block of ``G`` (:meth:`use_size`), and the residual of any kernel and response is
    ``kᵀGk − 2kᵀΣ_m C_m p_m + Σ_m p_mᵀ YY p_m``. ``z_lr`` (for the response fit) is a strided
    convolution of the padded MSI at the sampled blocks."""

    def __init__(self, pair: NormalizedPair, size: int, rng: np.random.Generator, cancel: Cancel | None = None):
        import torch

        self.full = size
        self.scale = s = pair.scale
        msi_bands, bands = pair.z.shape[0], pair.y.shape[0]
        self.ok = footprint_valid(pair, size)
        h, w = pair.y.shape[1:]
        per_pixel = 2.0 * msi_bands * float(size) ** 4
        budget = max(64, int(_GRAM_BUDGET // per_pixel))
        if int(self.ok.sum()) <= budget:
            self.blocks = [(0, 0, h, w)]
        else:
            side = min(h, w, 48)
            count = max(1, budget // (side * side))
            self.blocks = [(int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side, side)
                           for _ in range(count)]
        # each block's MSI with the margin its patches reach; not a padded copy of the whole MSI
        self.regions = [torch.from_numpy(_block_window(pair.z, s, size, *block)) for block in self.blocks]
        y = torch.from_numpy(pair.y.astype(np.float64))
        ok = torch.from_numpy(self.ok)
        n2 = size * size
        gram = torch.zeros((n2, n2), dtype=torch.float64)
        cross = torch.zeros((msi_bands, n2, bands), dtype=torch.float64)
        yy = torch.zeros((bands, bands), dtype=torch.float64)
        rows = 0
        y_parts = []
        for (r0, c0, bh, bw), zb in zip(self.blocks, self.regions):
            y_parts.append(pair.y[:, r0 : r0 + bh, c0 : c0 + bw][:, self.ok[r0 : r0 + bh, c0 : c0 + bw]])
            chunk = max(1, int(4_000_000 // (msi_bands * n2 * bw)))
            for a in range(r0, r0 + bh, chunk):
                check_cancelled(cancel)
                b = min(r0 + bh, a + chunk)
                e = min(r0 + bh, b + 1)                 # one more row for the vertical differences
                region = zb[:, (a - r0) * s : (e - 1 - r0) * s + size]
                u = torch.nn.functional.unfold(region[:, None], kernel_size=size, stride=s)
                u = u.reshape(msi_bands, n2, e - a, bw)          # natural (unflipped) patch order
                yb, okb = y[:, a:e, c0 : c0 + bw], ok[a:e, c0 : c0 + bw]
                pieces = [(u[:, :, : b - a, 1:] - u[:, :, : b - a, :-1], yb[:, : b - a, 1:] - yb[:, : b - a, :-1],
                           okb[: b - a, 1:] & okb[: b - a, :-1])]
                if e - a > 1:
                    m_rows = min(b - a, e - a - 1)
                    pieces.append((u[:, :, 1 : m_rows + 1] - u[:, :, :m_rows], yb[:, 1 : m_rows + 1] - yb[:, :m_rows],
                                   okb[1 : m_rows + 1] & okb[:m_rows]))
                for du, dy, keep in pieces:
                    if not bool(keep.any()):
                        continue
                    du, dy = du[:, :, keep], dy[:, keep]               # (m, n2, n), (bands, n)
                    # float64 products: float32 sums differ with the BLAS and its threads (QGIS loads
                    # another BLAS; Dask workers run one thread), and the kernel would with them
                    du = du.double()
                    flat = du.permute(0, 2, 1).reshape(-1, n2)
                    gram += flat.T @ flat
                    cross += torch.matmul(du, dy.T)
                    yy += dy @ dy.T
                    rows += flat.shape[0]
        if rows == 0 or sum(part.shape[1] for part in y_parts) < 4:
            raise InvalidInputError("too few valid HSI pixels overlap valid MSI pixels to fit a wide blur kernel")
        # natural patch order -> flipped (the design of a true convolution): reverse the kernel index
        self.gram_full = (gram / rows).numpy()[::-1, ::-1].copy()
        self.cross_full = (cross / rows).numpy()[:, ::-1, :].copy()
        self.yy = (yy / rows).numpy()
        self.y_samples = np.concatenate(y_parts, axis=1).astype(np.float64)
        self.samples = int(self.y_samples.shape[1])
        self.use_size(size)

    def use_size(self, size: int) -> None:
        """Fit a centred ``size`` x ``size`` kernel from now on (``size <= `` the wide support)."""
        off = (self.full - size) // 2
        idx = ((np.arange(size)[:, None] + off) * self.full + (np.arange(size)[None, :] + off)).ravel()
        self.size, self.idx = size, idx
        self.gram = self.gram_full[np.ix_(idx, idx)]
        self.cross = self.cross_full[:, idx, :]
        self.solver = _GramSolver(self.gram, size)

    def z_lr(self, k: np.ndarray) -> np.ndarray:
        import torch

        size, s = k.shape[0], self.scale
        o = (self.full - size) // 2
        w = torch.from_numpy(np.ascontiguousarray(k[::-1, ::-1], dtype=np.float32)).reshape(1, 1, size, size)
        parts = []
        for (r0, c0, bh, bw), zb in zip(self.blocks, self.regions):
            region = zb[:, o : o + (bh - 1) * s + size, o : o + (bw - 1) * s + size]
            out = torch.nn.functional.conv2d(region[:, None], w, stride=s)[:, 0]
            parts.append(out.numpy()[:, self.ok[r0 : r0 + bh, c0 : c0 + bw]])
        return np.concatenate(parts, axis=1).astype(np.float64)

    def kernel_step(self, k: np.ndarray, p: np.ndarray, iterations: int, cancel: Cancel | None = None) -> np.ndarray:
        h = np.einsum("mkb,mb->k", self.cross, p)
        return self.solver.solve(h, k.ravel(), iterations)

    def residual(self, k: np.ndarray, p: np.ndarray) -> float:
        """RMS residual of a kernel on the current or the full wide support."""
        kv = k.ravel()
        if kv.size == self.full * self.full:
            g, c = self.gram_full, self.cross_full
        else:
            g, c = self.gram, self.cross
        h = np.einsum("mkb,mb->k", c, p)
        r2 = float(matmul(kv, matmul(g, kv)) - 2.0 * matmul(kv, h) + np.einsum("mb,bc,mc->", p, self.yy, p))
        return float(np.sqrt(max(r2, 0.0)))


class _KernelSolver:
    """Minimizes ``||A k - b||² + λ||∇k||²`` over the simplex (k >= 0, sum k = 1) by FISTA."""

    def __init__(self, design: np.ndarray, size: int, smoothness: float = 1e-4):
        a = design.reshape(-1, size * size)
        self.design = a
        self.n = a.shape[0]
        energy = float(np.sum(a * a)) / self.n
        self.lap = smoothness * energy / (size * size) * _gradient_gram(size)
        # With fewer samples than unknowns, multiplying by A and Aᵀ beats forming AᵀA.
        self.gram = matmul(a.T, a) / self.n + self.lap.toarray() if self.n >= size * size else None
        self.lipschitz = _largest_eigenvalue(self._apply, size * size)

    def _apply(self, v: np.ndarray) -> np.ndarray:
        if self.gram is not None:
            return matmul(self.gram, v)
        return matmul(self.design.T, matmul(self.design, v)) / self.n + self.lap @ v

    def solve(self, target: np.ndarray, start: np.ndarray, iterations: int) -> np.ndarray:
        h = matmul(self.design.T, target.reshape(-1)) / self.n
        x = start.copy()
        v, t = x.copy(), 1.0
        step = 1.0 / self.lipschitz
        for _ in range(iterations):
            x_new = project_simplex(v - step * (self._apply(v) - h))
            t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
        return x


class _GramSolver:
    """The problem of :class:`_KernelSolver` from a given Gram matrix (``AᵀA / n``), solved on a
    working set.

    A blur fills a small part of a wide support (a motion kernel a tenth of it), and FISTA's
    iterates are zero wherever the simplex projection cuts them off. So each solve runs FISTA on the
    pixels where the start has mass, grown by one pixel, with the rows and columns of the full
    matrix there; then one projected gradient step of the *full* problem shows whether mass wants
    to enter pixels outside that set, which are then added (grown by one pixel) and the solve goes
    on. It stops when no pixel outside wants mass: then the working-set solution is a fixed point
    of the full problem's projected gradient step, i.e. the same minimizer (the step size is the
    full matrix's). Products are in float64 (the same kernel with any BLAS and thread count)."""

    def __init__(self, gram: np.ndarray, size: int, smoothness: float = 1e-4):
        import torch

        energy = float(np.trace(gram))
        q = gram + smoothness * energy / (size * size) * _gradient_gram(size).toarray()
        self.size = size
        self.lipschitz = _largest_eigenvalue(lambda v: matmul(q, v), size * size)
        self.q = torch.from_numpy(np.ascontiguousarray(q, dtype=np.float64))

    def solve(self, h: np.ndarray, start: np.ndarray, iterations: int, max_sweeps: int = 8) -> np.ndarray:
        import torch
        from scipy.ndimage import binary_dilation

        step = 1.0 / self.lipschitz
        x = start.copy()
        grid = (self.size, self.size)
        work = binary_dilation((x > 0).reshape(grid), iterations=1).ravel()
        for _ in range(max_sweeps):
            idx = np.flatnonzero(work)
            ti = torch.from_numpy(idx)
            q_w = self.q.index_select(0, ti).index_select(1, ti)
            h_w = h[idx]
            xw = x[idx]
            v, t = xw.copy(), 1.0
            for _ in range(iterations):
                grad = (q_w @ torch.from_numpy(v)).numpy() - h_w
                x_new = project_simplex(v - step * grad)
                t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
                v = x_new + (t - 1) / t_new * (x_new - xw)
                xw, t = x_new, t_new
            x = np.zeros_like(x)
            x[idx] = xw
            grad = (self.q @ torch.from_numpy(x)).numpy() - h
            enter = (project_simplex(x - step * grad) > 0) & ~work
            if not enter.any():
                break
            work |= binary_dilation(enter.reshape(grid), iterations=1).ravel()
        return x


def _gradient_gram(size: int) -> np.ndarray:
    """``Dxᵀ Dx + Dyᵀ Dy`` for finite differences on a size x size grid."""
    from scipy import sparse

    d = sparse.diags([-np.ones(size - 1), np.ones(size - 1)], [0, 1], shape=(size - 1, size))
    eye = sparse.identity(size)
    dx, dy = sparse.kron(eye, d), sparse.kron(d, eye)
    return (dx.T @ dx + dy.T @ dy).tocsr()


def _largest_eigenvalue(apply: Callable[[np.ndarray], np.ndarray], n: int, iterations: int = 50) -> float:
    v = np.ones(n) / np.sqrt(n)
    lam = 1.0
    for _ in range(iterations):
        w = apply(v)
        lam = float(np.linalg.norm(w))
        v = w / max(lam, 1e-30)
    return lam * 1.05


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto ``{x >= 0, sum x = 1}`` (Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    ind = np.arange(1, v.size + 1)
    rho = np.nonzero(u - css / ind > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)
