"""The MSI's own blur, undone when its MTF is given: the filter keeps radiometry and restores
contrast at Nyquist within its bound, leaves nodata and an ideal MSI alone, and a fusion from a
blurred MSI gets sharper with it."""
import numpy as np
import pytest
from scipy import ndimage

from hsi_blind_fusion.core import FusionSettings, fuse, metrics
from hsi_blind_fusion.core.errors import InvalidInputError
from hsi_blind_fusion.core.msi_mtf import RIDGE, mtf_sigma, restoring_filter, undo_msi_mtf
from hsi_blind_fusion.core.synthetic_scene import make_scene


def test_sigma_gives_the_asked_mtf_at_nyquist():
    s = mtf_sigma(0.2)
    assert np.exp(-2 * np.pi ** 2 * s ** 2 * 0.25) == pytest.approx(0.2)
    assert mtf_sigma(1.0) == 0.0
    with pytest.raises(InvalidInputError):
        mtf_sigma(0.0)


def test_filter_keeps_radiometry_and_restores_nyquist_within_its_bound():
    taps = restoring_filter(0.25)
    assert taps.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(taps, taps[::-1, ::-1])
    # a Nyquist row pattern (+1, -1, ...) blurred by the MTF, then restored
    n = taps.shape[0]
    gain = abs(sum(taps[i, j] * (-1) ** i for i in range(n) for j in range(n)))
    assert 1.0 / 0.25 * 0.4 < gain <= (1 + RIDGE) / (2 * np.sqrt(RIDGE)) + 1e-3   # kept DC: x (1 + RIDGE)


def test_ideal_msi_and_nodata_stay_as_they_are():
    z = np.random.default_rng(0).random((2, 40, 40)).astype(np.float32)
    assert undo_msi_mtf(z, 1.0) is z
    valid = np.ones((40, 40), bool)
    valid[10:14, 20:30] = False
    out = undo_msi_mtf(z, 0.3, valid)
    assert np.array_equal(out[:, ~valid], z[:, ~valid])
    assert not np.allclose(out[:, valid], z[:, valid])


def test_settings_refuse_an_mtf_outside_zero_to_one():
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(InvalidInputError, match="MTF"):
            FusionSettings(msi_mtf=bad)


def test_fusion_from_a_blurred_msi_is_sharper_with_its_mtf():
    s = make_scene(96, 4, snr_db=40.0, seed=1)
    sigma = mtf_sigma(0.2)
    blurred = np.stack([ndimage.gaussian_filter(b, sigma, mode="reflect") for b in s.msi]).astype(np.float32)
    plain = fuse(s.hsi, blurred, outer_iterations=0, device="cpu")
    restored = fuse(s.hsi, blurred, outer_iterations=0, device="cpu", settings=FusionSettings(msi_mtf=0.2))
    assert metrics.psnr(s.truth, restored.image) > metrics.psnr(s.truth, plain.image) + 1.0
    assert "msi_mtf" in restored.diagnostics.timings


def test_the_tools_parameter_reaches_the_settings():
    from hsi_blind_fusion.core.workflow.requests import FusionRequest

    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", "MSI_MTF": 0.3})
    assert r.settings().msi_mtf == pytest.approx(0.3)
    assert FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif"}).settings().msi_mtf == 1.0


def test_the_estimate_alone_restores_the_msi_as_the_fusion_does():
    from hsi_blind_fusion.core import estimate_degradation

    s = make_scene(64, 4, snr_db=40.0, seed=2)
    sigma = mtf_sigma(0.2)
    blurred = np.stack([ndimage.gaussian_filter(b, sigma, mode="reflect") for b in s.msi]).astype(np.float32)
    alone = estimate_degradation(s.hsi, blurred, scale=4, msi_mtf=0.2)
    fused = fuse(s.hsi, blurred, outer_iterations=0, device="cpu", settings=FusionSettings(msi_mtf=0.2))
    assert np.allclose(alone.kernel, fused.kernel, atol=1e-6)
