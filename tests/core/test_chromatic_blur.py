"""A blur that changes with wavelength (core/chromatic_blur.py): groups of bands get their own
kernel when the HSI's blur drifts across its bands, and a blur common to all bands is left alone."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics
from hsi_blind_fusion.core.chromatic_blur import derivative_kernels, warp_kernel
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.operators import blur_downsample
from hsi_blind_fusion.core.simulation import simulate
from hsi_blind_fusion.core.synthetic_scene import make_scene


def _centre_and_radius(k):
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]] - k.shape[0] // 2
    cy, cx = (k * yy).sum(), (k * xx).sum()
    return cx, cy, np.sqrt((k * ((xx - cx) ** 2 + (yy - cy) ** 2)).sum())


def test_warp_shifts_and_stretches_a_valid_kernel():
    base = gaussian_kernel(21, 2.0)
    moved = warp_kernel(base, (1.5, -1.0, 0.2, 0.2))
    assert moved.min() >= 0 and abs(moved.sum() - 1) < 1e-6
    cx, cy, r = _centre_and_radius(moved)
    assert abs(cx - 1.5) < 0.05 and abs(cy + 1.0) < 0.05
    assert abs(r / _centre_and_radius(base)[2] - 1.2) < 0.03
    # the derivatives are the first-order change of the warp
    step = 0.05 * np.array([1.0, -1.0, 0.5, 0.5])
    linear = base + np.tensordot(step, derivative_kernels(base), axes=1)
    assert np.abs(linear - warp_kernel(base, step)).max() < 0.05 * base.max()


@pytest.fixture(scope="module")
def drifting():
    """A scene whose HSI blur moves by 3 MSI pixels and widens by half across its 40 bands."""
    s = make_scene(size=128, scale=4, bands=40, snr_db=None, seed=0)
    drift = np.linspace(-1, 1, 40)
    per = np.stack([warp_kernel(gaussian_kernel(13, 1.8), (1.5 * d, 0.0, 0.25 * d, 0.25 * d))
                    for d in drift]).astype(np.float32)
    y_mean, z = simulate(s.truth, per.mean(0), s.srf, 4, snr_db=40.0, seed=0)
    noise = y_mean - blur_downsample(torch.from_numpy(s.truth), torch.from_numpy(per.mean(0)), 4).numpy()
    y = np.stack([blur_downsample(torch.from_numpy(s.truth[b : b + 1]), torch.from_numpy(per[b]), 4).numpy()[0]
                  for b in range(40)]) + noise
    runs = {c: fuse(y.astype(np.float32), z, scale=4, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(chromatic_blur=c, guard="warn")) for c in ("off", "auto")}
    return s, runs


def test_a_drifting_blur_gets_a_kernel_per_group_of_bands(drifting):
    s, runs = drifting
    found = runs["auto"].diagnostics.band_kernels
    assert found is not None and runs["off"].diagnostics.band_kernels is None
    shifts = found.params[:, 0]
    assert shifts[0] < -0.8 and shifts[-1] > 0.4 and np.all(np.diff(shifts) > -0.1), found.params
    off, auto = (metrics.psnr(s.truth, r.image) for r in (runs["off"], runs["auto"]))
    assert auto > off + 3.0, (off, auto)
    assert "chromatic blur" in found.summary() and len(found.groups) == 8


def test_a_blur_common_to_all_bands_is_left_alone():
    s = make_scene(size=128, scale=4, bands=40, snr_db=35.0, seed=3)
    runs = {c: fuse(s.hsi, s.msi, scale=4, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(chromatic_blur=c)) for c in ("off", "auto")}
    assert runs["auto"].diagnostics.band_kernels is None
    assert np.array_equal(runs["auto"].image, runs["off"].image)
