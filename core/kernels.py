"""Blur kernels (point spread functions): builders and validation.

A kernel is a 2-D, odd-sized, non-negative array that sums to 1 and is applied as a true
convolution centred on its middle pixel (see :mod:`operators`).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import InvalidInputError


def default_kernel_size(scale: int) -> int:
    """Support wide enough for the blur of a sensor whose pixel is ``scale`` HR pixels wide.

    Real LR pixels integrate over about ``scale`` HR pixels, plus optics and motion: twice the
    scale plus one covers that with room to spare, and stays odd so the kernel has a centre.
    """
    return max(5, 2 * int(scale) + 1)


def widest_kernel_size(scale: int) -> int:
    """The widest support the blind estimate searches when the default one cuts the kernel off:
    seven times the scale plus one, made odd (57 at x8 before the estimate's own cap of 49, 23 at
    x3). Five times the scale holds a blur two LR pixels wide on either side of its centre, and
    still one 1.5 LR pixels wide when a misregistration of half an LR pixel moves its centre (the
    support stays centred: the shift must fit inside it); the broad, slowly decaying blurs some
    fusion benchmarks use (48 px at x8, up to 27 % of their mass beyond 41 px) need the last step."""
    n = 7 * int(scale) + 1
    return max(default_kernel_size(scale), n + 1 - n % 2)


def border_mass(kernel: np.ndarray, ring: int = 1) -> float:
    """Fraction of the kernel's total mass in its outermost ``ring`` rows and columns.

    With the default ``ring=1`` that is the one-pixel frame of the square support: ``1 - (mass of
    the centred (n-2) x (n-2) square) / (total mass)``. A kernel that fits its support has almost
    nothing there; a blur wider than the support piles the part it cannot reach onto that frame."""
    k = np.asarray(kernel, dtype=np.float64)
    total = float(k.sum())
    if not total > 0:
        return 0.0
    n = k.shape[0]
    if n <= 2 * ring:
        return 1.0
    return float(max(0.0, 1.0 - k[ring : n - ring, ring : n - ring].sum() / total))


def mass_extent(kernel: np.ndarray, keep: float) -> int:
    """The smallest odd size whose centred square holds at least ``keep`` of the kernel's mass."""
    k = np.asarray(kernel, dtype=np.float64)
    total = float(k.sum())
    n = k.shape[0]
    for size in range(1, n + 1, 2):
        if centre_crop(k, size).sum() >= keep * total:
            return size
    return n


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Isotropic Gaussian kernel of odd ``size`` and standard deviation ``sigma`` (pixels)."""
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise InvalidInputError(f"kernel size must be a positive odd number, got {size}")
    if not sigma > 0:
        raise InvalidInputError(f"kernel sigma must be positive, got {sigma}")
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * sigma**2))
    return (g / g.sum()).astype(np.float64)


def gaussian_kernel_for_scale(scale: int, size: int | None = None) -> np.ndarray:
    """The starting kernel of the blind estimation: a Gaussian whose FWHM equals the scale."""
    size = default_kernel_size(scale) if size is None else size
    return gaussian_kernel(size, max(0.5, scale / 2.355))


def kernel_from_array(array: np.ndarray, size: int | None = None) -> np.ndarray:
    """Validate a user kernel, make it odd-sized (padding), optionally embed it in ``size``, normalize."""
    k = np.asarray(array, dtype=np.float64)
    if k.ndim != 2:
        raise InvalidInputError(f"a blur kernel must be a 2-D array, got shape {k.shape}")
    if k.size == 0 or not np.all(np.isfinite(k)):
        raise InvalidInputError("the blur kernel is empty or holds NaN/Inf values")
    if np.any(k < 0):
        raise InvalidInputError("the blur kernel has negative values; a blur must be non-negative")
    if k.sum() <= 0:
        raise InvalidInputError("the blur kernel sums to zero")
    pad_r, pad_c = 1 - k.shape[0] % 2, 1 - k.shape[1] % 2
    k = np.pad(k, ((0, pad_r), (0, pad_c)))
    n = max(k.shape)
    k = centre_pad(k, n)
    if size is not None:
        k = centre_pad(k, size) if size >= n else centre_crop(k, size)
    return k / k.sum()


def centre_pad(k: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad an odd kernel symmetrically to ``size`` x ``size`` (odd)."""
    pr, pc = (size - k.shape[0]) // 2, (size - k.shape[1]) // 2
    return np.pad(k, ((pr, size - k.shape[0] - pr), (pc, size - k.shape[1] - pc)))


def centre_crop(k: np.ndarray, size: int) -> np.ndarray:
    """Keep the central ``size`` x ``size`` part of an odd kernel."""
    r0, c0 = (k.shape[0] - size) // 2, (k.shape[1] - size) // 2
    return k[r0 : r0 + size, c0 : c0 + size]


def kernel_offset(kernel: np.ndarray) -> tuple[float, float]:
    """The kernel's centroid relative to its centre pixel, ``(rows, cols)`` in HR pixels: the shift
    between the HSI's and the MSI's grids that the kernel absorbs (a co-registration residual)."""
    k = np.asarray(kernel, dtype=np.float64)
    total = k.sum()
    if not total > 0:
        return 0.0, 0.0
    r = np.arange(k.shape[0]) - k.shape[0] // 2
    c = np.arange(k.shape[1]) - k.shape[1] // 2
    return float((k.sum(axis=1) * r).sum() / total), float((k.sum(axis=0) * c).sum() / total)


def footprint_offset(scale: int) -> float:
    """The centroid, in kernel coordinates, of the kernel of an LR pixel integrating exactly its
    footprint: the operators sample an LR pixel at HR pixel ``i·scale + scale // 2`` while its
    footprint's centre is ``i·scale + (scale - 1) / 2``, so the kernel of a co-registered pair is
    centred ``scale // 2 - (scale - 1) / 2`` off its middle (+0.5 HR pixel at even scales, 0 at odd
    ones)."""
    return int(scale) // 2 - (int(scale) - 1) / 2


def footprint_kernel(scale: int, sigma: float | None = None) -> np.ndarray:
    """An LR pixel integrating its ``scale`` x ``scale`` footprint of HR pixels (placed as the
    operators sample it: see :func:`footprint_offset`), blurred by a Gaussian of ``sigma`` HR pixels
    (default: a third of the scale, a typical optical MTF). Odd-sized, sums to 1."""
    from scipy.ndimage import gaussian_filter

    s = int(scale)
    sigma = s / 3.0 if sigma is None else sigma
    reach = s + int(math.ceil(3 * sigma))
    size = 2 * reach + 1
    k = np.zeros((size, size))
    start = reach - (s - 1 - s // 2)          # a true convolution: x[p - q] for q = start - reach ...
    k[start:start + s, start:start + s] = 1.0
    if sigma > 0:
        k = gaussian_filter(k, sigma, mode="constant")
    return k / k.sum()
