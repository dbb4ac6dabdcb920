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
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
from scipy.optimize import nnls

from .errors import InvalidInputError
from .kernels import default_kernel_size, gaussian_kernel_for_scale, kernel_from_array
from .observations import NormalizedPair, normalize_pair
from .progress import Cancel, Progress, check_cancelled
from .responses import normalize_rows, srf_from_table
from .results import Degradation, EstimationDiagnostics

#: largest design matrix (entries) built for the kernel fit; samples are drawn below that.
_MAX_DESIGN_ENTRIES = 24_000_000


def estimate_degradation(hsi: np.ndarray, msi: np.ndarray, scale: int | None = None,
                         srf: np.ndarray | None = None, device: str = "auto", seed: int = 0,
                         progress: Progress | None = None, cancel: Cancel | None = None,
                         kernel_size: int | None = None, kernel: np.ndarray | None = None,
                         hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None,
                         hsi_wavelengths: np.ndarray | None = None) -> Degradation:
    """Estimate K and P from the observations alone (see the module docstring).

    ``srf`` and ``kernel`` are optional starting points; by default the kernel starts as a Gaussian
    matched to the scale and the response from a non-negative least-squares fit. ``device`` is
    accepted for symmetry with :func:`fuse`; this step runs in NumPy/SciPy.
    """
    pair = normalize_pair(hsi, msi, scale, hsi_valid, msi_valid)
    return estimate_normalized(pair, srf=srf, kernel=kernel, kernel_size=kernel_size, seed=seed,
                               progress=progress, cancel=cancel, hsi_wavelengths=hsi_wavelengths)


def estimate_normalized(pair: NormalizedPair, srf: np.ndarray | None = None,
                        kernel: np.ndarray | None = None, kernel_size: int | None = None,
                        seed: int = 0, rounds: int = 30, progress: Progress | None = None,
                        cancel: Cancel | None = None,
                        hsi_wavelengths: np.ndarray | None = None) -> Degradation:
    """Alternating least squares on ``(Z*K)↓s = P·Y`` for already normalized observations."""
    t0 = time.perf_counter()
    y, z, s = pair.y.astype(np.float64), pair.z.astype(np.float64), pair.scale
    bands, msi_bands = y.shape[0], z.shape[0]
    size = kernel_size or (max(kernel.shape) if kernel is not None else default_kernel_size(s))
    size += 1 - size % 2
    k0 = kernel_from_array(kernel, size) if kernel is not None else gaussian_kernel_for_scale(s, size)
    p_start = srf_from_table(srf, msi_bands, bands) if srf is not None else None
    rng = np.random.default_rng(seed)

    blocks = _sample_blocks(pair, size, msi_bands, rng)
    design, y_samples, grad_design, grad_y = _block_samples(pair, size, blocks, y, z)
    order = np.argsort(hsi_wavelengths) if hsi_wavelengths is not None and np.all(np.isfinite(hsi_wavelengths)) else np.arange(bands)
    smooth_p = _second_difference(bands, order)
    # The kernel is fitted on spatial differences: edges carry the blur, flat areas only the mean.
    solver = _KernelSolver(grad_design, size)

    k = k0.copy()
    history = []
    p = None
    for r in range(rounds):
        check_cancelled(cancel)
        z_lr = np.einsum("mnk,k->mn", design, k.ravel())
        p = _fit_response(y_samples, z_lr, smooth_p, p_start)
        target = p @ grad_y
        k_new = solver.solve(target, k.ravel(), iterations=400 if r == 0 else 200).reshape(size, size)
        change = float(np.abs(k_new - k).sum())
        k = k_new
        resid = float(np.mean(np.abs(np.einsum("mnk,k->mn", grad_design, k.ravel()) - target)))
        history.append(resid)
        if progress:
            progress((r + 1) / rounds, f"degradation estimate, round {r + 1}/{rounds}: residual {resid:.2e}")
        if change < 1e-4:
            break
    z_lr = np.einsum("mnk,k->mn", design, k.ravel())
    p = _fit_response(y_samples, z_lr, smooth_p, p_start)
    p_start_n = p_start if p_start is not None else _fit_response(
        y_samples, np.einsum("mnk,k->mn", design, k0.ravel()), smooth_p, None)
    gain = p.sum(axis=1) * pair.z_unit / pair.y_unit
    return Degradation(
        kernel=k, srf=normalize_rows(p), scale=s, msi_gain=gain,
        initial_kernel=k0, initial_srf=normalize_rows(p_start_n),
        diagnostics=EstimationDiagnostics(residuals=history, seconds=time.perf_counter() - t0,
                                          samples=int(y_samples.shape[1]), srf_normalized_units=p))


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


def _valid_lr(pair: NormalizedPair, size: int) -> np.ndarray:
    """LR pixels whose HSI value and whole MSI footprint are valid."""
    s = pair.scale
    h, w = pair.y.shape[1:]
    ok = pair.hsi_valid.copy()
    if not pair.msi_valid.all():
        from scipy.ndimage import minimum_filter

        mv = minimum_filter(pair.msi_valid.astype(np.uint8), size=size, mode="nearest").astype(bool)
        ok &= mv[s // 2 :: s, s // 2 :: s][:h, :w]
    return ok


def _block_samples(pair: NormalizedPair, size: int, blocks, y: np.ndarray, z: np.ndarray):
    """Design and targets at valid pixels, and their horizontal/vertical differences.

    Returns ``design (m, n, k²)``, ``y_samples (bands, n)``, ``grad_design (m, n', k²)``,
    ``grad_y (bands, n')``.
    """
    ok = _valid_lr(pair, size)
    d_rows, y_rows, gd_rows, gy_rows = [], [], [], []
    for r0, c0, bh, bw in blocks:
        rr, cc = np.meshgrid(np.arange(r0, r0 + bh), np.arange(c0, c0 + bw), indexing="ij")
        d = _kernel_design(z, pair.scale, size, rr.ravel(), cc.ravel()).reshape(z.shape[0], bh, bw, -1)
        yb = y[:, r0 : r0 + bh, c0 : c0 + bw]
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


def _kernel_design(z: np.ndarray, scale: int, size: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Flipped MSI patches under each sampled LR pixel: ``design @ k.ravel() = ((Z*K)↓s)[rows, cols]``."""
    p = size // 2
    mode = "reflect" if min(z.shape[1:]) > p else "edge"
    zp = np.pad(z, ((0, 0), (p, p), (p, p)), mode=mode)
    r = rows * scale + scale // 2
    c = cols * scale + scale // 2
    d = np.arange(size)
    patches = zp[:, r[:, None, None] + d[None, :, None], c[:, None, None] + d[None, None, :]]
    return np.ascontiguousarray(patches[:, :, ::-1, ::-1].reshape(z.shape[0], rows.size, size * size))


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
    a user's table is refined rather than replaced.
    """
    bands, n = y_samples.shape
    energy = float(np.sum(y_samples**2)) / bands
    a_data = y_samples.T
    rows = []
    for m in range(z_lr.shape[0]):
        blocks, rhs = [a_data, np.sqrt(smoothness * energy) * smooth], [z_lr[m], np.zeros(smooth.shape[0])]
        if start is not None:
            pred = start[m] @ y_samples
            gain = float(pred @ z_lr[m] / max(pred @ pred, 1e-12))
            blocks.append(np.sqrt(prior * energy) * np.eye(bands))
            rhs.append(np.sqrt(prior * energy) * gain * start[m])
        sol, _ = nnls(np.vstack(blocks), np.concatenate(rhs), maxiter=50 * bands)
        if sol.sum() <= 0:
            raise InvalidInputError(
                f"MSI band {m + 1} cannot be explained by any HSI band (its response came out zero): "
                "do the two images show the same place and overlapping wavelengths?")
        rows.append(sol)
    return np.asarray(rows)


class _KernelSolver:
    """Minimizes ``||A k - b||² + λ||∇k||²`` over the simplex (k >= 0, sum k = 1) by FISTA."""

    def __init__(self, design: np.ndarray, size: int, smoothness: float = 1e-4):
        a = design.reshape(-1, size * size)
        self.design = a
        self.n = a.shape[0]
        energy = float(np.sum(a * a)) / self.n
        self.lap = smoothness * energy / (size * size) * _gradient_gram(size)
        # With fewer samples than unknowns, multiplying by A and Aᵀ beats forming AᵀA.
        self.gram = a.T @ a / self.n + self.lap.toarray() if self.n >= size * size else None
        self.lipschitz = _largest_eigenvalue(self._apply, size * size)

    def _apply(self, v: np.ndarray) -> np.ndarray:
        if self.gram is not None:
            return self.gram @ v
        return self.design.T @ (self.design @ v) / self.n + self.lap @ v

    def solve(self, target: np.ndarray, start: np.ndarray, iterations: int) -> np.ndarray:
        h = self.design.T @ target.reshape(-1) / self.n
        x = start.copy()
        v, t = x.copy(), 1.0
        step = 1.0 / self.lipschitz
        for _ in range(iterations):
            x_new = project_simplex(v - step * (self._apply(v) - h))
            t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
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
