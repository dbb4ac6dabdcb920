"""The bundled synthetic scene: shapes, value ranges, georeferencing, written files."""
import numpy as np
import pytest

from hsi_blind_fusion.core import io
from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene


def test_scene_arrays():
    s = make_scene(size=64, scale=4, bands=30, snr_db=None)
    assert s.truth.shape == (30, 64, 64) and s.hsi.shape == (30, 16, 16) and s.msi.shape == (8, 64, 64)
    assert s.truth.dtype == np.float32 and 0 < s.truth.min() and s.truth.max() < 1.5
    np.testing.assert_allclose(s.srf.sum(1), 1, atol=1e-9)
    assert abs(s.kernel.sum() - 1) < 1e-9
    assert s.lr_transform.a == 4 * s.hr_transform.a and s.lr_transform.c == s.hr_transform.c
    # spatial structure: not a flat image, and the bands differ spectrally
    assert s.truth.std(axis=(1, 2)).min() > 0.005
    assert make_scene(size=64, scale=4, bands=30, snr_db=None).truth.tobytes() == s.truth.tobytes()


def test_scene_files(tmp_path):
    s = make_scene(size=32, scale=4, bands=12)
    paths = write_scene(s, str(tmp_path))
    pair = io.prepare_pair(paths["hsi"], paths["msi"])
    assert pair.scale == 4 and pair.warnings == []
    assert pair.msi.crs.to_epsg() == 32633
    np.testing.assert_allclose(pair.hsi.wavelengths_nm, s.wavelengths_nm, atol=0.01)
    np.testing.assert_allclose(pair.msi.wavelengths_nm, s.msi_centres_nm, atol=0.01)
    np.testing.assert_allclose(io.read_srf_csv(paths["srf"], 8, 12), s.srf, atol=1e-6)
    np.testing.assert_allclose(io.read_kernel_file(paths["kernel"]), s.kernel)


def test_scene_size_must_match_scale():
    with pytest.raises(ValueError):
        make_scene(size=30, scale=4)
