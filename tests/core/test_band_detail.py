"""The per-band detail test (core/band_detail.py): bands whose detail the MSI does not carry take
less of it, bands it explains keep all of it."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics
from hsi_blind_fusion.core.band_detail import _ranges, band_detail_weights, summary
from hsi_blind_fusion.core.responses import gaussian_srf
from hsi_blind_fusion.core.simulation import simulate
from hsi_blind_fusion.core.synthetic_scene import make_scene

SIZE, SCALE = 128, 4


@pytest.fixture(scope="module")
def unseen_nir():
    """A scene whose near-infrared bands (above 700 nm) show the scene turned by 90 degrees, seen by
    a visible-only MSI (three bands at 450-650 nm): the MSI's detail is wrong for those bands."""
    s = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=None, seed=0)
    nir = s.wavelengths_nm > 700
    x = np.where(nir[:, None, None], np.rot90(s.truth, axes=(1, 2)), s.truth).astype(np.float32)
    srf = gaussian_srf(np.array([450.0, 550.0, 650.0]), [60.0, 60.0, 60.0], s.wavelengths_nm)
    y, z = simulate(x, s.kernel, srf, SCALE, snr_db=40.0, seed=0)
    runs = {c: fuse(y, z, scale=SCALE, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(band_detail=c, guard="warn")) for c in ("off", "auto")}
    return x, nir, runs


def test_bands_the_msi_does_not_see_take_less_of_its_detail(unseen_nir):
    x, nir, runs = unseen_nir
    shares = np.array(runs["auto"].diagnostics.band_detail)
    assert shares.shape == (40,)
    assert shares[~nir].min() >= 0.95, shares            # the MSI explains the visible bands
    assert shares[nir].max() < 0.85, shares              # and not the near-infrared ones
    psnr = {c: (metrics.psnr(x[nir], r.image[nir]), metrics.psnr(x[~nir], r.image[~nir])) for c, r in runs.items()}
    assert psnr["auto"][0] > psnr["off"][0] + 0.25, psnr
    assert psnr["auto"][1] > psnr["off"][1] - 0.05, psnr
    assert runs["off"].diagnostics.band_detail is None


def test_a_matching_msi_keeps_all_of_its_detail():
    s = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=35.0, seed=3)
    runs = {c: fuse(s.hsi, s.msi, scale=SCALE, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(band_detail=c)) for c in ("off", "auto")}
    assert min(runs["auto"].diagnostics.band_detail) >= 0.95
    assert abs(metrics.psnr(s.truth, runs["auto"].image) - metrics.psnr(s.truth, runs["off"].image)) < 0.05


def test_the_weights_are_the_least_squares_share_of_the_detail():
    """An HSI band that is exactly an MSI band reads 1; a band of noise unrelated to the MSI reads
    about 0; a scene too small to test is not tested."""
    rng = np.random.default_rng(0)
    s = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=None, seed=1)
    z_lr = torch.from_numpy(s.hsi[[5, 20, 35]].copy())
    y = torch.stack([z_lr[1], torch.from_numpy(rng.random(z_lr.shape[1:]).astype(np.float32))])

    def fit(y_r, z, kernel, r, valid):     # a perfect predictor of band 0 from the MSI, none of band 1
        out = torch.nn.functional.interpolate(y_r[None], scale_factor=r, mode="bilinear")[0]
        out[0] = z[1]
        out[1] = out[1] + (z[0] - z[0].mean()) * 0.5
        return out

    w = band_detail_weights(y, z_lr, fit)
    assert w[0] > 0.99 and w[1] < 0.1, w
    assert band_detail_weights(y[:, :8, :8], z_lr[:, :8, :8], fit) is None


def test_the_log_names_the_bands_built_from_the_upsampled_hsi():
    assert summary(None) == "" and summary(torch.tensor([1.0, 0.6])) == ""
    line = summary(torch.tensor([1.0, 0.3, 0.2, 1.0, 0.1]))
    assert "2 of 5" not in line and "3 of 5 HSI bands" in line and "bands 2-3, 5" in line, line
    assert _ranges([0, 1, 2, 7]) == "1-3, 8"
