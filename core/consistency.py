"""Consistency of a fused image with its inputs, without a reference.

The fused image X re-degraded with the estimated kernel K and response P should give back each
input: ``(X*K)↓s`` the HSI and ``gain · P·X`` the MSI. Per-band residuals that stand out point at
misregistration, clouds or bad bands; for a degradation alone, ``(Z*K)↓s`` is compared with
``gain · P·Y``.

The fused image may be an array or a :class:`~.rows.Rows` (a written raster read strip by strip):
``(X*K)↓s`` is computed on strips of HSI rows, each read with a margin of whole HSI rows that
covers the kernel, so the strips give what the whole image gives.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .rows import as_rows, strip_rows, strips


class _BandErrors:
    """Per-band sums for the RMSE and the mean absolute observed value over valid pixels."""

    def __init__(self, bands: int):
        self.sq = np.zeros(bands)
        self.abs = np.zeros(bands)
        self.n = 0

    def add(self, pred: np.ndarray, obs: np.ndarray, valid: np.ndarray) -> None:
        ok = valid & np.isfinite(pred).all(0) & np.isfinite(obs).all(0)
        if not ok.any():
            return
        d = pred[:, ok].astype(np.float64) - obs[:, ok].astype(np.float64)
        self.sq += np.sum(d * d, axis=1)
        self.abs += np.sum(np.abs(obs[:, ok].astype(np.float64)), axis=1)
        self.n += int(ok.sum())

    def result(self):
        """``(rmse, rmse relative to the band's mean |value| in %)``; NaN without a valid pixel."""
        if self.n == 0:
            nan = np.full(self.sq.shape, np.nan)
            return nan, nan
        rmse = np.sqrt(self.sq / self.n)
        return rmse, 100.0 * rmse / np.maximum(self.abs / self.n, 1e-12)


def _band_rmse(pred: np.ndarray, obs: np.ndarray, valid: Optional[np.ndarray] = None):
    """Per-band RMSE and RMSE relative to the band's mean absolute value (%), over finite, valid pixels."""
    acc = _BandErrors(pred.shape[0])
    ok = np.ones(pred.shape[1:], bool) if valid is None or valid.shape != pred.shape[1:] else valid
    acc.add(pred, obs, ok)
    return acc.result()


def consistency_residuals(hsi: np.ndarray, msi: np.ndarray, kernel: np.ndarray, srf: np.ndarray, scale: int,
                          msi_gain: Optional[np.ndarray] = None, fused=None,
                          hsi_valid: Optional[np.ndarray] = None, msi_valid: Optional[np.ndarray] = None) -> dict:
    """Per-band residuals of the observation model, in the images' units.

    With ``fused`` (X, an array or a :class:`~.rows.Rows`): ``hsi`` against ``(X*K)↓s`` (one value
    per HSI band) and ``msi`` against ``msi_gain · P·X`` (one per MSI band). Without it (a
    degradation alone): ``(Z*K)↓s`` against ``msi_gain · P·Y`` (one per MSI band, on the HSI grid).
    Returns ``{"hsi": (rmse, rel%) or None, "msi": (rmse, rel%), "kind": ...}``."""
    import torch

    from .operators import blur_downsample, project

    k = torch.as_tensor(np.asarray(kernel, dtype=np.float32))
    p = torch.as_tensor(np.asarray(srf, dtype=np.float32))
    gain = np.ones(p.shape[0]) if msi_gain is None else np.asarray(msi_gain, dtype=np.float64).ravel()
    g = torch.as_tensor(gain.astype(np.float32))[:, None, None]
    s = int(scale)
    with torch.no_grad():
        if fused is not None:
            x = as_rows(fused)
            bands, height, width = x.shape
            y = np.asarray(hsi, dtype=np.float32)
            z = np.asarray(msi, dtype=np.float32)
            h, w = min(height // s, y.shape[1]), min(width // s, y.shape[2])
            margin = s * -(-(k.shape[-1] // 2) // s)          # whole HSI rows covering the kernel's reach
            hsi_err, msi_err = _BandErrors(bands), _BandErrors(p.shape[0])
            step = strip_rows(bands, width, 1) // s or 1      # HSI rows per strip
            for i0, i1 in strips(h, step):
                a, b = max(0, i0 * s - margin), min(height, i1 * s + margin)
                xs = x.read(a, b)
                x_ok = np.isfinite(xs).all(0)
                xt = torch.as_tensor(np.nan_to_num(xs))
                y_hat = blur_downsample(xt, k, s).numpy()[:, i0 - a // s : i1 - a // s, :w]
                lr_ok = x_ok[(i0 * s - a) + s // 2 :: s][: i1 - i0, s // 2 :: s][:, :w]
                if hsi_valid is not None:
                    lr_ok = lr_ok & hsi_valid[i0:i1, :w]
                hsi_err.add(y_hat, y[:, i0:i1, :w], lr_ok)
                r0, r1 = i0 * s - a, i1 * s - a             # the strip's own MSI rows (no margin)
                z_hat = (g * project(xt[:, r0:r1], p)).numpy()
                ok = x_ok[r0:r1] if msi_valid is None else x_ok[r0:r1] & msi_valid[i0 * s : i1 * s]
                msi_err.add(z_hat, z[:, i0 * s : i1 * s], ok)
            if h * s < height:                               # MSI rows below the last HSI row
                xs = x.read(h * s, height)
                z_hat = (g * project(torch.as_tensor(np.nan_to_num(xs)), p)).numpy()
                ok = np.isfinite(xs).all(0) if msi_valid is None else np.isfinite(xs).all(0) & msi_valid[h * s :]
                msi_err.add(z_hat, z[:, h * s : height], ok)
            return {"hsi": hsi_err.result(), "msi": msi_err.result(), "kind": "fused"}
        z = torch.as_tensor(np.nan_to_num(np.asarray(msi, dtype=np.float32)))
        z_lr = blur_downsample(z, k, s).numpy()
        y = torch.as_tensor(np.nan_to_num(np.asarray(hsi, dtype=np.float32)))
        py = (g * project(y, p)).numpy()
        h, w = min(z_lr.shape[1], py.shape[1]), min(z_lr.shape[2], py.shape[2])
        ok = np.ones((h, w), bool) if hsi_valid is None else hsi_valid[:h, :w].copy()
        return {"hsi": None, "msi": _band_rmse(py[:, :h, :w], z_lr[:, :h, :w], ok), "kind": "degradation"}


def mean_relative_residuals(residuals: dict) -> dict:
    """The mean over bands of the relative residuals (%): ``{"HSI_RESIDUAL": ..., "MSI_RESIDUAL": ...}``
    (None where not computed)."""
    out = {}
    for key, name in (("hsi", "HSI_RESIDUAL"), ("msi", "MSI_RESIDUAL")):
        rel = residuals.get(key)
        out[name] = None if rel is None or not np.isfinite(rel[1]).any() else float(np.nanmean(rel[1]))
    return out
