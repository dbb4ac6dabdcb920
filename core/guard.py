"""The guard: is the fused image any better than the upsampled HSI?

Without a reference, the fused image X is judged by its consistency with both inputs under the
estimated degradation, ``(X*K)↓s`` against the HSI and ``P·X`` against the MSI, beside the same
figures for the bicubic-upsampled HSI; and by the held-out check of the classical start (does the
MSI predict held-out HSI pixels better than their own neighbours: initial_estimate.HeldOutCheck).

What decides is the MSI's fit. A fusion whose MSI matches its HSI reproduces the MSI far better
than upsampling can (the unexplained part drops to at most a fifth of the upsampled HSI's at 25 dB
and above, docs/guard.md, and stays under the MSI's noise below); an MSI of another place or date, a flipped or far-shifted one, or
a blur the kernel cannot hold leaves more than half of it (docs/guard.md measures both sides). Such a fusion is
replaced by the upsampled HSI. The held-out check only warns: near the noise floor (HSI SNR 15-20
dB) or with an MSI that sees few spectral directions (a one-band camera) it reads below 1.5 where
the fusion is still several dB better than upsampling. Any doubt is said plainly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from .noise import noise_sigma
from .operators import blur_downsample, project, upsample
from .windows import Window

#: below this held-out gain the MSI predicts the HSI hardly better than the HSI's own neighbours (a warning)
HELD_OUT_DOUBT = 1.5
#: a fused image that leaves more than this share of what the upsampled HSI leaves unexplained in
#: the MSI (and more than the MSI's noise) did not take the MSI's detail: matching pairs read at
#: most 0.40 (more only at 15 dB, under the MSI's noise), mismatched ones at least 0.62; blurs
#: wider than the kernel a small scene allows 0.25-0.77 (docs/guard.md)
MSI_FIT_DOUBT = 0.5


@dataclass(frozen=True)
class ConsistencyCheck:
    """Relative RMSEs (residual / signal, over valid pixels of sample windows) of the fused and the
    upsampled image re-degraded with the estimated kernel and response, against each input."""

    fused_hsi: float
    fused_msi: float
    upsampled_hsi: float
    upsampled_msi: float
    #: initial_estimate.HeldOutCheck.gain (None: no classical start)
    held_out_gain: Optional[float] = None
    #: the MSI's noise relative to its signal, as the fusion estimated it (0: not known)
    msi_noise: float = 0.0
    #: sample windows that alone would read :attr:`msi_unexplained`, and all sample windows: some but
    #: not all is a local disagreement (a changed or clouded area)
    windows_unexplained: int = 0
    windows: int = 0
    #: the median over MSI bands of each band's fused / upsampled relative residual (None: not
    #: measured; the pooled ratio stands in)
    msi_band_ratio: Optional[float] = None

    @property
    def msi_ratio(self) -> float:
        """What the fused image leaves unexplained in the MSI over what the upsampled HSI leaves: the
        median band's. Pooled over bands, an MSI band the HSI's range does not cover (a 10-band
        Sentinel-2 MSI over a VNIR HSI: B11, B12) reads about 1 for both images and swamps the
        others: realistic 10-band pairs pooled 0.56 where the fusion was 8-9 dB above upsampling."""
        if self.msi_band_ratio is not None:
            return self.msi_band_ratio
        return self.fused_msi / max(self.upsampled_msi, 1e-30)

    @property
    def msi_unexplained(self) -> bool:
        """The MSI's detail did not get in (:func:`msi_unexplained`)."""
        return msi_unexplained(self.msi_ratio, self.fused_msi, self.msi_noise)

    @property
    def held_out_doubt(self) -> bool:
        return self.held_out_gain is not None and math.isfinite(self.held_out_gain) and \
            self.held_out_gain < HELD_OUT_DOUBT

    @property
    def fusion_worse(self) -> bool:
        """The MSI's detail did not get in (:attr:`msi_unexplained`), or the fused image fits
        neither input better than the upsampled HSI. The held-out doubt alone does not decide: it
        falls below its limit on matching pairs that fusion still improves by several dB."""
        return self.msi_unexplained or (self.fused_msi >= self.upsampled_msi and self.fused_hsi >= self.upsampled_hsi)

    def problems(self) -> list[str]:
        """Plain sentences for the log and the report; empty when nothing is in doubt."""
        out = []
        if self.fused_msi >= self.upsampled_msi:
            out.append(f"the fused image fits the MSI no better than the upsampled HSI (relative residual "
                       f"{self.fused_msi:.3g} vs {self.upsampled_msi:.3g})")
        elif self.msi_unexplained:
            out.append(f"the fused image leaves {self.msi_ratio:.0%} of what the upsampled HSI leaves unexplained "
                       f"in the MSI (median band; relative residual {self.fused_msi:.3g} vs "
                       f"{self.upsampled_msi:.3g}; a matching pair leaves at most a fifth unless very noisy): the MSI may "
                       "show another place or date, be shifted or flipped against the HSI, or the blur is wider than "
                       "the kernel")
        if self.fused_hsi >= self.upsampled_hsi:
            out.append(f"the fused image fits the HSI no better than the upsampled HSI (relative residual "
                       f"{self.fused_hsi:.3g} vs {self.upsampled_hsi:.3g})")
        if 0 < self.windows_unexplained < self.windows:
            out.append(f"in {self.windows_unexplained} of the {self.windows} sample windows the fused image leaves more "
                       "than half of what the upsampled HSI leaves unexplained in the MSI, in the others not: part "
                       "of the scene may differ between the two images (another date, clouds, a moving object)")
        if self.held_out_doubt:
            out.append(f"the MSI predicts held-out HSI pixels hardly better than their own neighbours (gain "
                       f"{self.held_out_gain:.2f}): the estimated blur, the co-registration or the pair itself (dates, "
                       "sensors) may be off; check the report's kernel and residuals, or give KERNEL_SIZE / a "
                       "degradation measured elsewhere")
        return out


def msi_unexplained(ratio: float, fused: float, noise: float) -> bool:
    """The fused image leaves more than :data:`MSI_FIT_DOUBT` of what the upsampled HSI leaves
    unexplained in the MSI (``ratio``, the median band's), and its relative residual (``fused``)
    exceeds the MSI's relative ``noise``: the MSI's detail did not get in. For the whole sample or
    one window."""
    return ratio > MSI_FIT_DOUBT and fused > noise


def band_ratio(fused: np.ndarray, upsampled: np.ndarray) -> float:
    """The median over bands of ``sqrt(fused / upsampled)`` (squared residuals per band)."""
    return float(np.median(np.sqrt(fused / np.maximum(upsampled, 1e-30))))


def sample_windows(height: int, width: int, scale: int, seed: int, side: int = 128, count: int = 8) -> list[Window]:
    """Up to ``count`` windows of ``side`` HR pixels (on the LR grid) spread over the image; the whole
    image when it is small."""
    if height * width <= count * side * side:
        return [Window(0, 0, height // scale * scale, width // scale * scale)]
    rng = np.random.default_rng(seed)
    side = side // scale * scale
    out = []
    for _ in range(count):
        r = scale * int(rng.integers(0, max(1, (height - side) // scale + 1)))
        c = scale * int(rng.integers(0, max(1, (width - side) // scale + 1)))
        out.append(Window(r, c, min(side, height - r), min(side, width - c)))
    return out


def upsampled(y: torch.Tensor, scale: int, window: Window, height: int, width: int) -> torch.Tensor:
    """The bicubic-upsampled HSI on an HR window (on the LR grid), as the whole image would have it
    away from the image border: computed from the LR window grown by two LR pixels."""
    lr = window.to_lr(scale).grow(2).clip(y.shape[1], y.shape[2])
    up = upsample(y[:, lr.rows, lr.cols], scale, lr.height * scale, lr.width * scale)
    inner = window.relative_to(lr.to_hr(scale))
    return up[:, inner.rows, inner.cols]


def consistency_check(image: Callable[[Window], torch.Tensor], y: torch.Tensor, z: torch.Tensor,
                      hsi_valid: torch.Tensor, msi_valid: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor,
                      scale: int, windows: list[Window], held_out_gain: Optional[float] = None,
                      msi_noise: Optional[torch.Tensor] = None) -> ConsistencyCheck:
    """The guard's figures on ``windows`` (``image(window)`` gives the fused image there, in the same
    normalized units as ``y`` and ``z``; ``msi_noise``: the MSI's per-band noise std in those units,
    None: read from the windows)."""
    s = scale
    height, width = z.shape[1:]
    edge = math.ceil((kernel.shape[-1] // 2) / s) + 1        # LR pixels whose blur reaches past a window
    sums = np.zeros((2, 2, 2))                                   # [fused, upsampled] x [hsi, msi] x [resid, signal]
    band_sums = np.zeros((2, z.shape[0]))                        # [fused, upsampled] x MSI band: squared residual
    noise_power = 0.0
    local = []                                                   # per window: MSI resid fused, upsampled; noise; signal
    with torch.no_grad():
        for w in windows:
            x = image(w)
            xb = upsampled(y, s, w, height, width)
            rows, cols = w.slices()
            mv = msi_valid[rows, cols]
            lr = w.to_lr(s)
            inner = Window(edge, edge, max(0, lr.height - 2 * edge), max(0, lr.width - 2 * edge))
            lr_rows, lr_cols = inner.offset(lr.row, lr.col).slices()
            hv = hsi_valid[lr_rows, lr_cols]
            y_ref, z_ref = y[:, lr_rows, lr_cols], z[:, rows, cols]
            sigma = noise_sigma(z_ref) if msi_noise is None else msi_noise
            window_noise = float((sigma.to(z_ref.dtype) ** 2).sum()) * float(mv.sum())
            noise_power += window_noise
            hsi_signal, msi_signal = float((y_ref[:, hv] ** 2).sum()), float((z_ref[:, mv] ** 2).sum())
            msi_resid = []
            for i, img in enumerate((x, xb)):
                y_hat = blur_downsample(img, kernel, s)[:, inner.rows, inner.cols]
                sums[i, 0] += [float(((y_hat - y_ref)[:, hv] ** 2).sum()), hsi_signal]
                msi_resid.append(((project(img, srf) - z_ref)[:, mv] ** 2).sum(dim=1).double().cpu().numpy())
                band_sums[i] += msi_resid[-1]
                sums[i, 1] += [float(msi_resid[-1].sum()), msi_signal]
            local.append((*msi_resid, window_noise, msi_signal))
    rel = np.sqrt(sums[..., 0] / np.maximum(sums[..., 1], 1e-30))
    noise = math.sqrt(noise_power / max(sums[1, 1, 1], 1e-30))
    unexplained = sum(1 for fused, up, nz, signal in local
                      if signal > 0 and msi_unexplained(band_ratio(fused, up), math.sqrt(fused.sum() / signal),
                                                        math.sqrt(nz / signal)))
    return ConsistencyCheck(float(rel[0, 0]), float(rel[0, 1]), float(rel[1, 0]), float(rel[1, 1]), held_out_gain,
                            noise, unexplained, len(local), band_ratio(*band_sums))
