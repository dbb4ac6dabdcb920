"""The guard (core/guard.py): a fusion no better than the upsampled HSI is said plainly, and
replaced by the upsampled HSI unless the caller only wants a warning."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics
from hsi_blind_fusion.core.guard import consistency_check
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.synthetic_scene import make_scene
from hsi_blind_fusion.core.windows import Window

FAST = dict(outer_iterations=1, inner_iterations=2, device="cpu")


@pytest.fixture(scope="module")
def scenes():
    return make_scene(size=64, scale=4, bands=20, snr_db=40.0, seed=0), make_scene(size=64, scale=4, bands=20,
                                                                                    snr_db=40.0, seed=5)


def test_a_good_fusion_passes(scenes):
    a, _ = scenes
    r = fuse(a.hsi, a.msi, scale=4, **FAST)
    g = r.diagnostics.guard
    assert r.diagnostics.written == "fusion" and g.problems() == []
    assert g.fused_msi < g.upsampled_msi and g.fused_hsi < g.upsampled_hsi and g.held_out_gain > 10


def test_an_unrelated_msi_is_caught(scenes):
    """The MSI of another place: it predicts held-out HSI pixels hardly better than their neighbours
    and the fused image fits it no better than upsampling does, so the upsampled HSI is written."""
    a, b = scenes
    msi = np.ascontiguousarray(b.msi[:, ::-1])
    r = fuse(a.hsi, msi, scale=4, **FAST)
    g = r.diagnostics.guard
    assert r.diagnostics.written == "upsampled HSI" and g.held_out_gain < 1.5
    assert g.msi_unexplained and g.fused_msi > 0.5 * g.upsampled_msi > g.msi_noise
    assert any("held-out" in p for p in g.problems()) and any("MSI" in p for p in g.problems())
    with torch.no_grad():
        up = bicubic_estimate(torch.from_numpy(a.hsi), 4, 64, 64).numpy()
    np.testing.assert_allclose(r.image[:, 8:-8, 8:-8], np.maximum(up, 0)[:, 8:-8, 8:-8], atol=1e-5)
    warned = fuse(a.hsi, msi, scale=4, settings=FusionSettings(guard="warn", **FAST))
    assert warned.diagnostics.written == "fusion" and warned.diagnostics.guard.problems()
    assert metrics.psnr(a.truth, r.image) > metrics.psnr(a.truth, warned.image)


def test_a_noisy_matching_pair_keeps_its_fusion():
    """At 15 dB the held-out gain of a matching MSI reads near 1 (both predictions of a held-out pixel
    miss by its own noise), yet the fusion is 5 dB better than upsampling: the doubt is said, the
    fusion written (it was replaced before the MSI's fit decided)."""
    a = make_scene(size=64, scale=4, bands=20, snr_db=15.0, seed=0)
    r = fuse(a.hsi, a.msi, scale=4, **FAST)
    g = r.diagnostics.guard
    assert g.held_out_gain < 1.5 and any("held-out" in p for p in g.problems())
    assert r.diagnostics.written == "fusion" and not g.msi_unexplained
    with torch.no_grad():
        up = np.maximum(bicubic_estimate(torch.from_numpy(a.hsi), 4, 64, 64).numpy(), 0)
    assert metrics.psnr(a.truth, r.image) > metrics.psnr(a.truth, up) + 3.0


def test_a_changed_area_is_told_apart_from_a_mismatched_msi(scenes):
    """The true image against its MSI with one quadrant from another scene: of four windows, the
    changed one alone leaves most of the MSI unexplained; the sentence says part of the scene
    differs. With the whole MSI from the other scene every window does, and that sentence stays out."""
    a, b = scenes
    t = lambda v: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))  # noqa: E731
    quadrants = [Window(r, c, 32, 32) for r in (0, 32) for c in (0, 32)]
    valid_lr, valid_hr = torch.ones(16, 16, dtype=torch.bool), torch.ones(64, 64, dtype=torch.bool)
    changed = a.msi.copy()
    changed[:, :32, :32] = b.msi[:, :32, :32]
    for msi, expected in ((changed, (1, 4)), (a.msi, (0, 4)), (b.msi, (4, 4))):
        g = consistency_check(lambda w: t(a.truth)[(slice(None),) + w.slices()], t(a.hsi), t(msi), valid_lr, valid_hr,
                              t(a.kernel), t(a.srf), 4, quadrants)
        assert (g.windows_unexplained, g.windows) == expected
        assert any("part of the scene" in p for p in g.problems()) == (expected == (1, 4))


def test_off(scenes):
    a, _ = scenes
    assert fuse(a.hsi, a.msi, scale=4, settings=FusionSettings(guard="off", **FAST)).diagnostics.guard is None


def test_msi_bands_beyond_the_hsi_do_not_replace_a_good_fusion(scenes):
    """A Sentinel-2 MSI's SWIR bands over a VNIR HSI: no fused image can explain them, and pooled over
    the bands they swamped the others (the fusion was replaced); the median band decides."""
    a, b = scenes
    beyond = 3.0 * b.msi[:3]                          # bright bands the HSI's range does not see
    msi = np.concatenate([a.msi, beyond]).astype(np.float32)
    r = fuse(a.hsi, msi, scale=4, **FAST)
    g = r.diagnostics.guard
    assert g.fused_msi > 0.5 * g.upsampled_msi > g.msi_noise     # the pooled ratio alone would replace it
    assert g.msi_ratio < 0.5 and not g.msi_unexplained and r.diagnostics.written == "fusion"
    with torch.no_grad():
        up = np.maximum(bicubic_estimate(torch.from_numpy(a.hsi), 4, 64, 64).numpy(), 0)
    assert metrics.psnr(a.truth, r.image) > metrics.psnr(a.truth, up) + 3.0
