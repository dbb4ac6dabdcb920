"""Writing GeoTIFFs whole and window by window, and the staging of a run's outputs."""
import glob
import os

import numpy as np
import pytest
import rasterio
from affine import Affine

from helpers.rasters import T_MSI, UTM, pair, tif
from hsi_blind_fusion.core import Cancelled, InvalidInputError, io
from hsi_blind_fusion.core.windows import Window, tiles


def test_write_raster_metadata_and_atomic(tmp_path):
    data = np.random.default_rng(1).random((5, 40, 30)).astype(np.float32)
    valid = np.ones((40, 30), bool)
    valid[0, 0] = False
    out = tmp_path / "out.tif"
    io.write_raster(str(out), data, T_MSI, UTM, valid=valid, wavelengths_nm=[400, 500, 600, 700, 800],
                           descriptions=["a", None, "c", None, None])
    assert not glob.glob(str(tmp_path / ".out*"))  # no temporary file left
    with rasterio.open(out) as ds:
        assert ds.crs == UTM and ds.transform == T_MSI and ds.count == 5 and ds.dtypes[0] == "float32"
        assert ds.nodata == io.NODATA and ds.profile["tiled"]
        assert ds.profile["compress"].lower() == "deflate"
        assert ds.descriptions[0] == "a" and ds.descriptions[1] == "500.0 nm"
        assert ds.tags()["wavelength_units"] == "Nanometers"
        assert ds.read(1)[0, 0] == io.NODATA
    np.testing.assert_allclose(io.raster_info(str(out)).wavelengths_nm, [400, 500, 600, 700, 800])


def test_write_rejects_unknown_extension(tmp_path):
    with pytest.raises(InvalidInputError, match="format"):
        io.write_raster(str(tmp_path / "x.xyz"), np.zeros((1, 4, 4)), T_MSI)


def test_window_writer_roundtrip_and_metadata(tmp_path):
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS

    rng = np.random.default_rng(0)
    data = rng.random((5, 300, 280)).astype(np.float32)
    data[:, 10, 20] = np.nan
    valid = np.ones((300, 280), dtype=bool)
    valid[299, 279] = False
    out = tmp_path / "w.tif"
    w = io.WindowWriter(str(out), 5, 300, 280, Affine(2, 0, 100, 0, -2, 900), CRS.from_epsg(32633),
                        wavelengths_nm=[400, 500, 600, 700, 800], valid=valid)
    for window in tiles(300, 280, 96):
        w(window, data[(slice(None),) + window.slices()])
    assert w.close() == str(out)
    assert os.listdir(tmp_path) == ["w.tif"]
    with rasterio.open(out) as ds:
        assert ds.count == 5 and ds.dtypes[0] == "float32" and ds.nodata == io.NODATA
        assert ds.profile["compress"].lower() == "deflate" and ds.profile["tiled"]
        assert ds.descriptions[0] == "400.0 nm" and ds.crs.to_epsg() == 32633
        got = ds.read(masked=True)
    assert got.mask[:, 10, 20].all() and got.mask[:, 299, 279].all() and got.mask.sum() == 10
    np.testing.assert_array_equal(got.filled(0)[:, :299], np.nan_to_num(data)[:, :299])
    np.testing.assert_allclose(io.raster_info(str(out)).wavelengths_nm, [400, 500, 600, 700, 800])


def test_window_writer_leaves_nothing_on_error_or_cancel(tmp_path):
    from affine import Affine

    out = tmp_path / "w.tif"
    with pytest.raises(RuntimeError):
        with io.WindowWriter(str(out), 3, 64, 64, Affine.identity()) as w:
            w(Window(0, 0, 32, 32), np.zeros((3, 32, 32), np.float32))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    stop = [False]
    w = io.WindowWriter(str(out), 3, 64, 64, Affine.identity(), cancel=lambda: stop[0])
    w(Window(0, 0, 32, 32), np.zeros((3, 32, 32), np.float32))
    stop[0] = True
    with pytest.raises(Cancelled):
        w(Window(0, 32, 32, 32), np.zeros((3, 32, 32), np.float32))
    w.abort()
    assert os.listdir(tmp_path) == []
    with pytest.raises(Exception, match="tif"):
        io.WindowWriter(str(tmp_path / "w.png"), 3, 8, 8, Affine.identity())


def test_staging_commits_together_or_leaves_nothing(tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.json"
    with io.Staging() as staging:
        io.write_raster(staging.path(str(a)), np.ones((2, 4, 4)), T_MSI, UTM)
        io.write_text(staging.path(str(b)), "{}")
        assert sorted(os.listdir(tmp_path)) != ["a.tif", "b.json"] and not a.exists()
        staging.commit()
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.json"]
    a.write_text("old")
    with pytest.raises(RuntimeError):
        with io.Staging() as staging:
            io.write_text(staging.path(str(a)), "new")
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.json"] and a.read_text() == "old"
    stop = [False]
    with pytest.raises(Cancelled):
        with io.Staging(cancel=lambda: stop[0]) as staging:
            io.write_text(staging.path(str(tmp_path / "c.txt")), "x")
            stop[0] = True
            staging.commit()
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.json"]


def test_outputs_checked_together(tmp_path):
    with pytest.raises(InvalidInputError, match="same file name"):
        io.check_outputs([(str(tmp_path / "x.json"), (".json",), "output A"),
                          (str(tmp_path / "x.json"), (".json",), "output B")])
    with pytest.raises(InvalidInputError, match="also an input"):
        io.check_outputs([(str(tmp_path / "in.tif"), (".tif",), "output OUTPUT")], [str(tmp_path / "in.tif")])
