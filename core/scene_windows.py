"""The starting image and the network's guidance on any HR window of the scene.

Small scenes keep both as whole arrays (windows are slices); large ones compute each window from
the classical estimator's LR-sized coefficients, with a margin that makes the window exact (the
same values as the whole image would have there), and keep the windows the fitting revisits.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from .backbone import backbone_estimate
from .chromatic_blur import estimate_band_kernels
from .initial_estimate import ClassicalEstimator, fit_classical
from .observations import DeviceObservations
from .reconstruction_net import guidance_features, spectral_subspace
from .settings import FusionSettings
from .windows import Window, grown_on_lr_grid


def padded_basis(basis: torch.Tensor, dims: int) -> torch.Tensor:
    """Zero columns up to ``dims`` so the network has one shape for any band count."""
    if basis.shape[1] >= dims:
        return basis
    return torch.cat([basis, basis.new_zeros(basis.shape[0], dims - basis.shape[1])], dim=1)


class SceneWindows:
    """Start image and guidance of the network on HR windows, cached or streamed."""

    def __init__(self, estimator: Optional[ClassicalEstimator], x_full: Optional[torch.Tensor],
                 obs: DeviceObservations, basis: torch.Tensor, method: str):
        self.estimator, self.x_full, self.obs = estimator, x_full, obs
        self.basis, self.scale, self.method = basis, obs.scale, method
        self.cached = x_full is not None
        self.features_full: Optional[torch.Tensor] = None
        self.kernel: Optional[torch.Tensor] = None
        self.srf: Optional[torch.Tensor] = None
        self._version = 0                  # bumped by every new K and P
        self._kept: dict[Window, list] = {}   # streaming: [start image, its window, guidance, version]

    @classmethod
    def build(cls, cfg: FusionSettings, obs: DeviceObservations, kernel: torch.Tensor, srf: torch.Tensor,
              check: Callable[[], None]) -> "SceneWindows":
        """The starting image for the settings: the backbone's when asked for and it loads (cached
        scenes only), else the classical estimate; kept whole when it fits the cache budget."""
        y, z = obs.y, obs.z
        basis = padded_basis(spectral_subspace(y, cfg.subspace_dims), cfg.subspace_dims)
        bands, (height, width) = y.shape[0], obs.hr_shape
        fits = bands * height * width * 4 * 3 + 4 * cfg.subspace_dims * height * width * 4 <= cfg.cache_limit_bytes
        if fits and cfg.initial != "classical":
            x = backbone_estimate(y, z, kernel, srf, obs.scale)
            if x is not None:
                return cls(None, x, obs, basis, "backbone")
        band_kernels = None
        if cfg.chromatic_blur == "auto":
            proxy = lambda yw, zw, k, vw, kernels: fit_classical(  # noqa: E731
                yw, zw, k, obs.scale, hsi_valid=vw, back_projections=0, shape_sigma=0.0, denoise_residual=False,
                band_kernels=kernels, check=check).region(Window.full(*zw.shape[1:]))
            band_kernels = estimate_band_kernels(y, z, kernel, obs.scale, proxy, obs.hsi_valid)
        estimator = fit_classical(y, z, kernel, obs.scale, hsi_valid=obs.hsi_valid, check=check,
                                  denoise_residual=cfg.residual_denoising, srf=srf if cfg.noise_cap else None,
                                  band_valid=obs.hsi_band_valid, detail_test=cfg.band_detail == "auto",
                                  band_kernels=band_kernels)
        x_full = estimator.whole(check) if fits else None
        return cls(estimator, x_full, obs, basis, "classical")

    @property
    def margin(self) -> int:
        """HR pixels of context the start image of a streamed window needs."""
        return self.estimator.margin if self.estimator is not None else 0

    @property
    def guidance_margin(self) -> int:
        """HR pixels of context the guidance maps need (blur plus bicubic reach), on the LR grid."""
        s = self.scale
        return s * math.ceil((self.kernel.shape[-1] // 2 + 3 * s) / s)

    def set_degradation(self, kernel: torch.Tensor, srf: torch.Tensor) -> None:
        """New K and P: the guidance changes (recomputed at once when cached)."""
        self.kernel, self.srf = kernel.detach(), srf.detach()
        self._version += 1
        if self.cached:
            self.features_full = guidance_features(self.x_full, self.obs.y, self.obs.z, self.kernel, self.srf,
                                                   self.scale, self.basis)

    def window(self, window: Window, keep: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The starting image and the guidance on an HR window.

        Streaming scenes: with ``keep`` the window's start image stays in memory (training crops
        are revisited; the start image never changes, the guidance only with K and P) until
        :meth:`forget`."""
        if self.cached:
            rows, cols = window.slices()
            return self.x_full[:, rows, cols], self.features_full[:, rows, cols]
        entry = self._kept.get(window)
        if entry is None:
            grown = grown_on_lr_grid(window, self.guidance_margin, self.scale, *self.obs.hr_shape)
            entry = [self.estimator.region(grown), grown, None, -1]
            if keep:
                self._kept[window] = entry
        xb, grown, features, version = entry
        if version != self._version:
            rows, cols = grown.slices()
            lr_rows, lr_cols = grown.to_lr(self.scale).slices()
            features = guidance_features(xb, self.obs.y[:, lr_rows, lr_cols], self.obs.z[:, rows, cols],
                                         self.kernel, self.srf, self.scale, self.basis)
            entry[2], entry[3] = features, self._version
        rows, cols = window.relative_to(grown).slices()
        return xb[:, rows, cols], features[:, rows, cols]

    def forget(self, window: Optional[Window] = None) -> None:
        """Drop one kept window, or all of them (before rendering: their memory goes to the tiles)."""
        if window is None:
            self._kept.clear()
        else:
            self._kept.pop(window, None)

    def kept_window_bytes(self, rows: int, cols: int) -> int:
        """Memory one kept streaming window of rows x cols takes (start image and guidance)."""
        grow = 2 * self.guidance_margin
        return (rows + grow) * (cols + grow) * (self.obs.y.shape[0] + self.basis.shape[1] * 4) * 4
