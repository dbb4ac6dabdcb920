"""Quality without a reference: QNR (Alparone et al. 2008) with the MSI in place of the panchromatic
band, read by strips; the consistency residuals read by strips."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import rows as rows_module
from hsi_blind_fusion.core.consistency import consistency_residuals, mean_relative_residuals
from hsi_blind_fusion.core.operators import upsample
from hsi_blind_fusion.core.qnr import _q_from_moments, block_sides, qnr
from hsi_blind_fusion.core.synthetic_scene import make_scene


@pytest.fixture(scope="module", params=[1, 2])
def scene(request):
    return make_scene(size=64, scale=4, bands=20, snr_db=40.0, seed=request.param)


def bicubic(s):
    return upsample(torch.as_tensor(s.hsi), s.scale, *s.truth.shape[1:]).numpy()


def test_q_index_cases():
    assert _q_from_moments(2.0, 2.0, 1.0, 1.0, 1.0) == pytest.approx(1.0)      # identical blocks
    assert _q_from_moments(2.0, 2.0, 1.0, 1.0, -1.0) == pytest.approx(-1.0)    # inverted
    assert _q_from_moments(1.0, 3.0, 0.0, 0.0, 0.0) == pytest.approx(0.6)      # constant blocks: luminance only
    assert _q_from_moments(0.0, 0.0, 1.0, 1.0, 0.5) == pytest.approx(0.5)      # zero means: structure only
    assert _q_from_moments(0.0, 0.0, 0.0, 0.0, 0.0) == 1.0


def test_block_sides():
    assert block_sides(4, 100, 100) == (32, 8) and block_sides(8, 100, 100) == (32, 4)
    assert block_sides(16, 100, 100) == (64, 4) and block_sides(4, 5, 100) == (20, 5)


def test_truth_scores_better_than_bicubic(scene):
    """(A fusion against bicubic, through the algorithm: tests/qgis/test_fusionquality.py.)"""
    s = scene
    truth = qnr(s.truth, s.hsi, s.msi, s.scale, s.kernel)
    bic = qnr(bicubic(s), s.hsi, s.msi, s.scale, s.kernel)
    assert truth.qnr > bic.qnr + 0.03, (truth, bic)
    assert bic.d_s > truth.d_s                 # upsampling keeps the band relations but not the detail
    assert bic.d_lambda < truth.d_lambda < 0.1
    assert truth.blocks == 4 and truth.block_hr == 32 and truth.block_lr == 8
    assert truth.qnr == pytest.approx((1 - truth.d_lambda) * (1 - truth.d_s))


def test_strips_nodata_and_shapes(scene, monkeypatch):
    s = scene
    whole = qnr(s.truth, s.hsi, s.msi, s.scale, s.kernel)
    monkeypatch.setattr("hsi_blind_fusion.core.qnr.STRIP_BYTES", 1)           # one block row per strip
    assert qnr(rows_module.ArrayRows(s.truth), s.hsi, s.msi, s.scale, s.kernel) == whole
    holed = s.truth.copy()
    holed[:, 40, 3] = np.nan                                                   # one pixel: one block out
    q = qnr(holed, s.hsi, s.msi, s.scale, s.kernel)
    assert q.blocks == 3 and np.isfinite(q.qnr)
    hsi_valid = np.ones(s.hsi.shape[1:], bool)
    hsi_valid[:8] = False                                                      # the top block row
    assert qnr(s.truth, s.hsi, s.msi, s.scale, s.kernel, hsi_valid=hsi_valid).blocks == 2
    with pytest.raises(ValueError, match="no block"):
        qnr(np.full_like(s.truth, np.nan), s.hsi, s.msi, s.scale, s.kernel)
    with pytest.raises(ValueError, match="bands"):
        qnr(s.truth[:5], s.hsi, s.msi, s.scale, s.kernel)


def test_consistency_by_strips_matches_the_whole_image(scene, monkeypatch):
    s = scene
    fused = s.truth.copy()
    fused[:, :5, :7] = np.nan
    whole = consistency_residuals(s.hsi, s.msi, s.kernel, s.srf, s.scale, None, fused)
    monkeypatch.setattr("hsi_blind_fusion.core.consistency.strip_rows", lambda bands, width, multiple=1: 4)
    strips = consistency_residuals(s.hsi, s.msi, s.kernel, s.srf, s.scale, None, rows_module.ArrayRows(fused))
    for key in ("hsi", "msi"):
        np.testing.assert_allclose(strips[key][0], whole[key][0], rtol=1e-5)
    means = mean_relative_residuals(whole)
    assert 0 < means["HSI_RESIDUAL"] < 3 and 0 < means["MSI_RESIDUAL"] < 3
    assert mean_relative_residuals({"hsi": None, "msi": whole["msi"]})["HSI_RESIDUAL"] is None
