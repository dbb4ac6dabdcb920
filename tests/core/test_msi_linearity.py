"""The MSI's power-law response: found per band from the pair, undone where it is clear, a linear
MSI left exactly as it is, MSIs with many bands left as they are."""
from dataclasses import replace

import numpy as np
import pytest

from hsi_blind_fusion.core import FusionSettings, InvalidInputError, fuse
from hsi_blind_fusion.core.estimation import estimate_normalized
from hsi_blind_fusion.core.msi_linearity import MAX_MSI_BANDS, fit_linearity, linearize
from hsi_blind_fusion.core.observations import normalize_pair
from hsi_blind_fusion.core.synthetic_scene import make_scene

#: exponents put on four of the synthetic scene's MSI bands (1.0: left linear)
EXPONENTS = np.array([1.08, 1.0, 0.92, 0.9])
FOUR = [1, 3, 5, 6]


def curved(scene, bands=FOUR, exponents=EXPONENTS):
    """The scene's MSI bands ``bands``, each raised to its exponent about its 99.9th percentile."""
    z = scene.msi[bands].astype(np.float64)
    top = np.percentile(z, 99.9, axis=(1, 2))[:, None, None]
    return (top * np.clip(z / top, 0, None) ** np.asarray(exponents)[:, None, None]).astype(np.float32)


@pytest.fixture(scope="module")
def scene():
    return make_scene(size=128, scale=4, bands=40, snr_db=40.0, seed=0)


def test_a_power_law_is_found_and_undone(scene):
    pair = normalize_pair(scene.hsi, curved(scene), 4)
    found = fit_linearity(pair, estimate_normalized(pair, seed=0).kernel)
    assert np.abs(np.array(found.exponents) - EXPONENTS).max() < 0.03, found.exponents
    assert found.applied == [True, False, True, True], found
    straight = linearize(pair.z, found)
    assert np.array_equal(straight[1], pair.z[1])           # a linear band is not touched
    # with the exponents drawn, the linearization is the power law's inverse: the original (linear)
    # bands come back up to a factor per band (which the response absorbs)
    exact = linearize(pair.z, replace(found, exponents=list(EXPONENTS)))
    z = scene.msi[FOUR].astype(np.float64)
    for m in (0, 2, 3):
        lit = z[m] > 0.05 * z[m].max()
        ratio = exact[m][lit] / z[m][lit]
        assert ratio.std() / ratio.mean() < 1e-3, (m, ratio.std() / ratio.mean())


def test_a_linear_msi_is_left_exactly_as_it_is(scene):
    msi = scene.msi[FOUR]
    off = fuse(scene.hsi, msi, scale=4, outer_iterations=0, device="cpu", seed=0,
               settings=FusionSettings(msi_linearization="off"))
    auto = fuse(scene.hsi, msi, scale=4, outer_iterations=0, device="cpu", seed=0)
    found = auto.diagnostics.estimation.msi_linearity
    assert found is not None and not found.any_applied, found
    assert max(found.improvement) < 1.05 and np.abs(np.log(found.exponents)).max() < 0.02, found
    assert np.array_equal(auto.image, off.image) and np.array_equal(auto.kernel, off.kernel)
    assert off.diagnostics.estimation.msi_linearity is None


def test_the_fusion_linearizes_and_estimates_again(scene):
    out = fuse(scene.hsi, curved(scene), scale=4, outer_iterations=0, device="cpu", seed=0)
    found = out.diagnostics.estimation.msi_linearity
    assert found.applied == [True, False, True, True]
    assert "msi_linearization" in out.diagnostics.timings
    assert "band(s) 1 (" in found.summary() and "linearized" in found.summary()


def test_msis_with_many_bands_are_left_as_they_are(scene):
    exponents = [1.08, 1.0, 0.92, 0.95, 1.05, 1.0, 0.9, 1.1]
    assert scene.msi.shape[0] > MAX_MSI_BANDS
    pair = normalize_pair(scene.hsi, curved(scene, list(range(8)), exponents), 4)
    found = fit_linearity(pair, estimate_normalized(pair, seed=0).kernel)
    assert not found.any_applied and abs(found.exponents[6] - 0.9) < 0.03, found
    assert "more than 4 MSI bands" in found.summary()


def test_too_few_pixels_give_no_curve(scene):
    small = normalize_pair(scene.hsi[:, :8, :8], curved(scene)[:, :32, :32], 4)
    found = fit_linearity(small, np.ones((9, 9)) / 81)
    assert found.samples < 256 and not found.any_applied and found.exponents == [1.0] * 4


def test_unknown_setting_is_a_typed_error():
    with pytest.raises(InvalidInputError, match="MSI linearization"):
        FusionSettings(msi_linearization="on")
    assert replace(FusionSettings(), msi_linearization="off").msi_linearization == "off"
