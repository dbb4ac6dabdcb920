"""The tile renderer: a pickled renderer and pickled tile contexts (what a Dask worker gets)
give exactly the single-machine run's image, for a cached and a streamed scene. No dask."""
import pickle

import numpy as np
import pytest

from hsi_blind_fusion.core import FusionSettings, fuse, simulate
from hsi_blind_fusion.core.kernels import gaussian_kernel
from helpers.scenes import synthetic_cube, synthetic_srf

FAST = dict(outer_iterations=1, inner_iterations=2, device="cpu", seed=0)


@pytest.fixture(scope="module")
def observations():
    x = synthetic_cube(64, endmembers=4, spatial_smooth=3.0, seed=3)
    return simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=1)


class PickledFarm:
    """A farm that renders every tile from pickled copies, as another process would."""

    def __init__(self):
        self.context_bytes, self.renderer_bytes = [], 0

    def __call__(self, renderer, arrays, windows, put, report):
        blob = pickle.dumps(renderer)
        self.renderer_bytes = len(blob)
        remote = pickle.loads(blob)
        for window in reversed(windows):           # any order
            ctx = renderer.context(window, arrays)
            self.context_bytes.append(ctx.nbytes)
            put(window, remote.render(pickle.loads(pickle.dumps(ctx))))


@pytest.mark.parametrize("cache", [1 << 30, 0], ids=["cached", "streamed"])
def test_pickled_tiles_equal_the_single_run(observations, cache):
    y, z = observations
    cfg = FusionSettings(tile_size=32, cache_limit_bytes=cache, initial="classical")
    single = fuse(y, z, settings=cfg, **FAST)
    farm = PickledFarm()
    farmed = fuse(y, z, settings=cfg, farm=farm, **FAST)
    assert single.diagnostics.cached == (cache > 0)
    np.testing.assert_array_equal(farmed.image, single.image)
    assert len(farm.context_bytes) == 4 and farm.renderer_bytes < 1 << 20
    # a tile's context is a window of the inputs (a few times the tile's own MSI and LR area)
    assert max(farm.context_bytes) < 10 * (y.nbytes + z.nbytes + y.nbytes * z.shape[0])
