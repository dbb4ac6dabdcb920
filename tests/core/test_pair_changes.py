"""Areas where the images disagree (core/pair_changes.py): a quarter of the MSI from another scene
no longer bends the kernel, that quarter gets the upsampled HSI and the rest stays a fusion; a
matching pair is left exactly as it is."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.synthetic_scene import make_scene

SIZE, SCALE, QUARTER = 128, 4, 64


@pytest.fixture(scope="module")
def changed():
    """The scene with its MSI's top-left quarter taken from another scene (another date), its
    bicubic-upsampled HSI, and the fusion with changed_areas off and auto (guard on warn)."""
    a = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=40.0, seed=0)
    b = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=40.0, seed=7)
    z = a.msi.copy()
    z[:, :QUARTER, :QUARTER] = b.msi[:, :QUARTER, :QUARTER]
    up = np.maximum(bicubic_estimate(torch.from_numpy(a.hsi), SCALE, SIZE, SIZE).numpy(), 0)
    run = {c: fuse(a.hsi, z, scale=SCALE, outer_iterations=0, device="cpu", seed=0,
                   settings=FusionSettings(changed_areas=c, guard="warn")) for c in ("off", "auto")}
    return a, up, run


def test_a_changed_quarter_no_longer_bends_the_kernel(changed):
    a, _, run = changed
    assert metrics.kernel_correlation(a.kernel, run["off"].kernel) < 0.8          # the failure this fixes
    assert metrics.kernel_correlation(a.kernel, run["auto"].kernel) > 0.95
    found = run["auto"].diagnostics.estimation.pair_changes
    assert found.applied and found.fit_gain > 10, found
    assert 0.25 <= found.changed <= 0.5 and found.excluded <= 0.5, found
    assert run["off"].diagnostics.estimation.pair_changes is None


def test_the_changed_quarter_is_upsampled_and_the_rest_a_fusion(changed):
    a, up, run = changed
    image = run["auto"].image
    inner = (slice(None), slice(0, QUARTER - 2 * SCALE), slice(0, QUARTER - 2 * SCALE))
    assert np.abs(image[inner] - up[inner]).max() < 1e-4
    rest = np.ones((SIZE, SIZE), bool)
    rest[:QUARTER + 2 * SCALE, :QUARTER + 2 * SCALE] = False
    auto, off, bicubic = (metrics.psnr(a.truth[:, rest], x[:, rest]) for x in (image, run["off"].image, up))
    assert auto > off + 2.0 and auto > bicubic + 8.0, (auto, off, bicubic)
    assert not run["auto"].diagnostics.guard.fusion_worse      # judged on the rest
    assert run["off"].diagnostics.guard.fusion_worse           # the whole fusion would have been replaced


def test_a_matching_pair_is_left_exactly_as_it_is():
    s = make_scene(size=SIZE, scale=SCALE, bands=40, snr_db=30.0, seed=3)
    out = {c: fuse(s.hsi, s.msi, scale=SCALE, outer_iterations=0, device="cpu", seed=0,
                   settings=FusionSettings(changed_areas=c)) for c in ("off", "auto")}
    found = out["auto"].diagnostics.estimation.pair_changes
    assert found.rounds == 0 and not found.applied and found.summary() == "", found
    assert np.array_equal(out["auto"].image, out["off"].image)
    assert np.array_equal(out["auto"].kernel, out["off"].kernel)
