"""Output formats by extension: tiled GeoTIFF with internal overviews, Cloud-Optimized GeoTIFF, ENVI
with its header; side files staged with their raster; written rasters read back by rows or decimated."""
import os

import numpy as np
import pytest
import rasterio

from helpers.rasters import T_MSI, UTM
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.io.raster_formats import overview_factors
from hsi_blind_fusion.core.windows import Window, tiles

WL = [450.0, 550.0, 650.0]


@pytest.fixture(scope="module")
def cube():
    data = np.random.default_rng(0).random((3, 300, 280)).astype(np.float32)
    data[:, :8, :8] = np.nan
    return data


def write(path, data, **kw):
    """Through a staging and window by window, as the fusion writes its output."""
    with io.Staging() as staging:
        w = io.WindowWriter(staging.path(str(path)), data.shape[0], *data.shape[1:], T_MSI, UTM, wavelengths_nm=WL,
                            fwhm_nm=[10.0] * 3, bad_bands=[False, False, True], **kw)
        for window in tiles(*data.shape[1:], 128):
            w(window, data[(slice(None),) + window.slices()])
        w.close()
        staging.commit()
    return str(path)


def test_overview_factors():
    assert overview_factors(256, 200) == []
    assert overview_factors(300, 280) == [2]
    assert overview_factors(4096, 1000) == [2, 4, 8, 16]


def test_geotiff_has_internal_average_overviews(cube, tmp_path):
    out = write(tmp_path / "f.tif", cube)
    assert sorted(os.listdir(tmp_path)) == ["f.tif"]                       # internal: no .ovr
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2] and ds.tags(ns="rio_overview")["resampling"] == "average"
        ov = ds.read(1, out_shape=(150, 140), masked=True)
    expected = cube[0, 8:10, 8:10].mean()                                 # one overview pixel = 2x2 average
    assert ov[4, 4] == pytest.approx(expected, rel=1e-5) and ov.mask[:4, :4].all()
    small = io.write_raster(str(tmp_path / "s.tif"), cube[:, :64, :64], T_MSI, UTM)
    with rasterio.open(small) as ds:
        assert ds.overviews(1) == []


def test_cloud_optimized_geotiff(cube, tmp_path):
    out = write(tmp_path / "c.tif", cube, cloud_optimized=True)
    assert sorted(os.listdir(tmp_path)) == ["c.tif"]                       # the working GeoTIFF is gone
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.overviews(1)
        assert ds.nodata == io.NODATA and ds.crs == UTM and ds.transform == T_MSI
    info = io.raster_info(out)
    np.testing.assert_allclose(info.wavelengths_nm, WL)
    np.testing.assert_allclose(info.fwhm_nm, [10.0] * 3)
    with pytest.raises(InvalidInputError, match="ENVI"):
        io.raster_format(str(tmp_path / "x.bsq"), cloud_optimized=True)


@pytest.mark.parametrize("ext,interleave", [(".bsq", "bsq"), (".bil", "bil"), (".bip", "bip")])
def test_envi_with_spectral_header(cube, tmp_path, ext, interleave):
    out = write(tmp_path / f"f{ext}", cube)
    names = sorted(os.listdir(tmp_path))
    assert f"f{ext}" in names and "f.hdr" in names and not [n for n in names if ".part" in n], names
    header = open(tmp_path / "f.hdr").read()
    assert f"interleave = {interleave}" in header and "data ignore value = -9999" in header
    assert "wavelength = {450.00, 550.00, 650.00}" in header and "fwhm = {10.00, 10.00, 10.00}" in header
    assert "wavelength units = Nanometers" in header and "bbl = {1, 1, 0}" in header
    info = io.raster_info(out)
    np.testing.assert_allclose(info.wavelengths_nm, WL)
    assert info.bad_bands.tolist() == [False, False, True] and info.nodata == io.NODATA
    np.testing.assert_allclose(io.RasterRows(out).read(10, 20), cube[:, 10:20])


def test_staging_keeps_side_files_with_their_raster(cube, tmp_path):
    stale = tmp_path / "f.tif.aux.xml"                     # QGIS's statistics of an earlier f.tif
    write(tmp_path / "f.tif", cube[:, :64, :64])
    stale.write_text("<PAMDataset/>")
    write(tmp_path / "f.tif", cube[:, :64, :64])
    assert not stale.exists()                              # they described the replaced file
    with io.Staging() as staging:                          # an aborted ENVI run leaves nothing
        w = io.WindowWriter(staging.path(str(tmp_path / "g.bsq")), 3, 64, 64, T_MSI, UTM, wavelengths_nm=WL)
        w(Window(0, 0, 64, 64), cube[:, :64, :64])
        w.close()
    assert sorted(os.listdir(tmp_path)) == ["f.tif"]


def test_rows_and_decimated_reads(cube, tmp_path):
    out = write(tmp_path / "f.tif", cube)
    rows = io.RasterRows(out)
    assert rows.shape == cube.shape
    got = rows.read(0, 16)
    assert np.isnan(got[:, :8, :8]).all()
    np.testing.assert_allclose(got[:, 8:, 8:], cube[:, 8:16, 8:])
    part = io.RasterRows(out, Window(100, 40, 50, 60))
    np.testing.assert_allclose(part.read(5, 10), cube[:, 105:110, 40:100])
    small = rows.decimated([2, 0], (75, 70))
    assert small.shape == (2, 75, 70) and np.isnan(small[:, 0, 0]).all()
    assert small[0, 10, 10] == pytest.approx(cube[2, 40:44, 40:44].mean(), rel=1e-4)


def _overview_levels(path):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    bands = [ds.GetRasterBand(b + 1) for b in range(ds.RasterCount)]
    return [np.stack([b.GetOverview(i).ReadAsArray() for b in bands]) for i in range(bands[0].GetOverviewCount())]


@pytest.mark.parametrize("shape,tile,levels", [((2, 520, 516), 128, 2), ((2, 520, 516), 127, 2),
                                               ((2, 521, 516), 128, 2), ((2, 1036, 1032), 256, 3)])
def test_overviews_made_while_writing_equal_gdals(tmp_path, monkeypatch, shape, tile, levels):
    """Averaged from the windows as they are written (even sides, windows on even pixels) or, for
    odd windows and odd sides, built by GDAL from the file: the same overviews either way, and no
    temporary file left. 1036 x 1032: the second level has an odd side (259), the third is GDAL's."""
    import hsi_blind_fusion.core.io.geotiff as geotiff

    data = np.random.default_rng(1).random(shape).astype(np.float32)
    data[:, 20:31, 40:45] = np.nan
    data[1, 101:104, 7:10] = np.nan

    def written(name):
        path = tmp_path / name
        with io.WindowWriter(str(path), shape[0], *shape[1:], T_MSI, UTM) as w:
            for window in tiles(*shape[1:], tile):
                w(window, data[(slice(None),) + window.slices()])
        return path

    ours = _overview_levels(written("ours.tif"))
    monkeypatch.setattr(geotiff, "gdal_bindings", lambda: None)
    gdals = _overview_levels(written("gdal.tif"))
    assert [o.shape for o in ours] == [g.shape for g in gdals] and len(ours) == levels
    for o, g in zip(ours, gdals):
        assert np.array_equal(o == io.NODATA, g == io.NODATA) and np.allclose(o, g, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["gdal.tif", "ours.tif"]


def test_half_resolution_average_leaves_nodata_out():
    from hsi_blind_fusion.core.io.overviews import average_2x2

    nd = io.NODATA
    block = np.array([[[1, 3, nd, nd, 5], [nd, 2, nd, nd, 7]]], dtype=np.float32)
    assert average_2x2(block, nd).tolist() == [[[2.0, nd, 6.0]]]


def test_an_aborted_writer_leaves_nothing(tmp_path):
    data = np.ones((2, 520, 516), dtype=np.float32)
    with pytest.raises(RuntimeError):
        with io.WindowWriter(str(tmp_path / "f.tif"), 2, 520, 516, T_MSI, UTM) as w:
            w(Window(0, 0, 128, 128), data[:, :128, :128])
            raise RuntimeError("cancelled")
    assert os.listdir(tmp_path) == []


def test_overviews_leave_gdals_global_state_as_it_was(tmp_path):
    """Inside QGIS other code shares GDAL: its exception mode and configuration stay as they were."""
    from osgeo import gdal

    before = (gdal.GetUseExceptions(), gdal.GetConfigOption("ZLEVEL_OVERVIEW"),
              gdal.GetThreadLocalConfigOption("ZLEVEL_OVERVIEW", None))
    data = np.ones((2, 520, 516), dtype=np.float32)
    with io.WindowWriter(str(tmp_path / "f.tif"), 2, 520, 516, T_MSI, UTM) as w:
        for window in tiles(520, 516, 128):
            w(window, data[(slice(None),) + window.slices()])
    assert _overview_levels(tmp_path / "f.tif")[0].shape == (2, 260, 258)
    assert (gdal.GetUseExceptions(), gdal.GetConfigOption("ZLEVEL_OVERVIEW"),
            gdal.GetThreadLocalConfigOption("ZLEVEL_OVERVIEW", None)) == before
