"""A second fit of K and P on the denoised MSI, when the MSI is noisy.

The kernel is fitted by least squares with the MSI's patches as regressors. White noise in the
regressors adds about ``σ²·N`` to the fit's Gram matrix (errors in variables:
benchmarks/kernel_noise_bias.py), a pull toward small ``‖k‖²``, i.e. toward spread kernels; the many
LR pixels average the noise of the *target* away, not this bias. Refitted from the first kernel on
the non-local-means MSI (core/msi_denoising.py), whose noise is a fraction of the original, the
kernel sits much closer to the truth at 30 dB and below (docs/robustness.md). Above
:data:`REFIT_BELOW_SNR_DB` the refit moved the kernel by at most 0.002 in correlation on the
training scenes, so a clean MSI is not fitted twice.

The refit pays for blurs with structure to recover (motion trails: what noise smears, the refit
restores). A smooth, Gaussian-like blur has none, and there the denoiser's own smoothing of fine
texture, which the refit reads as a sharper blur, costs more than the noise's spreading: refitted,
Gaussian PSFs at 30 dB lost 0.02-0.09 in correlation at x8 (training scenes). So a first kernel
that is nearly its own moment-matched Gaussian (:func:`gaussian_likeness` of at least
:data:`GAUSSIAN_LIKE`) is kept as fitted.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import partial
from typing import Optional

import numpy as np
import torch

from .estimation import _sub, estimate_normalized
from .msi_denoising import nonlocal_means
from .noise import msi_noise_level
from .observations import NormalizedPair
from .progress import Cancel, Progress, check_cancelled
from .results import Degradation

#: The MSI's signal-to-noise ratio (median over bands, dB) below which K and P are refitted on the
#: denoised MSI. Training scenes, x8, f_set kernels (/tmp experiment, kernel correlation first fit ->
#: refit): 40 dB 0.995-1.000 -> 0.997-1.000; 30 dB 0.893-0.998 -> 0.954-0.999; 25 dB 0.912-0.992 ->
#: 0.972-0.998. The threshold sits between the two noise levels the refit does and does not pay at.
REFIT_BELOW_SNR_DB = 35.0
#: A first kernel whose correlation with its moment-matched Gaussian reaches this is kept (no refit).
#: Training scenes at 30 dB (first fits): Gaussian PSFs 0.94-0.98, the f_set motion kernels
#: 0.34-0.73 (their true kernels 0.27-0.63).
GAUSSIAN_LIKE = 0.9


def msi_snr_db(z: torch.Tensor, sigma: torch.Tensor, valid: Optional[torch.Tensor] = None) -> float:
    """Median over bands of ``mean(z²) / σ²`` in dB (the convention of ``core.simulate``'s SNR);
    ``z`` is the MSI as observed (``(bands, H, W)``), ``sigma`` its per-band noise std."""
    ratios = []
    for b in range(z.shape[0]):
        band = z[b] if valid is None else z[b][valid]
        flat = torch.nan_to_num(band.reshape(-1).float())
        power = float(torch.dot(flat, flat)) / max(1, flat.numel())
        noise = float(sigma[b]) ** 2
        ratios.append(math.inf if noise <= 0 else 10.0 * math.log10(max(power, 1e-30) / noise))
    return float(np.median(ratios))


def gaussian_likeness(kernel: np.ndarray) -> float:
    """Correlation (as ``metrics.kernel_correlation``) of ``kernel`` with the Gaussian of the same
    mean and covariance (an elliptical, possibly off-centre Gaussian on the same support): 1 for a
    Gaussian blur, far lower for a motion trail or any blur with structure."""
    k = np.asarray(kernel, dtype=np.float64)
    k = k / k.sum()
    rows, cols = np.indices(k.shape, dtype=np.float64)
    mean = np.array([(k * rows).sum(), (k * cols).sum()])
    d = np.stack([rows - mean[0], cols - mean[1]], axis=-1)
    cov = np.einsum("hw,hwi,hwj->ij", k, d, d) + 1e-6 * np.eye(2)     # a one-pixel kernel: no spread
    g = np.exp(-0.5 * np.einsum("hwi,ij,hwj->hw", d, np.linalg.inv(cov), d))
    a, b = g - g.mean(), k - k.mean()           # Pearson, as metrics.kernel_correlation on one support
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float((a * b).sum() / den) if den > 0 else 1.0


def refit_on_denoised(pair: NormalizedPair, z_denoised: np.ndarray, first: Degradation, snr_db: float,
                      kernel_size: Optional[int] = None, seed: int = 0, progress: Optional[Progress] = None,
                      cancel: Optional[Cancel] = None,
                      hsi_wavelengths: Optional[np.ndarray] = None) -> Degradation:
    """``first`` refitted on ``z_denoised`` (normalized units, the pair's MSI denoised), its
    diagnostics recording the MSI's SNR ``snr_db`` and the refit. The refit starts from ``first``'s
    kernel and response (and support, which may grow again); the initial kernel and response the
    report compares with stay those of the first fit."""
    t = time.perf_counter()
    second = estimate_normalized(replace(pair, z=z_denoised), srf=first.srf, kernel=first.kernel,
                                 kernel_size=kernel_size, seed=seed, progress=progress, cancel=cancel,
                                 hsi_wavelengths=hsi_wavelengths)
    diag = replace(second.diagnostics, msi_snr_db=snr_db, refitted_on_denoised_msi=True,
                   msi_linearity=first.diagnostics.msi_linearity, pair_changes=first.diagnostics.pair_changes,
                   first_fit_kernel_support=int(first.kernel.shape[0]),
                   seconds=first.diagnostics.seconds + time.perf_counter() - t)
    return replace(second, initial_kernel=first.initial_kernel, initial_srf=first.initial_srf, diagnostics=diag)


def denoise_and_refit(pair: NormalizedPair, first: Degradation, strength: float, z: torch.Tensor,
                      y: torch.Tensor, hsi_valid: Optional[torch.Tensor] = None,
                      msi_valid: Optional[torch.Tensor] = None, inplace: bool = False,
                      always_denoise: bool = True, kernel_size: Optional[int] = None, seed: int = 0,
                      progress: Optional[Progress] = None, cancel: Optional[Cancel] = None,
                      hsi_wavelengths: Optional[np.ndarray] = None,
                      ) -> tuple[torch.Tensor, torch.Tensor, Degradation]:
    """The MSI ``z`` (normalized, on any device) denoised, its per-band noise std, and K and P
    refitted on it where it was noisy (below :data:`REFIT_BELOW_SNR_DB`) and the first kernel is not
    Gaussian-like (:func:`gaussian_likeness`; :func:`refit_on_denoised`). The noise level is read with
    ``first``'s K and P. ``always_denoise=False`` (an estimate without a fusion) leaves a clean
    MSI as it is, as the denoised MSI is then not needed."""
    kernel = torch.as_tensor(first.kernel, dtype=torch.float32, device=z.device)
    srf = torch.as_tensor(first.diagnostics.srf_normalized_units, dtype=torch.float32, device=z.device)
    sigma = msi_noise_level(z, y, kernel, srf, pair.scale, hsi_valid)
    snr = msi_snr_db(z, sigma, msi_valid)
    check = None if cancel is None else partial(check_cancelled, cancel)
    shape = gaussian_likeness(first.kernel)
    if not snr < REFIT_BELOW_SNR_DB or shape >= GAUSSIAN_LIKE:
        if always_denoise:
            z = nonlocal_means(z, sigma, strength, valid=msi_valid, check=check, inplace=inplace)
        return z, sigma, replace(first, diagnostics=replace(first.diagnostics, msi_snr_db=snr,
                                                            kernel_gaussian_likeness=shape))
    z = nonlocal_means(z, sigma, strength, valid=msi_valid, check=check, inplace=inplace)
    deg = refit_on_denoised(pair, z.cpu().numpy(), first, snr, kernel_size, seed, progress, cancel, hsi_wavelengths)
    return z, sigma, replace(deg, diagnostics=replace(deg.diagnostics, kernel_gaussian_likeness=shape))


def estimate_and_refit(pair: NormalizedPair, strength: float, srf: Optional[np.ndarray] = None,
                       kernel: Optional[np.ndarray] = None, kernel_size: Optional[int] = None, seed: int = 0,
                       progress: Optional[Progress] = None, cancel: Optional[Cancel] = None,
                       hsi_wavelengths: Optional[np.ndarray] = None) -> Degradation:
    """K and P of ``pair`` as the fusion ends up with them: fitted, then, with MSI denoising on
    (``strength`` > 0) and a noisy MSI, refitted on the denoised MSI."""
    fit = dict(kernel_size=kernel_size, seed=seed, cancel=cancel, hsi_wavelengths=hsi_wavelengths)
    first = estimate_normalized(pair, srf=srf, kernel=kernel, progress=_sub(progress, 0.0, 0.6), **fit)
    if strength <= 0:
        return first
    with torch.no_grad():
        return denoise_and_refit(pair, first, strength, torch.from_numpy(pair.z), torch.from_numpy(pair.y),
                                 torch.from_numpy(pair.hsi_valid), torch.from_numpy(pair.msi_valid),
                                 always_denoise=False, progress=_sub(progress, 0.6, 1.0), **fit)[2]
