"""The classical starting estimate: its residual back-projection keeps signal and leaves noise out."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import metrics, simulate
from hsi_blind_fusion.core.initial_estimate import regression_estimate, signal_projector
from hsi_blind_fusion.core.kernels import gaussian_kernel
from helpers.scenes import synthetic_cube, synthetic_srf


def _low_rank_plus_noise(bands=40, side=32, rank=3, seed=0):
    rng = np.random.default_rng(seed)
    spectra = rng.normal(size=(bands, rank))
    maps = rng.normal(size=(rank, side, side)) * 5.0
    signal = np.einsum("br,rhw->bhw", spectra, maps)
    sigma = rng.uniform(0.2, 2.0, size=bands)             # a different noise level in every band
    noise = rng.normal(size=signal.shape) * sigma[:, None, None]
    return torch.from_numpy(signal).float(), torch.from_numpy(signal + noise).float()


def test_signal_projector_keeps_the_signal_rank_and_drops_white_noise():
    signal, noisy = _low_rank_plus_noise()
    proj = signal_projector(noisy)
    assert proj is not None
    assert float(torch.trace(proj)) == pytest.approx(3.0, abs=1e-3)         # a rank-3 projection
    kept = torch.einsum("ab,bhw->ahw", proj, noisy)
    before = float((noisy - signal).norm())
    after = float((kept - signal).norm())
    assert after < 0.3 * before


def test_signal_projector_declines_when_pixels_are_too_few():
    _, noisy = _low_rank_plus_noise(bands=40, side=6)                       # 36 pixels < 2 x 40 bands
    assert signal_projector(noisy) is None


@pytest.mark.parametrize("snr_db", [30.0, 40.0])
def test_denoised_back_projection_beats_plain_back_projection(snr_db):
    x = synthetic_cube(96, endmembers=4, spatial_smooth=1.5, seed=2)
    kernel = gaussian_kernel(9, 1.7)
    y, z = simulate(x, kernel, synthetic_srf(), 4, snr_db=snr_db, seed=0)
    args = (torch.from_numpy(y), torch.from_numpy(z), torch.as_tensor(kernel, dtype=torch.float32), 4)
    plain = metrics.psnr(x, regression_estimate(*args, denoise_residual=False).numpy())
    denoised = metrics.psnr(x, regression_estimate(*args).numpy())
    assert denoised > plain + 0.3, (plain, denoised)


def _two_region_scene():
    """Two halves with different spectral libraries: one global MSI -> HSI regression cannot fit
    both, so the local regression must be allowed to leave it (a small ridge weight)."""
    x = synthetic_cube(96, endmembers=4, spatial_smooth=1.5, seed=2)
    x[:, :, 48:] = synthetic_cube(96, endmembers=4, spatial_smooth=1.5, seed=7)[:, :, 48:]
    return x


@pytest.mark.parametrize("scene, snr_db", [("two_regions", 40.0), ("two_regions", 30.0), ("one_library", 25.0)])
def test_cross_validated_ridge_is_close_to_the_best_of_the_grid(scene, snr_db):
    from hsi_blind_fusion.core.initial_estimate import RIDGE_GRID, fit_classical

    x = _two_region_scene() if scene == "two_regions" else synthetic_cube(96, endmembers=4, spatial_smooth=1.5, seed=2)
    kernel = gaussian_kernel(9, 1.7)
    y, z = simulate(x, kernel, synthetic_srf(), 4, snr_db=snr_db, seed=0)
    args = (torch.from_numpy(y), torch.from_numpy(z), torch.as_tensor(kernel, dtype=torch.float32), 4)
    scores = {eps: metrics.psnr(x, regression_estimate(*args, eps=eps).numpy()) for eps in RIDGE_GRID}
    chosen = fit_classical(*args).ridge
    assert chosen in scores
    assert scores[chosen] >= max(scores.values()) - 0.1, (chosen, scores)
    if scene == "two_regions" and snr_db == 40.0:
        assert scores[chosen] > scores[0.01] + 0.4          # the former fixed weight


@pytest.mark.parametrize("spatial_smooth", [1.5, 4.0])
def test_lr_identity_noise_cap_bounds_the_msi_noise_from_above_but_not_far(spatial_smooth):
    from hsi_blind_fusion.core.noise import flat_block_noise_sigma, lr_identity_noise_cap
    from hsi_blind_fusion.core.operators import blur_downsample

    x = synthetic_cube(96, endmembers=4, spatial_smooth=spatial_smooth, seed=2)
    kernel, srf = gaussian_kernel(9, 1.5), synthetic_srf()
    y, z = simulate(x, kernel, srf, 4, snr_db=40.0, seed=0)
    _, clean = simulate(x, kernel, srf, 4, snr_db=None, seed=0)
    true = np.sqrt(((z - clean) ** 2).mean(axis=(1, 2)))
    k = torch.as_tensor(kernel, dtype=torch.float32)
    zt = torch.from_numpy(z)
    cap = lr_identity_noise_cap(torch.from_numpy(y), blur_downsample(zt, k, 4), k,
                                torch.as_tensor(srf, dtype=torch.float32)).numpy()
    assert np.all(cap > 0.9 * true) and np.all(cap < 3.0 * true), cap / true
    if spatial_smooth == 1.5:      # fine texture everywhere: the image-domain estimate is far off
        assert np.mean(flat_block_noise_sigma(zt).numpy() / true) > 2.5


def _motion_kernel(length=29, size=33):
    """A straight motion trail off the kernel's centre (as the long f_set kernels are)."""
    k = np.zeros((size, size))
    for t in range(length):
        k[size // 2 - t // 3, size // 2 - 14 + t] = 1.0
    return k / k.sum()


def test_back_projection_is_plain_for_a_compact_blur_and_adjoint_for_a_motion_trail():
    from hsi_blind_fusion.core.initial_estimate import back_projection_operator, lr_response

    compact = lr_response(torch.from_numpy(gaussian_kernel(17, 2.5)).float(), 8)
    trail = lr_response(torch.from_numpy(_motion_kernel()).float(), 8)
    assert back_projection_operator(compact) is None
    adjoint = back_projection_operator(trail)
    assert adjoint is not None and torch.equal(adjoint, torch.flip(trail, dims=(0, 1)))


def test_a_long_motion_blur_back_projection_converges():
    """With the plain back-projection this start fell far below the upsampled HSI (the iteration
    amplified the residual at the frequencies the trail turns); more rounds must not make it worse."""
    from hsi_blind_fusion.core.initial_estimate import bicubic_estimate

    x = synthetic_cube(128, seed=3)
    k = _motion_kernel()
    y, z = simulate(x, k, synthetic_srf(), 8, snr_db=40.0, seed=0)
    yt, zt, kt = torch.from_numpy(y), torch.from_numpy(z), torch.from_numpy(k).float()
    up = metrics.psnr(x, bicubic_estimate(yt, 8, *x.shape[1:]).numpy())
    three = metrics.psnr(x, regression_estimate(yt, zt, kt, 8, back_projections=3).numpy())
    ten = metrics.psnr(x, regression_estimate(yt, zt, kt, 8, back_projections=10).numpy())
    assert three > up + 3.0, (three, up)
    assert ten > three - 0.5, (ten, three)


@pytest.mark.parametrize("scale", [2, 3, 8])
def test_upsampling_as_matrices_and_by_strips_is_the_upsampling(scale):
    """The regression image is upsampled by two matrix products, the row one strip by strip: each
    strip must be exactly those rows of the polyphase upsampling, borders included."""
    from hsi_blind_fusion.core.operators import interpolation_matrix, lr_rows_read, upsample

    y = torch.rand(3, 6, 5, dtype=torch.float64)
    for height in (6 * scale, 6 * scale - scale + 1, 6 * scale + 3):
        width = 5 * scale - 1
        full = upsample(y, scale, height, width)
        rows = interpolation_matrix(6, scale, height, torch.float64)
        cols = interpolation_matrix(5, scale, width, torch.float64)
        assert torch.allclose(rows @ y @ cols.T, full, atol=1e-12)
        for r0 in range(0, height, scale + 1):
            r1 = min(height, r0 + 2 * scale - 1)
            read = lr_rows_read(r0, r1, scale, 6)
            strip = rows[r0:r1, read] @ (y @ cols.T)[:, read]
            assert torch.allclose(strip, full[:, r0:r1], atol=1e-12), (height, r0, r1)


def test_dark_pixel_smoothing_by_strips_equals_the_whole_image(monkeypatch):
    """Strips (tiny ones here, and the band chunks) must give the whole-image smoothing: every strip
    reads the original rows around it, the borders reflected as the whole image has them."""
    import hsi_blind_fusion.core.initial_estimate as ie
    from hsi_blind_fusion.core.operators import blur

    def whole(x, z, noise, sigma, snr, floor):
        local = z.sum(0).clamp_min(0) / noise
        weight = local**2 / (local**2 + snr**2)
        kernel = ie._shape_kernel(sigma, x)
        ratio = ie._intensity_ratio(x.sum(0), blur(x.sum(0, keepdim=True), kernel)[0], floor)
        return x * weight + blur(x, kernel) * ratio * (1 - weight)

    g = torch.Generator().manual_seed(0)
    for bands, h, w, sigma in ((5, 37, 41, 0.7), (20, 50, 9, 1.5), (3, 3, 8, 0.7)):
        x = torch.rand(bands, h, w, dtype=torch.float64, generator=g)
        z = torch.rand(4, h, w, dtype=torch.float64, generator=g)
        expected = whole(x, z, 0.5, sigma, 3.0, 0.01)
        for strip_bytes in (1, 4096, 8 << 20):
            monkeypatch.setattr(ie, "STRIP_BYTES", strip_bytes)
            got = ie.smooth_shape_where_dark_(x.clone(), z, 0.5, sigma, 3.0, 0.01, band_chunk=4)
            assert torch.allclose(got, expected, atol=1e-12), (bands, h, w, strip_bytes)


def test_regression_image_by_strips_equals_the_whole_image(monkeypatch):
    """The estimate's HR regression image strip by strip (many tiny strips) equals one strip."""
    import hsi_blind_fusion.core.initial_estimate as ie
    from hsi_blind_fusion.core.windows import Window

    x = synthetic_cube(64, seed=1)
    k = gaussian_kernel(9, 2.0)
    y, z = simulate(x, k, synthetic_srf(), 4, snr_db=40.0, seed=0)
    est = ie.fit_classical(torch.from_numpy(y), torch.from_numpy(z), torch.from_numpy(k).float(), 4)
    window = Window.from_bounds(8, 40, 4, 60)
    monkeypatch.setattr(ie, "STRIP_BYTES", 1 << 40)
    one = est.region(window)
    monkeypatch.setattr(ie, "STRIP_BYTES", 1)
    assert torch.allclose(est.region(window), one, atol=1e-5)


def test_signal_projector_over_pixel_chunks_equals_the_whole_gram():
    """A large scene's residual is taken in pixel chunks (its float64 copies would not fit): the
    projector must be the one of the whole Gram matrices."""
    _, noisy = _low_rank_plus_noise(bands=12, side=300, rank=2, seed=4)        # 90000 pixels: two chunks
    flat = noisy.reshape(12, -1).double()
    centred = flat - flat.mean(1, keepdim=True)
    gram = centred @ centred.T
    inv = torch.linalg.inv(gram + 1e-10 * torch.trace(gram) / 12 * torch.eye(12, dtype=torch.float64))
    sigma = (1.0 / (torch.diagonal(inv) * (flat.shape[1] - 12))).sqrt()
    white = flat / sigma[:, None]
    values, vectors = torch.linalg.eigh(white @ white.T)
    beta = 12 / flat.shape[1]
    lam = np.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + np.sqrt(beta * beta + 14 * beta + 1)))
    keep = vectors[:, values > lam * lam * flat.shape[1]]
    expected = sigma[:, None] * (keep @ keep.T) / sigma[None, :]
    got = signal_projector(noisy)
    assert keep.shape[1] == 2 and torch.allclose(got.double(), expected, atol=1e-5)
