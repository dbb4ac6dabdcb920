"""A blur that changes with wavelength: one kernel per group of HSI bands.

A real spectrometer's PSF is not the same in every band: its width and centre drift with the
wavelength (the measured per-band PSFs of the HiDe camera: RMS radius 3.0 -> 4.7 px and centres
moving 1-2 px across 45 bands). The blind estimate finds one kernel for all bands; each band's own
blur then differs from it, the LR fit of its regression on the blurred MSI is off and the fused
band is blurred or shifted against the truth (CAVE at x8 with those PSFs: several dB below the same
pair with their mean PSF, docs/chromatic_blur.md).

Each band's kernel is modelled as the common kernel shifted and stretched along each axis (four
numbers, ``dx, dy, sx, sy``): what a chromatic lens does to a PSF to first order. They are found
from the pair: the classical start without its back-projection (its detail is the MSI's, its blur
none) is blurred with the common kernel and its four derivatives, and each LR band is regressed on
them (a Gauss-Newton step of ``(X_b * K_b)↓s ≈ Y_b``). Bands are taken in contiguous groups
(neighbouring wavelengths blur alike; a group's fit is steadier than one band's), and each group's
kernel is the common one moved by the group's mean shift and stretch: non-negative, summing to 1,
on the common support. A group keeps its kernel when it explains its bands clearly better than the
common one (:data:`MIN_GAIN`), and the groups are used only when together they explain the HSI
clearly better (:data:`MIN_TOTAL_GAIN`); else every band keeps the common kernel.
docs/chromatic_blur.md measures it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from scipy import ndimage

from .operators import blur_downsample

#: contiguous groups of HSI bands that share a kernel (at most)
GROUPS = 8
#: the estimate reads a centred window of at most this side (LR pixels)
MAX_SIDE = 64
#: smallest window side (LR pixels) worth estimating on
MIN_SIDE = 12
#: shifts and stretches beyond these are not a chromatic drift (HR pixels; relative)
MAX_SHIFT, MAX_STRETCH = 4.0, 0.3
#: a group gets its own kernel when that leaves at most 1/MIN_GAIN of the common kernel's LR residual
MIN_GAIN = 1.1
#: and only when all groups together leave at most 1/MIN_TOTAL_GAIN of it. A blur common to all bands
#: read 1.00-1.15 on the training scenes but for one pair (1.39); a stray group, kept on its own,
#: lowered their PSNR: CAVE's bluest bands are blurrier in the scene itself, which the data cannot
#: tell from a wider kernel (docs/chromatic_blur.md)
MIN_TOTAL_GAIN = 1.25


@dataclass
class BandKernels:
    """One kernel per contiguous group of HSI bands."""

    groups: list            # [(first band, end band)] covering all bands in order
    kernels: list           # (k, k) float arrays, one per group
    params: np.ndarray      # (groups, 4): dx, dy (HR pixels), sx, sy (relative stretch) of each group
    gain: float             # the common kernel's LR residual over the groups' kernels'
    group_gains: Optional[np.ndarray] = None   # (groups,) the same, each group's (kept where >= MIN_GAIN)

    def slices(self) -> list[slice]:
        return [slice(a, b) for a, b in self.groups]

    def summary(self) -> str:
        shift = float(np.hypot(self.params[:, 0], self.params[:, 1]).max())
        stretch = float(np.abs(self.params[:, 2:]).max())
        return (f"chromatic blur: the HSI's blur changes with wavelength (up to {shift:.1f} MSI pixels of shift and "
                f"{100 * stretch:.0f} % of stretch between band groups); {len(self.groups)} band groups get their own "
                f"kernel (LR residual {1 / max(self.gain, 1e-9):.0%} of the common kernel's)")


def derivative_kernels(kernel: np.ndarray) -> np.ndarray:
    """``(4, k, k)``: the change of ``kernel`` per unit of shift along x and y (HR pixels) and per unit
    of relative stretch along x and y (the first-order terms of :func:`warp_kernel`)."""
    k = kernel.shape[0]
    yy, xx = np.mgrid[:k, :k] - k // 2
    ky, kx = np.gradient(kernel)
    return np.stack([-kx, -ky, -(kernel + xx * kx), -(kernel + yy * ky)])


def warp_kernel(kernel: np.ndarray, params) -> np.ndarray:
    """``kernel`` shifted by ``(dx, dy)`` HR pixels and stretched by ``(1 + sx, 1 + sy)``, on the same
    support (linear interpolation), clipped at 0 and summing to 1."""
    dx, dy, sx, sy = (float(v) for v in params)
    k = kernel.shape[0]
    yy, xx = np.mgrid[:k, :k] - k // 2
    src = [(yy - dy) / (1.0 + sy) + k // 2, (xx - dx) / (1.0 + sx) + k // 2]
    out = np.maximum(ndimage.map_coordinates(np.asarray(kernel, np.float64), src, order=1, mode="constant"), 0.0)
    total = out.sum()
    return (out / total if total > 0 else np.asarray(kernel, np.float64)).astype(np.asarray(kernel).dtype)


def _window(y: torch.Tensor, z: torch.Tensor, scale: int, valid: Optional[torch.Tensor]):
    """The centred window of at most MAX_SIDE² LR pixels (and its MSI, and its valid mask)."""
    h, w = y.shape[1:]
    hh, ww = min(h, MAX_SIDE), min(w, MAX_SIDE)
    r0, c0 = (h - hh) // 2, (w - ww) // 2
    yw = y[:, r0 : r0 + hh, c0 : c0 + ww]
    zw = z[:, r0 * scale : (r0 + hh) * scale, c0 * scale : (c0 + ww) * scale]
    vw = None if valid is None else valid[r0 : r0 + hh, c0 : c0 + ww]
    return yw, zw, vw


def _fit(y: torch.Tensor, proxy: torch.Tensor, kernels: list, slices: list, scale: int, use: torch.Tensor):
    """Per band: the Gauss-Newton step (dx, dy, sx, sy) around its group's kernel, and the band's LR
    residual with the group's kernel as it is and after the step (least squares with a gain and an
    offset, over the pixels ``use``)."""
    steps = np.zeros((y.shape[0], 4))
    before = np.zeros(y.shape[0])
    after = np.zeros(y.shape[0])
    for sl, kernel in zip(slices, kernels):
        k = torch.from_numpy(np.asarray(kernel, np.float32)).to(proxy.dtype)
        d = torch.from_numpy(derivative_kernels(np.asarray(kernel, np.float64)).astype(np.float32)).to(proxy.dtype)
        part = proxy[sl]
        base = blur_downsample(part, k, scale)[:, use].double()                       # (bands, n)
        terms = torch.stack([blur_downsample(part, d[j], scale)[:, use].double() for j in range(4)], -1)
        target = y[sl][:, use].double()
        ones = torch.ones_like(base)[..., None]
        plain = torch.cat([base[..., None], ones], -1)                                # (bands, n, 2)
        full = torch.cat([plain, terms], -1)                                          # (bands, n, 6)
        for design, out in ((plain, before), (full, after)):
            sol = torch.linalg.lstsq(design, target[..., None]).solution
            out[sl] = ((target - (design @ sol)[..., 0]) ** 2).sum(-1).cpu().numpy()
            if design is full:
                gainb = sol[:, 0, 0].clamp_min(1e-6)
                steps[sl] = (sol[:, 2:, 0] / gainb[:, None]).cpu().numpy()
    return steps, before, after


def estimate_band_kernels(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, scale: int,
                          proxy_of: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor], list],
                                             torch.Tensor],
                          valid: Optional[torch.Tensor] = None, rounds: int = 2) -> Optional[BandKernels]:
    """The kernel of each group of bands, or None when the common kernel serves them as well
    (within :data:`MIN_GAIN`), the HSI has fewer than 2 bands per group or the scene is too small.

    ``proxy_of(y, z, kernel, valid, band_kernels)``: the classical start without back-projection on
    the window (``band_kernels``: the groups' kernels so far, None for the common one)."""
    bands = y.shape[0]
    groups = min(GROUPS, bands // 2)
    yw, zw, vw = _window(y, z, scale, valid)
    if groups < 2 or min(yw.shape[1:]) < MIN_SIDE:
        return None
    edge = kernel.shape[-1] // (2 * scale) + 2                     # LR pixels the blur reaches past the window
    use = torch.zeros(yw.shape[1:], dtype=torch.bool, device=y.device)
    use[edge:-edge, edge:-edge] = True
    if vw is not None:
        use &= vw.bool()
    if int(use.sum()) < 64:
        return None
    common = kernel.detach().cpu().numpy().astype(np.float64)
    bounds = [(int(s[0]), int(s[-1]) + 1) for s in np.array_split(np.arange(bands), groups)]
    slices = [slice(a, b) for a, b in bounds]
    per_group = lambda values: np.array([values[s].sum() for s in slices])  # noqa: E731
    params, current, chosen = np.zeros((groups, 4)), [common] * groups, None
    for _ in range(rounds):
        proxy = proxy_of(yw, zw, kernel, vw, chosen)
        steps, before, _ = _fit(yw, proxy, current, slices, scale, use)
        plain = before if chosen is None else _fit(yw, proxy, [common] * groups, slices, scale, use)[1]
        new = params + np.array([steps[s].mean(0) for s in slices])
        new[:, :2] = np.clip(new[:, :2], -MAX_SHIFT, MAX_SHIFT)
        new[:, 2:] = np.clip(new[:, 2:], -MAX_STRETCH, MAX_STRETCH)
        # each group's kernel as it is (not linearized) against the common one, on the same proxy
        trial = per_group(_fit(yw, proxy, [warp_kernel(common, p) for p in new], slices, scale, use)[1])
        plain_g = per_group(plain)
        keep = plain_g >= MIN_GAIN * trial
        new[~keep] = 0.0
        if not keep.any() or (chosen is not None and np.array_equal(new, params)):
            break
        params = new
        current = [warp_kernel(common, p) if k else common for p, k in zip(params, keep)]
        gain = float(plain_g.sum() / max(np.where(keep, trial, plain_g).sum(), 1e-30))
        chosen = BandKernels(bounds, [k.astype(np.float32) for k in current], params.copy(), gain,
                             plain_g / np.maximum(trial, 1e-30))
    if chosen is not None and chosen.gain < MIN_TOTAL_GAIN:
        return None
    return chosen
