"""Consistency of a fused image with its inputs, without a reference.

The fused image X re-degraded with the estimated kernel K and response P should give back each
input: ``(X*K)↓s`` the HSI and ``gain · P·X`` the MSI. Per-band residuals that stand out point at
misregistration, clouds or bad bands; for a degradation alone, ``(Z*K)↓s`` is compared with
``gain · P·Y``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def _band_rmse(pred: np.ndarray, obs: np.ndarray, valid: Optional[np.ndarray] = None):
    """Per-band RMSE and RMSE relative to the band's mean absolute value (%), over finite, valid pixels."""
    ok = np.isfinite(pred).all(0) & np.isfinite(obs).all(0)
    if valid is not None and valid.shape == ok.shape:
        ok &= valid
    if not ok.any():
        nan = np.full(pred.shape[0], np.nan)
        return nan, nan
    d = pred[:, ok] - obs[:, ok]
    rmse = np.sqrt(np.mean(d.astype(np.float64) ** 2, axis=1))
    scale = np.mean(np.abs(obs[:, ok].astype(np.float64)), axis=1)
    return rmse, 100.0 * rmse / np.maximum(scale, 1e-12)


def consistency_residuals(hsi: np.ndarray, msi: np.ndarray, kernel: np.ndarray, srf: np.ndarray, scale: int,
                          msi_gain: Optional[np.ndarray] = None, fused: Optional[np.ndarray] = None,
                          hsi_valid: Optional[np.ndarray] = None, msi_valid: Optional[np.ndarray] = None) -> dict:
    """Per-band residuals of the observation model, in the images' units.

    With ``fused`` (X): ``hsi`` against ``(X*K)↓s`` (one value per HSI band) and ``msi`` against
    ``msi_gain · P·X`` (one per MSI band). Without it (a degradation alone): ``(Z*K)↓s`` against
    ``msi_gain · P·Y`` (one per MSI band, on the HSI grid).
    Returns ``{"hsi": (rmse, rel%) or None, "msi": (rmse, rel%), "kind": ...}``."""
    import torch

    from .operators import blur_downsample, project

    k = torch.as_tensor(np.asarray(kernel, dtype=np.float32))
    p = torch.as_tensor(np.asarray(srf, dtype=np.float32))
    gain = np.ones(p.shape[0]) if msi_gain is None else np.asarray(msi_gain, dtype=np.float64).ravel()
    g = torch.as_tensor(gain.astype(np.float32))[:, None, None]
    with torch.no_grad():
        if fused is not None:
            x = torch.as_tensor(np.nan_to_num(np.asarray(fused, dtype=np.float32)))
            y_hat = blur_downsample(x, k, int(scale)).numpy()
            h, w = min(y_hat.shape[1], hsi.shape[1]), min(y_hat.shape[2], hsi.shape[2])
            lr_ok = np.isfinite(np.asarray(fused)[:, int(scale) // 2::int(scale), int(scale) // 2::int(scale)]).all(0)
            lr_ok = lr_ok[:h, :w] & (hsi_valid[:h, :w] if hsi_valid is not None else True)
            res_h = _band_rmse(y_hat[:, :h, :w], np.asarray(hsi, dtype=np.float32)[:, :h, :w], lr_ok)
            z_hat = (g * project(x, p)).numpy()
            ok = np.isfinite(np.asarray(fused)).all(0)
            if msi_valid is not None:
                ok &= msi_valid
            res_m = _band_rmse(z_hat, np.asarray(msi, dtype=np.float32), ok)
            return {"hsi": res_h, "msi": res_m, "kind": "fused"}
        z = torch.as_tensor(np.nan_to_num(np.asarray(msi, dtype=np.float32)))
        z_lr = blur_downsample(z, k, int(scale)).numpy()
        y = torch.as_tensor(np.nan_to_num(np.asarray(hsi, dtype=np.float32)))
        py = (g * project(y, p)).numpy()
        h, w = min(z_lr.shape[1], py.shape[1]), min(z_lr.shape[2], py.shape[2])
        ok = np.ones((h, w), bool) if hsi_valid is None else hsi_valid[:h, :w].copy()
        return {"hsi": None, "msi": _band_rmse(py[:, :h, :w], z_lr[:, :h, :w], ok), "kind": "degradation"}
