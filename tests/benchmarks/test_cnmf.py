"""The CNMF peer of the benchmarks (``benchmarks/cnmf.py``) on a tiny synthetic pair."""
import importlib.util
import os
import time

import numpy as np
import pytest
import torch

from helpers.paths import ROOT
from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.kernels import kernel_from_array
from hsi_blind_fusion.core.operators import blur_downsample
from hsi_blind_fusion.core.synthetic_scene import make_scene


def _load():
    spec = importlib.util.spec_from_file_location("bench_cnmf", os.path.join(ROOT, "benchmarks", "cnmf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cnmf = _load()


@pytest.fixture(scope="module")
def scene():
    return make_scene(size=64, scale=4, bands=20)


def test_cnmf_beats_bicubic_clearly(scene):
    info = {}
    t = time.perf_counter()
    est = cnmf.cnmf_fuse(scene.hsi, scene.msi, scene.srf, scene.scale, scene.kernel, info=info)
    seconds = time.perf_counter() - t
    assert est.shape == scene.truth.shape and est.dtype == np.float32
    assert np.all(np.isfinite(est)) and est.min() >= 0
    with torch.no_grad():
        bic = bicubic_estimate(torch.from_numpy(scene.hsi), scene.scale, 64, 64).numpy()
    p_cnmf, p_bic = metrics.psnr(scene.truth, est), metrics.psnr(scene.truth, bic)
    s_cnmf, s_bic = metrics.sam(scene.truth, est), metrics.sam(scene.truth, bic)
    # measured: CNMF 39.6 dB / 1.44 deg, bicubic 19.6 dB / 5.53 deg
    assert p_cnmf > p_bic + 10.0, (p_cnmf, p_bic)
    assert s_cnmf < 0.5 * s_bic, (s_cnmf, s_bic)
    assert info["endmembers"] == 20              # min(30, bands) unless VD finds more
    assert seconds < 20.0


def test_cnmf_default_kernel_still_beats_bicubic(scene):
    """``kernel=None``: the reference code's Gaussian (FWHM = scale) instead of the true blur."""
    est = cnmf.cnmf_fuse(scene.hsi, scene.msi, scene.srf, scene.scale, None, inner_iterations=50)
    with torch.no_grad():
        bic = bicubic_estimate(torch.from_numpy(scene.hsi), scene.scale, 64, 64).numpy()
    assert metrics.psnr(scene.truth, est) > metrics.psnr(scene.truth, bic) + 10.0


@pytest.mark.parametrize("shape", [(9, 9), (7, 5), (6, 8)])
def test_spatial_degradation_matches_the_core_operator(shape):
    rng = np.random.default_rng(0)
    x = rng.random((3, 40, 48)).astype(np.float32)
    k = rng.random(shape)
    got = cnmf.SpatialDegradation.from_kernel(k, 4)(x)
    ref = blur_downsample(torch.from_numpy(x), torch.from_numpy(kernel_from_array(k)).float(), 4).numpy()
    assert got.shape == ref.shape == (3, 10, 12)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_reference_gaussian_is_centred_on_the_footprint():
    for s in (2, 3, 4, 8):
        d = cnmf.SpatialDegradation.reference_gaussian(s)
        assert d.taps.shape == ((2 * s, 2 * s) if s % 2 == 0 else (2 * s - 1, 2 * s - 1))
        assert d.taps.sum() == pytest.approx(1.0)
        assert d.centre == ((s - 1) / 2, (s - 1) / 2)
        # a constant image stays constant (reflect padding keeps the weights whole)
        np.testing.assert_allclose(d(np.ones((1, 4 * s, 4 * s))), 1.0, atol=1e-12)


def test_vca_finds_the_pure_pixels():
    rng = np.random.default_rng(1)
    endmembers = rng.random((25, 4)) + 0.1
    ab = rng.dirichlet(np.full(4, 0.5), size=500).T          # (4, 500) on the simplex
    ab[:, :4] = np.eye(4)                                    # pure pixels at 0..3
    y = endmembers @ ab
    picked = cnmf.vca_indices(y, 4, np.random.default_rng(0))
    assert sorted(picked.tolist()) == [0, 1, 2, 3]
    assert cnmf.virtual_dimensionality(y + 1e-4 * rng.standard_normal(y.shape)) == 4
