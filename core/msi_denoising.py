"""Non-local means denoising of the HR-MSI before it guides the reconstruction.

The MSI's noise is what limits the fused image at high noise: every HSI band is built as a local
combination of the MSI bands, so their noise is injected into all bands (a noise-free MSI lifts
the start far more than a noise-free LR-HSI: docs/network_prior.md). The MSI has few bands and its noise is white, so a patch-based denoiser
with a known noise level removes most of it. The K/P estimate is fitted on the original MSI first
(its K and P set the noise level's LR bound) and again on the denoised one where the MSI is noisy:
averaging over LR pixels does not remove what noise in the regressors does to a least-squares
kernel (core/kernel_refit.py).

The noise level is the smallest of three estimates, each of which texture can only inflate (the
flattest blocks' Laplacian, the whole image's, and the LR identity ``(Z*K)↓s − P·Y``): an
overestimate over-smooths, an underestimate only leaves noise in.
"""
from __future__ import annotations

import ctypes
from typing import Callable

import torch
import torch.nn.functional as F

from .noise import msi_noise_level


def nonlocal_means(z: torch.Tensor, sigma: torch.Tensor, strength: float = 0.85, search: int = 5,
                   patch: int = 1, valid: torch.Tensor | None = None, block_rows: int = 64,
                   check: Callable[[], None] | None = None, inplace: bool = False) -> torch.Tensor:
    """Non-local means over all bands at once (patch distances of the noise-whitened bands).

    ``sigma`` ``(bands,)`` is each band's noise std; ``strength`` scales the filter width in
    units of the expected distance of two noisy patches; ``search`` and ``patch`` are radii in
    pixels (the defaults, 3 x 3 patches, 11 x 11 search, strength 0.85, measured best of several
    settings on the training scenes: docs/network_prior.md). Invalid pixels (``valid``
    False) neither contribute nor change. Computed in row blocks (each reflect-padded as in the
    whole image), so memory stays the MSI, its result and a few block-sized arrays; ``inplace``
    overwrites ``z`` itself (a block is written once the next one, which reads its rows, is
    done), for scenes whose MSI is large."""
    bands, height, width = z.shape
    if float(sigma.min()) <= 0 or strength <= 0 or min(height, width) <= search + patch:
        return z if inplace else z.clone()
    scale = sigma.to(z.dtype)[:, None, None]
    ok = torch.ones((height, width), dtype=z.dtype, device=z.device) if valid is None else valid.to(z.dtype)
    # all valid: each pair of opposite offsets shares one weight map, which reads twice as far
    symmetric = (valid is None or bool(valid.all())) and min(height, width) > 2 * search + patch
    reach = 2 * search + patch if symmetric else search + patch
    width_sq = strength ** 2 * 2 * bands        # two noisy patches differ by about 2·bands per pixel
    block_rows = max(block_rows, reach)          # in place: only the previous block may be pending
    out = z if inplace else z.clone()
    pending: tuple[int, int, torch.Tensor] | None = None
    for r0 in range(0, height, block_rows):
        if check:
            check()
        r1 = min(height, r0 + block_rows)
        pok = _reflect_rows(ok[None], r0, r1, reach)[0]
        pz = _reflect_rows(z, r0, r1, reach) * pok            # nodata fill (even NaN) never enters a sum
        pz = torch.nan_to_num(pz)
        if symmetric:
            num, den = _symmetric_block(pz, pz / scale, r1 - r0, width, search, patch, width_sq)
        else:
            num, den = _masked_block(pz, pz / scale, pok, r1 - r0, width, search, patch, width_sq)
        block = torch.where(ok[None, r0:r1] > 0, num / den.clamp_min(1e-12), z[:, r0:r1])
        if pending is not None:
            out[:, pending[0] : pending[1]] = pending[2]
        pending = (r0, r1, block)
    if pending is not None:
        out[:, pending[0] : pending[1]] = pending[2]
    _return_freed_memory()
    return out


def _pool(t: torch.Tensor, patch: int) -> torch.Tensor:
    """Patch means of a 2-D map (valid part only)."""
    return F.avg_pool2d(t[None, None], 2 * patch + 1, stride=1)[0, 0]


def _weight(dist: torch.Tensor, bands: int, width_sq: float) -> torch.Tensor:
    """In place: the weight of a patch distance (distances below that of two noisy copies of one
    patch count as equal)."""
    return dist.sub_(2 * bands).clamp_min_(0).div_(-width_sq).exp_()


def _symmetric_block(pz: torch.Tensor, pw: torch.Tensor, rows: int, width: int, search: int, patch: int,
                     width_sq: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sums of one row block where every pixel is valid (``pz``, ``pw``: the block padded
    by ``2·search + patch``), each offset pair's distances computed once: the weight of neighbour
    ``p + d`` for pixel ``p`` is the weight of neighbour ``q - d`` for pixel ``q = p + d`` (the
    patch distance is symmetric), so one map, computed for ``search`` extra rows and columns,
    serves ``d`` and ``-d``: half the distance computations of the plain loop, the same weights."""
    bands = pz.shape[0]
    reach = 2 * search + patch
    num = pz[:, reach : reach + rows, reach : reach + width].clone()       # the pixel itself, weight 1
    den = torch.ones((rows, width), dtype=pz.dtype, device=pz.device)
    c0 = reach - search - patch                       # column -(search + patch) of the image
    for dy in range(0, search + 1):
        for dx in range(-search, search + 1):
            if dy == 0 and dx <= 0:
                continue
            # patch distances between q and q + d, q over rows r0 - dy .. r1 - 1 and columns
            # -search .. width + search - 1 (the q = p - d of every pixel p of the block)
            near = pw[:, reach - dy - patch : reach + rows + patch, c0 : c0 + width + 2 * (search + patch)]
            far = pw[:, reach - patch : reach + rows + dy + patch, c0 + dx : c0 + dx + width + 2 * (search + patch)]
            w = _weight(_pool((near - far).square_().sum(0), patch), bands, width_sq)
            ahead = w[dy : dy + rows, search : search + width]                # p's neighbour p + d
            num += ahead * pz[:, reach + dy : reach + dy + rows, reach + dx : reach + dx + width]
            den += ahead
            behind = w[0:rows, search - dx : search - dx + width]               # p's neighbour p - d
            num += behind * pz[:, reach - dy : reach - dy + rows, reach - dx : reach - dx + width]
            den += behind
    return num, den


def _masked_block(pz: torch.Tensor, pw: torch.Tensor, pok: torch.Tensor, rows: int, width: int, search: int,
                  patch: int, width_sq: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sums of one row block with invalid pixels (``pok`` 0; everything padded by
    ``search + patch``): patch distances over the pixel pairs that are both valid."""
    bands = pz.shape[0]
    ctx = (slice(search, search + rows + 2 * patch), slice(search, search + width + 2 * patch))
    centre, centre_ok = pw[:, ctx[0], ctx[1]], pok[ctx[0], ctx[1]]
    num = torch.zeros((bands, rows, width), dtype=pz.dtype, device=pz.device)
    den = torch.zeros((rows, width), dtype=pz.dtype, device=pz.device)
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            a, b = search + dy, search + dx
            other = pw[:, a : a + rows + 2 * patch, b : b + width + 2 * patch]
            both = centre_ok * pok[a : a + rows + 2 * patch, b : b + width + 2 * patch]
            pairs = _pool(both, patch)
            dist = _pool(((centre - other) ** 2).sum(0) * both, patch) / pairs.clamp_min(1e-12)
            w = _weight(dist, bands, width_sq) * (pairs > 0)
            w = w * pok[a + patch : a + patch + rows, b + patch : b + patch + width]
            num += w * pz[:, a + patch : a + patch + rows, b + patch : b + patch + width]
            den += w
    return num, den


def _return_freed_memory() -> None:
    """Hand the blocks' freed temporaries back to the OS (glibc keeps them resident otherwise;
    docs/speed.md). No-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reflect_rows(t: torch.Tensor, r0: int, r1: int, reach: int) -> torch.Tensor:
    """Rows ``r0 - reach .. r1 + reach`` of ``t`` (c, H, W), every side reflect-padded by ``reach``
    exactly as a padded copy of the whole image would have them."""
    height = t.shape[1]
    a, b = max(0, r0 - reach), min(height, r1 + reach)
    top, bottom = reach - (r0 - a), reach - (b - r1)
    return F.pad(t[:, a:b][None], (reach, reach, top, bottom), mode="reflect")[0]


def denoise_msi(z: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor, scale: int,
                hsi_valid: torch.Tensor | None = None, msi_valid: torch.Tensor | None = None,
                strength: float = 0.85, check: Callable[[], None] | None = None,
                inplace: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The denoised MSI and the per-band noise level it was denoised with."""
    sigma = msi_noise_level(z, y, kernel, srf, scale, hsi_valid)
    return nonlocal_means(z, sigma, strength, valid=msi_valid, check=check, inplace=inplace), sigma
