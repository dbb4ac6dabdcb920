"""Non-local means on the MSI: removes white noise, gives the same result in row blocks and in
place, leaves nodata alone, reads the noise level, and lifts the classical start."""
import pytest
import torch

from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.initial_estimate import fit_classical
from hsi_blind_fusion.core.msi_denoising import denoise_msi, msi_noise_level, nonlocal_means
from hsi_blind_fusion.core.synthetic_scene import make_scene


def _noisy_msi(side=96, snr_db=30.0):
    """The default synthetic scene's MSI (8 bands, material regions): noise-free and noisy."""
    clean = torch.from_numpy(make_scene(side, 4, snr_db=None, seed=0).msi)
    noisy = torch.from_numpy(make_scene(side, 4, snr_db=snr_db, seed=0).msi)
    return clean, noisy


def _true_sigma(clean, noisy):
    return (noisy - clean).reshape(clean.shape[0], -1).std(1)


def test_nonlocal_means_removes_most_of_the_noise():
    clean, noisy = _noisy_msi()
    out = nonlocal_means(noisy, _true_sigma(clean, noisy))
    before = float((noisy - clean).pow(2).mean().sqrt())
    after = float((out - clean).pow(2).mean().sqrt())
    assert after < 0.7 * before, (before, after)


def test_a_zero_noise_level_leaves_the_image_unchanged():
    clean, _ = _noisy_msi()
    out = nonlocal_means(clean, torch.zeros(clean.shape[0]))
    assert torch.equal(out, clean)                         # no noise: nothing to remove


def test_row_blocks_give_the_whole_image_result():
    clean, noisy = _noisy_msi(side=64)
    sigma = _true_sigma(clean, noisy)
    whole = nonlocal_means(noisy, sigma, block_rows=1000)
    blocks = nonlocal_means(noisy, sigma, block_rows=7)
    assert torch.allclose(whole, blocks, atol=1e-6)
    in_place = noisy.clone()
    returned = nonlocal_means(in_place, sigma, block_rows=7, inplace=True)   # large scenes: no second copy
    assert returned.data_ptr() == in_place.data_ptr()
    assert torch.allclose(whole, in_place, atol=1e-6)


def test_nodata_pixels_neither_change_nor_leak_into_their_neighbours():
    clean, noisy = _noisy_msi(side=64)
    valid = torch.ones(noisy.shape[1:], dtype=torch.bool)
    valid[20:30, 20:30] = False
    sigma = _true_sigma(clean, noisy)
    a, b, c = noisy.clone(), noisy.clone(), noisy.clone()
    a[:, ~valid], b[:, ~valid], c[:, ~valid] = 0.0, 1e3, float("nan")     # three different nodata fills
    out_a, out_b, out_c = (nonlocal_means(t, sigma, valid=valid) for t in (a, b, c))
    assert torch.equal(out_b[:, ~valid], b[:, ~valid])
    assert torch.allclose(out_a[:, valid], out_b[:, valid], atol=1e-6)
    assert torch.allclose(out_a[:, valid], out_c[:, valid], atol=1e-6)
    assert not torch.equal(out_a[:, valid], a[:, valid])               # the valid pixels were denoised


@pytest.mark.parametrize("snr_db", [30.0, 40.0])
def test_noise_level_reads_near_the_truth_and_rather_low_than_high(snr_db):
    clean, noisy = _noisy_msi(side=128, snr_db=snr_db)
    ratio = msi_noise_level(noisy) / _true_sigma(clean, noisy)
    assert torch.all(ratio > 0.5) and torch.all(ratio < 1.6), ratio     # too high would over-smooth


@pytest.mark.parametrize("snr_db", [25.0, 30.0, 40.0])
def test_denoised_msi_lifts_the_classical_start(snr_db):
    s = make_scene(96, 4, snr_db=snr_db, seed=0)
    yt, zt = torch.from_numpy(s.hsi), torch.from_numpy(s.msi)
    kt, pt = torch.as_tensor(s.kernel, dtype=torch.float32), torch.as_tensor(s.srf, dtype=torch.float32)
    plain = metrics.psnr(s.truth, fit_classical(yt, zt, kt, 4, srf=pt).whole().numpy())
    zd, sigma = denoise_msi(zt, yt, kt, pt, 4)
    denoised = metrics.psnr(s.truth, fit_classical(yt, zd, kt, 4, srf=pt).whole().numpy())
    assert denoised > plain + 1.0, (plain, denoised)       # measured +2.2..+2.4 dB


def test_fuse_denoises_the_msi_by_default_and_reports_its_noise():
    from hsi_blind_fusion.core import FusionSettings, fuse

    s = make_scene(96, 4, snr_db=30.0, seed=0)
    clean = make_scene(96, 4, snr_db=None, seed=0)
    on = fuse(s.hsi, s.msi, outer_iterations=0, device="cpu")
    off = fuse(s.hsi, s.msi, outer_iterations=0, device="cpu", settings=FusionSettings(msi_denoising=0))
    assert metrics.psnr(s.truth, on.image) > metrics.psnr(s.truth, off.image) + 1.0
    true = (s.msi - clean.msi).reshape(s.msi.shape[0], -1).std(1)
    reported = torch.tensor(on.diagnostics.msi_noise_std).numpy()
    assert ((reported > 0.5 * true) & (reported < 2.0 * true)).all(), (reported, true)
    assert off.diagnostics.msi_noise_std is None


def test_each_pixel_is_the_weighted_mean_of_its_search_window():
    """Against the definition, pixel by pixel (corners included, where neighbours are reflected):
    the fast paths (offset pairs sharing one weight map) change no weight."""
    import math

    import torch.nn.functional as F

    search, patch, bands = 5, 1, 3
    z = torch.rand(bands, 30, 34, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.3, 0.2, 0.25], dtype=torch.float64)
    out = nonlocal_means(z, sigma, search=search, patch=patch, block_rows=8)
    reach = search + patch
    padded = F.pad(z[None], (reach,) * 4, mode="reflect")[0]
    white = padded / sigma[:, None, None]
    width_sq = 0.85 ** 2 * 2 * bands

    def patch_at(r, c):
        return white[:, r + reach - patch : r + reach + patch + 1, c + reach - patch : c + reach + patch + 1]

    for r, c in ((0, 0), (0, 33), (29, 17), (12, 5), (15, 16)):
        num, den = torch.zeros(bands, dtype=torch.float64), 0.0
        for dy in range(-search, search + 1):
            for dx in range(-search, search + 1):
                dist = float(((patch_at(r, c) - patch_at(r + dy, c + dx)) ** 2).sum(0).mean())
                w = math.exp(-max(dist - 2 * bands, 0.0) / width_sq)
                num += w * padded[:, r + dy + reach, c + dx + reach]
                den += w
        assert torch.allclose(out[:, r, c], num / den, atol=1e-12), (r, c)
