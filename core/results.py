"""What the core returns: the estimated degradation, the fused image, and typed diagnostics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class EstimationDiagnostics:
    """How the blind estimate of K and P went."""

    #: where K and P came from: "estimated" from the data, or "degradation file"
    source: str = "estimated"
    #: mean absolute residual of the kernel fit after each alternating round
    residuals: list = field(default_factory=list)
    #: wall time of the estimate [s]
    seconds: float = 0.0
    #: LR pixels the response was fitted on [count]
    samples: int = 0
    #: the response in the normalized units of the estimate (rows' sums are the MSI/HSI gains)
    srf_normalized_units: Optional[np.ndarray] = None
    #: size of the returned kernel's square support [MSI pixels, odd]; 0 when not estimated
    kernel_support: int = 0
    #: share of the kernel's mass on the one-pixel frame of its support
    kernel_border_mass: float = 0.0
    #: that share is above the limit: the blur probably continues beyond the support
    kernel_truncated: bool = False
    #: every support tried, in order: ``{"size", "residual", "border_mass"}``
    kernel_support_tried: list = field(default_factory=list)
    #: the widest support the search could use (the given size when it was fixed)
    kernel_support_limit: int = 0
    #: plain-language warning when the kernel still touches its border, else None
    kernel_warning: Optional[str] = None
    #: the MSI's signal-to-noise ratio the refit decision read (median over bands) [dB]; None when
    #: not measured (MSI denoising off)
    msi_snr_db: Optional[float] = None
    #: K and P were fitted a second time on the denoised MSI (core/kernel_refit.py)
    refitted_on_denoised_msi: bool = False
    #: the MSI's response exponents found and which bands were linearized before K and P were
    #: estimated again (msi_linearity.MsiLinearity; None: msi_linearization="off")
    msi_linearity: Optional[object] = None
    #: the first fit's kernel support when refitted [MSI pixels]; 0 otherwise
    first_fit_kernel_support: int = 0
    #: areas where the two images disagree, left out of the estimate (pair_changes.PairChanges; None:
    #: changed_areas="off" or K and P not estimated)
    pair_changes: Optional[object] = None
    #: the first kernel's correlation with its moment-matched Gaussian (a Gaussian-like blur is not
    #: refitted: core/kernel_refit.py); None when not measured
    kernel_gaussian_likeness: Optional[float] = None


@dataclass
class Degradation:
    """Estimated sensor degradation.

    ``kernel`` is the blur (sums to 1), ``srf`` the response with rows summing to 1 (MSI bands x
    HSI bands) and ``msi_gain`` the factor per MSI band between the images' units:
    ``MSI ≈ msi_gain[:, None] * srf · X`` with X in the HSI's units.
    """

    kernel: np.ndarray
    srf: np.ndarray
    scale: int
    msi_gain: np.ndarray
    initial_kernel: np.ndarray
    initial_srf: np.ndarray
    diagnostics: EstimationDiagnostics = field(default_factory=EstimationDiagnostics)


@dataclass
class HsiCleaning:
    """What the LR-HSI cleaning (core/hsi_cleaning.py) found and removed before the estimate."""

    #: the setting it ran under: "auto" or "on"
    mode: str
    #: whether it changed the HSI the fusion used
    applied: bool
    #: bands whose column or row offsets (stripes) were removed [count]
    striped_bands: int
    #: RMS of the removed offsets over the band's noise std, mean over those bands (and blocks)
    stripe_to_noise: float
    #: band-pixel values replaced as impulse outliers (dead or saturated pixels) [count]
    outliers_replaced: int
    #: "auto": bands whose offsets were found but too weak to remove (a clean HSI's false alarms) [count]
    stripe_bands_left: int
    #: "auto": impulses found but left, too few to be more than false alarms [count]
    outliers_left: int
    #: bands of the HSI [count]
    bands: int
    #: wall time of the cleaning [s]
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the log and the report."""
        done = (f"stripes removed in {self.striped_bands} of {self.bands} bands"
                + (f" (offsets {self.stripe_to_noise:.1f} x the noise)" if self.striped_bands else "")
                + f", {self.outliers_replaced} outlier values replaced")
        left = []
        if self.stripe_bands_left:
            left.append(f"weak offsets in {self.stripe_bands_left} bands")
        if self.outliers_left:
            left.append(f"{self.outliers_left} possible outliers")
        use = "the fusion used the cleaned HSI" if self.applied else "the fusion used the HSI as it is"
        return (f"HSI cleaning ({self.mode}): {done}" + (f"; left as noise: {', '.join(left)}" if left else "")
                + f"; {use} ({self.seconds:.1f} s)")


@dataclass
class FusionDiagnostics:
    """How a fusion run went: what ran where, how long each stage took, the loss curves."""

    device: str
    mode: str
    outer_iterations: int
    inner_iterations: int
    seed: int
    #: the starting image: "classical" or "backbone"
    initial_estimate: str
    meta_initialized: bool
    tv_weight: float
    #: the MSI's per-band noise std before denoising, in the MSI's units (None: not denoised)
    msi_noise_std: Optional[list]
    #: ridge weight of the classical start's local regression (None: backbone start)
    classical_ridge: Optional[float]
    #: side of the output tiles [HR pixels]
    tile_size: int
    #: whether the whole HR start image was kept in memory (else streamed window by window)
    cached: bool
    #: the blind estimate before the alternating refinement
    estimation: EstimationDiagnostics
    estimated_kernel: np.ndarray
    estimated_srf: np.ndarray
    #: per-stage wall times [s]
    timings: dict = field(default_factory=dict)
    #: loss per outer iteration: "degradation" and "reconstruction"
    losses: dict = field(default_factory=dict)
    #: the file the image was written to window by window, if any
    written_to: Optional[str] = None
    #: outer iterations that ran, and why the alternation stopped
    outer_iterations_run: int = 0
    stop_reason: str = ""
    #: the guard's figures (guard.ConsistencyCheck; None when it was off)
    guard: Optional[object] = None
    #: what the output holds: "fusion", or "upsampled HSI" when the guard found the fusion no better
    written: str = "fusion"
    #: what the LR-HSI cleaning found and whether it was used (None: hsi_cleaning="off")
    hsi_cleaning: Optional[HsiCleaning] = None
    #: per HSI band, the share of the MSI's detail the classical start gave it (core/band_detail.py;
    #: None: not tested: a backbone start, the test off, or a scene too small)
    band_detail: Optional[list] = None
    #: a blur that changes with wavelength (core/chromatic_blur.py): the groups of bands with their own
    #: kernel (BandKernels; None: one kernel for all bands)
    band_kernels: Optional[object] = None


@dataclass
class FusionResult(Degradation):
    """The degradation the image was fused with, and the fused image ``(bands, H, W)`` in the HSI's
    units (None when the tiles went to a ``writer``)."""

    image: Optional[np.ndarray] = None
    diagnostics: Optional[FusionDiagnostics] = None
