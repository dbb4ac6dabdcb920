"""The settings of a fusion run: one frozen, documented value.

Every field has a default that measured best on the training scenes; the pages in docs/ say what
each choice measured (docs/network_prior.md for the network and its prior, docs/pretrained.md for
the starting image, docs/benchmarks.md for the defaults together). Change a copy with
``dataclasses.replace(settings, field=value)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import InvalidInputError

#: alternating (the paper's method), separate (network only, K and P fixed) or joint (all at once).
MODES = ("alternating", "separate", "joint")
INITIAL_ESTIMATES = ("classical", "backbone", "auto")
TV_TARGETS = ("correction", "image")
GUARD_ACTIONS = ("fallback", "warn", "off")
STOPPING = ("converged", "fixed")
HSI_CLEANING = ("auto", "on", "off")
MSI_LINEARIZATION = ("auto", "off")
CHANGED_AREAS = ("auto", "off")
BAND_DETAIL = ("auto", "off")
CHROMATIC_BLUR = ("auto", "off")


@dataclass(frozen=True)
class FusionSettings:
    """How :func:`~hsi_blind_fusion.core.fuse` runs (units in brackets)."""

    #: alternations between the degradation (K, P) and the image; 0 returns the starting image [count]
    outer_iterations: int = 40
    #: gradient steps per outer iteration, for each of the two alternating parts [count]
    inner_iterations: int = 10
    #: "alternating", "separate" or "joint" (see MODES)
    mode: str = "alternating"
    #: "auto" (a CUDA GPU when torch sees one), "cpu", "cuda" or "cuda:N"
    device: str = "auto"
    #: seed of every random choice; the same seed gives the same result on the CPU
    seed: int = 0
    #: side of the blur kernel's support; None = the default for the scale [HR pixels, odd]
    kernel_size: Optional[int] = None
    #: Adam learning rate of K and P during the alternation
    lr_degradation: float = 1e-4
    #: Adam learning rate of the reconstruction network
    lr_reconstruction: float = 1e-3
    #: dimension of the spectral subspace the network corrects in [count]
    subspace_dims: int = 10
    #: channels of the network's hidden layers [count]
    width: int = 32
    #: convolution layers of the network [count]
    depth: int = 3
    #: side of the random crops the network is fitted on; None = max(128, 8 x scale) [HR pixels]
    crop_size: Optional[int] = None
    #: starting image: "classical" (local regression + back-projection), "backbone" (its
    #: pre-trained refinement) or "auto" (the backbone when its model loads, else classical)
    initial: str = "classical"
    #: weight of the total-variation prior, relative to the data terms at the start (scale-free)
    tv_weight: float = 10.0
    #: what the prior smooths: the network's "correction" of the start, or the whole "image"
    tv_on: str = "correction"
    #: side of the output tiles; None = from the available memory [HR pixels]
    tile_size: Optional[int] = None
    #: scenes whose HR cube (and guidance) fit this keep them in memory, else stream [bytes]
    cache_limit_bytes: int = 1 << 30
    #: start the network from the meta-learned weights in models/ (when present)
    meta_init: bool = False
    #: on a backbone start, the classical dark-pixel spectral smoothing of the output
    output_shape_smoothing: bool = True
    #: classical start: back-project only the LR residual's signal directions (False: all of it)
    residual_denoising: bool = True
    #: cap the MSI noise estimates by the LR identity (Z*K)↓s − P·Y
    noise_cap: bool = True
    #: strength of the non-local means on the MSI before it guides the start and the fitting;
    #: 0 = off [filter width in units of the expected distance of two noisy patches]
    msi_denoising: float = 0.85
    #: "converged": stop the alternation once the held-out LR consistency stops improving (the
    #: outer/inner iterations are then a maximum); "fixed": always run them all (the paper's schedule)
    stopping: str = "converged"
    #: outer iterations run before the convergence test may stop [count]
    min_outer_iterations: int = 1
    #: outer iterations without an improvement of the held-out consistency before stopping [count]
    patience: int = 1
    #: an improvement smaller than this fraction of the held-out error does not count
    convergence_tol: float = 1e-3
    #: share of the valid LR pixels held out of the fitting to judge it [fraction]
    holdout_fraction: float = 1 / 16
    #: the guard (guard.py): "fallback" writes the upsampled HSI when the fused image did not take
    #: the MSI's detail (it leaves more than half of what upsampling leaves unexplained in the MSI),
    #: "warn" only says so, "off" skips the check
    guard: str = "fallback"
    #: cleaning of the LR-HSI's per-band stripes and impulse outliers before the estimate and the
    #: start (core/hsi_cleaning.py): "auto" removes only what a clean HSI's false alarms do not
    #: reach (a clean HSI stays as it is), "on" everything it finds, "off" does not run it
    hsi_cleaning: str = "auto"
    #: the MSI's MTF at the Nyquist frequency, from the sensor's specification: below 1 the MSI is
    #: restored before everything else (core/msi_mtf.py); 1 = the MSI is as sharp as its pixels
    msi_mtf: float = 1.0
    #: the MSI's radiometric non-linearity (core/msi_linearity.py): "auto" finds a power law per
    #: MSI band from the pair and undoes it where it explains the HSI clearly better than the linear
    #: model (a linear MSI stays as it is), "off" takes the MSI as linear
    msi_linearization: str = "auto"
    #: areas where the images disagree (another date, clouds: core/pair_changes.py): "auto" finds
    #: them, estimates K and P without them and writes the upsampled HSI there; "off" takes the
    #: whole pair as one scene
    changed_areas: str = "auto"
    #: "auto": each HSI band takes the share of the MSI's detail that a test one level down (on the
    #: LR grid) says it carries (core/band_detail.py); "off": every band takes all of it
    band_detail: str = "auto"
    #: "auto": when the HSI's blur changes with wavelength, groups of bands get their own kernel
    #: (the common one shifted and stretched: core/chromatic_blur.py); "off": one kernel for all bands
    chromatic_blur: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInputError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.tv_on not in TV_TARGETS:
            raise InvalidInputError(f"unknown TV target {self.tv_on!r}; use image or correction")
        if self.initial not in INITIAL_ESTIMATES:
            raise InvalidInputError(f"unknown initial estimate {self.initial!r}; use auto, backbone or classical")
        if self.outer_iterations < 0 or self.inner_iterations < 0:
            raise InvalidInputError("iteration counts must be zero or positive")
        if self.msi_denoising < 0:
            raise InvalidInputError(f"the MSI denoising strength must be 0 (off) or positive, got {self.msi_denoising}")
        if self.stopping not in STOPPING:
            raise InvalidInputError(f"unknown stopping rule {self.stopping!r}; use one of {', '.join(STOPPING)}")
        if self.guard not in GUARD_ACTIONS:
            raise InvalidInputError(f"unknown guard action {self.guard!r}; use one of {', '.join(GUARD_ACTIONS)}")
        if self.hsi_cleaning not in HSI_CLEANING:
            raise InvalidInputError(
                f"unknown HSI cleaning {self.hsi_cleaning!r}; use one of {', '.join(HSI_CLEANING)}")
        if self.msi_linearization not in MSI_LINEARIZATION:
            raise InvalidInputError(f"unknown MSI linearization {self.msi_linearization!r}; "
                                    f"use one of {', '.join(MSI_LINEARIZATION)}")
        if self.chromatic_blur not in CHROMATIC_BLUR:
            raise InvalidInputError(f"unknown chromatic-blur action {self.chromatic_blur!r}; "
                                    f"use one of {', '.join(CHROMATIC_BLUR)}")
        if self.band_detail not in BAND_DETAIL:
            raise InvalidInputError(f"unknown band-detail action {self.band_detail!r}; use one of {', '.join(BAND_DETAIL)}")
        if self.changed_areas not in CHANGED_AREAS:
            raise InvalidInputError(f"unknown changed-areas action {self.changed_areas!r}; "
                                    f"use one of {', '.join(CHANGED_AREAS)}")
        if not 0.0 < self.msi_mtf <= 1.0:
            raise InvalidInputError(
                f"the MSI's MTF at Nyquist must be above 0 and at most 1 (1 = no correction), got {self.msi_mtf}")
        if self.tile_size is not None and self.tile_size < 1:
            raise InvalidInputError(f"the tile size must be positive, got {self.tile_size}")

    @property
    def fits_network(self) -> bool:
        """Whether the run fits the network at all (0 iterations return the starting image)."""
        return self.outer_iterations > 0 and self.inner_iterations > 0
