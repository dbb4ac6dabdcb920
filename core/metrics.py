"""Quality of a fused image against a reference, and errors of estimated degradations.

Images are ``(bands, H, W)`` arrays in the same units. PSNR uses the reference's peak value as
the signal range (the convention of the CAVE fusion literature when data are in [0, 1]).
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if r.shape != e.shape:
        raise ValueError(f"reference {r.shape} and estimate {e.shape} differ in shape")
    return r, e


def rmse(reference: np.ndarray, estimate: np.ndarray) -> float:
    r, e = _pair(reference, estimate)
    return float(np.sqrt(np.mean((r - e) ** 2)))


def psnr(reference: np.ndarray, estimate: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB over the whole cube."""
    r, e = _pair(reference, estimate)
    peak = float(r.max()) if data_range is None else float(data_range)
    mse = np.mean((r - e) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def sam(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean spectral angle in degrees over pixels whose spectra are not zero."""
    r, e = _pair(reference, estimate)
    r2, e2 = r.reshape(r.shape[0], -1), e.reshape(e.shape[0], -1)
    nr, ne = np.linalg.norm(r2, axis=0), np.linalg.norm(e2, axis=0)
    ok = (nr > 0) & (ne > 0)
    cos = np.sum(r2[:, ok] * e2[:, ok], axis=0) / (nr[ok] * ne[ok])
    return float(np.degrees(np.mean(np.arccos(np.clip(cos, -1.0, 1.0))))) if ok.any() else 0.0


#: SSIM's Gaussian window (Wang et al. 2004): sigma 1.5 pixels, truncated at 3.5 sigma (11 x 11)
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)


def ssim(reference: np.ndarray, estimate: np.ndarray, data_range: float | None = None,
         valid: np.ndarray | None = None) -> float:
    """Mean structural similarity over bands (scikit-image, Gaussian-weighted as Wang et al.).

    With ``valid`` (H, W), the SSIM map is averaged over the pixels whose whole 11 x 11 window lies
    on valid pixels (and inside the image, as scikit-image does without a mask): invalid pixels
    neither count as perfect nor leak into their neighbours' scores. ``data_range`` defaults to
    the reference's range over valid pixels. Both arrays may hold anything (NaN) where invalid."""
    r, e = _pair(reference, estimate)
    if valid is None:
        rng = float(r.max() - r.min()) if data_range is None else float(data_range)
        return float(structural_similarity(r, e, channel_axis=0, data_range=rng or 1.0,
                                           gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False))
    from scipy.ndimage import binary_erosion

    ok = np.asarray(valid, dtype=bool)
    if ok.shape != r.shape[1:]:
        raise ValueError(f"valid {ok.shape} does not match the images {r.shape[1:]}")
    rad = SSIM_RADIUS
    inner = binary_erosion(ok, np.ones((2 * rad + 1, 2 * rad + 1), bool), border_value=0)
    if not inner.any():
        raise ValueError("no valid 11 x 11 window: the valid area is too small or too fragmented for SSIM")
    rv = r[:, ok]
    rng = float(rv.max() - rv.min()) if data_range is None else float(data_range)
    # Invalid pixels get the band's valid mean: finite values that only windows left out touch.
    r, e = r.copy(), e.copy()
    for img in (r, e):
        means = np.array([b[ok].mean() for b in img])
        img[:, ~ok] = means[:, None]
    _, full = structural_similarity(r, e, channel_axis=0, data_range=rng or 1.0, gaussian_weights=True,
                                    sigma=SSIM_SIGMA, use_sample_covariance=False, full=True)
    return float(full[:, inner].mean())


def ergas(reference: np.ndarray, estimate: np.ndarray, scale: int) -> float:
    """Relative dimensionless global error (lower is better), ``100/scale * sqrt(mean_b (rmse_b/mean_b)^2)``."""
    r, e = _pair(reference, estimate)
    rmse_b = np.sqrt(np.mean((r - e) ** 2, axis=(1, 2)))
    mean_b = np.mean(r, axis=(1, 2))
    ratio = np.divide(rmse_b, mean_b, out=np.zeros_like(rmse_b), where=mean_b != 0)
    return float(100.0 / scale * np.sqrt(np.mean(ratio**2)))


def quality_report(reference: np.ndarray, estimate: np.ndarray, scale: int) -> dict[str, float]:
    """All image metrics at once, as a dict (the order of the benchmark tables)."""
    return {"psnr": psnr(reference, estimate), "sam": sam(reference, estimate),
            "ssim": ssim(reference, estimate), "ergas": ergas(reference, estimate, scale),
            "rmse": rmse(reference, estimate)}


def kernel_correlation(true_kernel: np.ndarray, estimated: np.ndarray) -> float:
    """Pearson correlation of two kernels after centring both in a common support."""
    a, b = _common_support(true_kernel, estimated)
    a, b = a - a.mean(), b - b.mean()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.sum(a * b) / den) if den > 0 else 0.0


def kernel_error(true_kernel: np.ndarray, estimated: np.ndarray) -> float:
    """Relative L2 error ``||k_est - k|| / ||k||`` in a common support."""
    a, b = _common_support(true_kernel, estimated)
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def srf_error(true_srf: np.ndarray, estimated: np.ndarray) -> float:
    """Relative Frobenius error of row-normalized responses ``||P_est - P|| / ||P||``."""
    a = np.asarray(true_srf, dtype=np.float64)
    b = np.asarray(estimated, dtype=np.float64)
    a = a / a.sum(axis=1, keepdims=True)
    b = b / b.sum(axis=1, keepdims=True)
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def _common_support(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from .kernels import kernel_from_array

    n = max(max(a.shape), max(b.shape))
    n += 1 - n % 2
    return kernel_from_array(a, n), kernel_from_array(b, n)
