"""Reading rasters: spectral metadata, scale/offset, nodata and NaN."""
import os

import numpy as np
import pytest
import rasterio
from affine import Affine

from helpers.paths import SHARED_DATA
from helpers.rasters import T_MSI, UTM, pair, tif
from hsi_blind_fusion.core import InvalidInputError, io


def test_wavelengths_from_envi_tags_in_micrometres(tmp_path):
    p = tif(tmp_path / "a.tif", np.zeros((3, 4, 4)), tags={"wavelength": "{0.45, 0.55, 0.65}",
                                                          "wavelength_units": "Micrometers"})
    np.testing.assert_allclose(io.raster_info(p).wavelengths_nm, [450, 550, 650])


def test_wavelengths_from_descriptions_and_imagery(tmp_path):
    p = tif(tmp_path / "a.tif", np.zeros((2, 4, 4)), descriptions=["450 nm", "B3 (560 nm)"])
    np.testing.assert_allclose(io.raster_info(p).wavelengths_nm, [450, 560])
    p = tif(tmp_path / "b.tif", np.zeros((2, 4, 4)), descriptions=["Band 1", "Band 2"],
            band_tags=[("IMAGERY", {"CENTRAL_WAVELENGTH_UM": "0.49"}), ("IMAGERY", {"CENTRAL_WAVELENGTH_UM": "0.56"})])
    np.testing.assert_allclose(io.raster_info(p).wavelengths_nm, [490, 560])
    p = tif(tmp_path / "c.tif", np.zeros((2, 4, 4)), descriptions=["Band 1", "Band 2"])
    assert io.raster_info(p).wavelengths_nm is None


def test_cave_wavelengths_when_available():
    path = os.path.join(SHARED_DATA, "cave", "balloons.tif")
    if not os.path.exists(path):
        pytest.skip("shared CAVE data not present (../shared/data)")
    info = io.raster_info(path)
    np.testing.assert_allclose(info.wavelengths_nm, np.arange(400, 701, 10))
    assert not info.georeferenced


def test_scale_offset_and_nodata(tmp_path):
    d = np.full((2, 4, 4), 100, dtype=np.int16)
    d[:, 0, 0] = -1
    p = tif(tmp_path / "a.tif", d, dtype="int16", nodata=-1, scales=[0.01, 0.01], offsets=[1.0, 1.0])
    r = io.read_raster(p)
    assert r.data.dtype == np.float32 and r.data.shape == (2, 4, 4)
    assert not r.valid[0, 0] and r.valid.sum() == 15
    np.testing.assert_allclose(r.data[:, 1:, 1:], 2.0)
    np.testing.assert_allclose(r.data[:, 0, 0], 2.0)  # filled with the mean of valid pixels


def test_nan_is_invalid(tmp_path):
    d = np.ones((2, 4, 4), np.float32)
    d[1, 2, 3] = np.nan
    r = io.read_raster(tif(tmp_path / "a.tif", d))
    assert not r.valid[2, 3] and np.isfinite(r.data).all()


def test_fwhm_and_bad_bands_read_and_written(tmp_path):
    """ENVI's ``fwhm`` and ``bbl`` lists (as EnMAP-Box and GDAL's ENVI driver keep them) are read, in the
    wavelengths' unit, and written back with the wavelengths."""
    src = tif(tmp_path / "envi_style.tif", np.ones((4, 8, 8)),
              tags={"wavelength": "{0.45, 0.55, 0.65, 0.85}", "wavelength_units": "Micrometers",
                    "fwhm": "{0.01, 0.02, 0.01, 0.03}", "bbl": "{1, 0, 1, 1}"})
    info = io.raster_info(src)
    np.testing.assert_allclose(info.wavelengths_nm, [450, 550, 650, 850])
    np.testing.assert_allclose(info.fwhm_nm, [10, 20, 10, 30])
    assert info.bad_bands.tolist() == [False, True, False, False]
    out = str(tmp_path / "out.tif")
    io.write_raster(out, np.ones((4, 8, 8)), T_MSI, UTM, wavelengths_nm=info.wavelengths_nm, fwhm_nm=info.fwhm_nm,
                    bad_bands=info.bad_bands)
    back = io.raster_info(out)
    np.testing.assert_allclose(back.fwhm_nm, info.fwhm_nm)
    assert back.bad_bands.tolist() == info.bad_bands.tolist()
    with rasterio.open(out) as ds:
        assert ds.tags(2, ns="IMAGERY")["FWHM_UM"].startswith("0.02")
    plain = tif(tmp_path / "plain.tif", np.ones((3, 8, 8)))
    assert io.raster_info(plain).fwhm_nm is None and io.raster_info(plain).bad_bands is None
