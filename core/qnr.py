"""Quality of a fused image without a reference: QNR and its spectral and spatial distortions.

QNR ("quality with no reference") is the index of Alparone, Aiazzi, Baronti, Garzelli, Nencini
and Selva, "Multispectral and panchromatic data fusion assessment without reference",
Photogrammetric Engineering & Remote Sensing 74(2):193-200, 2008. It compares relations between
bands instead of values: a fusion should keep, at high resolution, the similarities between bands
that the low-resolution image shows (spectral distortion ``D_lambda``), and the similarities
between each fused band and the high-resolution image that the low-resolution bands have with the
degraded high-resolution image (spatial distortion ``D_s``). Here the panchromatic band of the
original is replaced by the MSI's bands, as in hyperspectral-multispectral fusion:

- X: the fused image, L bands on the MSI grid (H x W); Y: the HSI, L bands on its grid
  (H/s x W/s); Z: the MSI, M bands (H x W); Z_lr = (Z * K)↓s: the MSI blurred with the blur
  kernel K of the HSI relative to the MSI grid and decimated onto the HSI grid (the same operator
  as the fusion's observation model, ``core/operators.py``).
- Q(a, b) = 4 σ_ab μ_a μ_b / ((σ_a² + σ_b²)(μ_a² + μ_b²)), the universal image quality index of
  Wang and Bovik (IEEE Signal Processing Letters 9(3):81-84, 2002), with population moments,
  computed on non-overlapping blocks and averaged over the blocks: B x B pixels at high
  resolution and b x b at low resolution with B = b·s, so that both sides average over the same
  ground blocks (b = max(4, 32 // s), i.e. B = 32 at scales 2 to 8, as Alparone et al.'s 32-pixel
  window; smaller when the image is). A block counts only when all its pixels are valid in X, Z
  and Y. Degenerate blocks: both constant -> 2 μ_a μ_b / (μ_a² + μ_b²); both zero-mean ->
  2 σ_ab / (σ_a² + σ_b²); both constant zero -> 1.
- D_lambda = ( 1 / (L(L-1)) Σ_{l≠r} |Q_B(X_l, X_r) - Q_b(Y_l, Y_r)|^p )^(1/p), p = 1.
- D_s = ( 1 / (L·M) Σ_l Σ_m |Q_B(X_l, Z_m) - Q_b(Y_l, Z_lr,m)|^q )^(1/q), q = 1
  (Alparone's D_s with its single panchromatic band replaced by each MSI band in turn, averaged).
- QNR = (1 - D_lambda)^α (1 - D_s)^β, α = β = 1; 1 is ideal, both distortions 0.

The fused image is read in strips of block rows (``core/rows.py``), so any output size works.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import InvalidInputError
from .progress import Cancel, check_cancelled
from .rows import STRIP_BYTES, as_rows

#: high-resolution block side at scales up to 8 (Alparone et al. 2008 use 32-pixel windows)
BLOCK = 32
#: smallest low-resolution block side
MIN_LR_BLOCK = 4


@dataclass(frozen=True)
class NoReferenceQuality:
    """QNR, its distortions, and what they were computed on."""

    qnr: float
    d_lambda: float
    d_s: float
    #: blocks that counted, and their side at high and low resolution [pixels]
    blocks: int
    block_hr: int
    block_lr: int

    def as_dict(self) -> dict:
        return {"QNR": self.qnr, "D_LAMBDA": self.d_lambda, "D_S": self.d_s}


def block_sides(scale: int, lr_height: int, lr_width: int, block: int = BLOCK) -> tuple[int, int]:
    """``(B, b)``: the high- and low-resolution block sides for ``scale`` (see the module docstring)."""
    s = int(scale)
    b = max(MIN_LR_BLOCK, int(block) // s)
    b = min(b, int(lr_height), int(lr_width))
    if b < 2:
        raise InvalidInputError(
            f"the HSI is only {lr_width}x{lr_height} pixels: QNR needs blocks of at least 2x2 HSI pixels")
    return b * s, b


def _blocks(img: np.ndarray, side: int, nbx: int) -> np.ndarray:
    """``(bands, side, nbx*side)`` -> ``(nbx, bands, side*side)``."""
    c = img.shape[0]
    return img[:, :, : nbx * side].reshape(c, side, nbx, side).transpose(2, 0, 1, 3).reshape(nbx, c, side * side)


def _q_from_moments(mu_a, mu_b, var_a, var_b, cov):
    """Wang-Bovik Q from broadcast moments, with the degenerate cases of the module docstring."""
    mu_a, mu_b, var_a, var_b, cov = (np.asarray(v, dtype=np.float64) for v in (mu_a, mu_b, var_a, var_b, cov))
    var_sum = var_a + var_b
    mu_sq = mu_a * mu_a + mu_b * mu_b
    with np.errstate(divide="ignore", invalid="ignore"):
        full = 4.0 * cov * mu_a * mu_b / (var_sum * mu_sq)
        lum = 2.0 * mu_a * mu_b / mu_sq
        struct = 2.0 * cov / var_sum
    tiny = 1e-24
    return np.where((var_sum > tiny) & (mu_sq > tiny), full,
                    np.where(mu_sq > tiny, lum, np.where(var_sum > tiny, struct, 1.0)))


def _block_q_sums(a: np.ndarray, b: Optional[np.ndarray] = None, chunk_bytes: int = STRIP_BYTES) -> np.ndarray:
    """Sum over blocks of Q between every band of ``a`` and every band of ``b`` (``a`` itself when
    None). ``a`` is ``(blocks, La, n)``, ``b`` ``(blocks, Lb, n)``; returns ``(La, Lb)``."""
    import torch

    k, la, n = a.shape
    lb = la if b is None else b.shape[1]
    out = np.zeros((la, lb))
    step = max(1, int(chunk_bytes // max(1, 8 * la * lb * 3)))
    for i in range(0, k, step):
        ac = a[i : i + step].astype(np.float64)
        mu_a = ac.mean(axis=2)
        ac -= mu_a[:, :, None]
        var_a = np.einsum("kln,kln->kl", ac, ac) / n
        if b is None:
            mu_b, bc, var_b = mu_a, ac, var_a
        else:
            bc = b[i : i + step].astype(np.float64)
            mu_b = bc.mean(axis=2)
            bc -= mu_b[:, :, None]
            var_b = np.einsum("kln,kln->kl", bc, bc) / n
        # torch: NumPy's matmul would reach GSL's reference CBLAS inside QGIS (core/blas.py)
        cov = torch.matmul(torch.from_numpy(ac), torch.from_numpy(bc).transpose(1, 2)).numpy() / n
        q = _q_from_moments(mu_a[:, :, None], mu_b[:, None, :], var_a[:, :, None], var_b[:, None, :], cov)
        out += q.sum(axis=0)
    return out


def _mean_distortion(qa: np.ndarray, qb: np.ndarray, exponent: float, off_diagonal: bool) -> float:
    d = np.abs(qa - qb) ** exponent
    if off_diagonal:
        d = d[~np.eye(d.shape[0], dtype=bool)]
    return float(np.mean(d) ** (1.0 / exponent))


def degrade_msi(msi: np.ndarray, kernel: np.ndarray, scale: int, msi_valid: Optional[np.ndarray] = None):
    """``(Z * K)↓s`` on the HSI grid and where it is valid (every MSI pixel of the HSI pixel valid).
    Invalid MSI pixels are filled with their band's mean before the blur."""
    import torch

    from .operators import blur_downsample

    z = np.array(msi, dtype=np.float32, copy=True)
    ok = np.isfinite(z).all(axis=0) if msi_valid is None else (np.asarray(msi_valid, bool) & np.isfinite(z).all(0))
    if not ok.all():
        for band in z:
            good = band[ok]
            band[~ok] = float(good.mean()) if good.size else 0.0
    s = int(scale)
    with torch.no_grad():
        z_lr = blur_downsample(torch.as_tensor(z), torch.as_tensor(np.asarray(kernel, dtype=np.float32)), s).numpy()
    h, w = z_lr.shape[1:]
    lr_ok = ok[: h * s, : w * s].reshape(h, s, w, s).all(axis=(1, 3))
    return z_lr, lr_ok


def qnr(fused, hsi: np.ndarray, msi: np.ndarray, scale: int, kernel: np.ndarray,
        hsi_valid: Optional[np.ndarray] = None, msi_valid: Optional[np.ndarray] = None, block: int = BLOCK,
        p: float = 1.0, q: float = 1.0, alpha: float = 1.0, beta: float = 1.0,
        cancel: Optional[Cancel] = None) -> NoReferenceQuality:
    """QNR, D_lambda and D_s of ``fused`` (X) against the HSI ``hsi`` (Y) and the MSI ``msi`` (Z).

    ``fused`` is an array ``(L, H, W)`` or a :class:`~.rows.Rows` (NaN = invalid) on the MSI grid;
    ``hsi`` ``(L, H/s, W/s)`` and ``msi`` ``(M, H, W)`` the inputs of the fusion on their common
    area, ``kernel`` the blur of the HSI relative to the MSI grid (estimated or given), ``scale``
    the integer ratio s. See the module docstring for the definitions.

    Raises
    ------
    InvalidInputError
        When the shapes do not fit together or no block is valid in all three images.
    """
    x = as_rows(fused)
    s = int(scale)
    bands, height, width = x.shape
    y = np.asarray(hsi, dtype=np.float32)
    z = np.asarray(msi, dtype=np.float32)
    if y.shape[0] != bands:
        raise InvalidInputError(f"the fused image has {bands} bands and the HSI {y.shape[0]}: they must match")
    if z.shape[1:] != (height, width):
        raise InvalidInputError(
            f"the fused image ({width}x{height}) is not on the MSI grid ({z.shape[2]}x{z.shape[1]})")
    h, w = min(y.shape[1], height // s), min(y.shape[2], width // s)
    big, small = block_sides(s, h, w, block)
    nby, nbx = h // small, w // small
    y_ok = np.isfinite(y).all(axis=0) if hsi_valid is None else (np.asarray(hsi_valid, bool) & np.isfinite(y).all(0))
    z_lr, z_lr_ok = degrade_msi(z, kernel, s, msi_valid)
    z_ok = np.isfinite(z).all(axis=0) if msi_valid is None else (np.asarray(msi_valid, bool) & np.isfinite(z).all(0))
    lr_ok = y_ok[:h, :w] & z_lr_ok[:h, :w]

    sums = {"xx": np.zeros((bands, bands)), "yy": np.zeros((bands, bands)),
            "xz": np.zeros((bands, z.shape[0])), "yz": np.zeros((bands, z.shape[0]))}
    counted = 0
    rows_per_strip = max(1, STRIP_BYTES // max(1, 4 * bands * width * big))
    for i0 in range(0, nby, rows_per_strip):
        check_cancelled(cancel)
        i1 = min(nby, i0 + rows_per_strip)
        xs = x.read(i0 * big, i1 * big)
        for i in range(i0, i1):
            xb = xs[:, (i - i0) * big : (i - i0 + 1) * big]
            hr_ok = np.isfinite(xb).all(axis=0) & z_ok[i * big : (i + 1) * big]
            ok = hr_ok[:, : nbx * big].reshape(big, nbx, big).all(axis=(0, 2))
            ok &= lr_ok[i * small : (i + 1) * small, : nbx * small].reshape(small, nbx, small).all(axis=(0, 2))
            if not ok.any():
                continue
            xk = _blocks(xb, big, nbx)[ok]
            zk = _blocks(z[:, i * big : (i + 1) * big], big, nbx)[ok]
            yk = _blocks(y[:, i * small : (i + 1) * small], small, nbx)[ok]
            zlk = _blocks(z_lr[:, i * small : (i + 1) * small], small, nbx)[ok]
            sums["xx"] += _block_q_sums(xk)
            sums["xz"] += _block_q_sums(xk, zk)
            sums["yy"] += _block_q_sums(yk)
            sums["yz"] += _block_q_sums(yk, zlk)
            counted += int(ok.sum())
    if counted == 0:
        raise InvalidInputError(
            f"no block of {big}x{big} fused pixels ({small}x{small} HSI pixels) is valid in the fused image, the "
            "HSI and the MSI: QNR cannot be computed")
    m = {k: v / counted for k, v in sums.items()}
    d_lambda = _mean_distortion(m["xx"], m["yy"], p, off_diagonal=True)
    d_s = _mean_distortion(m["xz"], m["yz"], q, off_diagonal=False)
    value = (1.0 - d_lambda) ** alpha * (1.0 - d_s) ** beta
    return NoReferenceQuality(float(value), d_lambda, d_s, counted, big, small)
