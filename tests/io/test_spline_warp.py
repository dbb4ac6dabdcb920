"""The spline warp (core/io/spline_warp.py) against known images: a shift of a smooth image is
exact, a turn into another CRS and back keeps more of a sharp image than GDAL's cubic convolution,
holes stay holes without ringing around them."""
import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.warp import Resampling, calculate_default_transform, reproject

from hsi_blind_fusion.core.io import spline_warp
from hsi_blind_fusion.core.windows import Window

UTM33, UTM34 = CRS.from_epsg(32633), CRS.from_epsg(32634)
T = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0)


def _dataset(memfile, data, transform, crs, nodata=None):
    with memfile.open(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                      dtype="float32", transform=transform, crs=crs, nodata=nodata) as d:
        d.write(data.astype(np.float32))
    return memfile.open()


def _psnr(a, b):
    return 10 * np.log10(np.ptp(b) ** 2 / np.mean((a - b) ** 2))


def test_a_shift_of_a_smooth_image_is_exact():
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    f = lambda x, y: np.sin(x / 5.0) + np.cos(y / 7.0)  # noqa: E731
    with MemoryFile() as m, _dataset(m, f(xx, yy)[None], T, UTM33) as src:
        values, ok = spline_warp.read_warped(src, UTM33, T * Affine.translation(1 / 3, -1 / 4), Window(0, 0, 64, 64), None)
    assert ok.all()
    inner = np.s_[:, 6:-6, 6:-6]
    assert np.abs(values - f(xx + 1 / 3, yy - 1 / 4)[None])[inner].max() < 0.01


def test_a_turn_into_another_crs_and_back_keeps_more_than_cubic_convolution():
    rng = np.random.default_rng(0)
    from scipy import ndimage

    z = ndimage.gaussian_filter(rng.random((2, 80, 80)), (0, 0.8, 0.8)).astype(np.float32)    # sharp texture
    tr, w, h = calculate_default_transform(UTM33, UTM34, 80, 80, *(500000.0, 4999200.0, 500800.0, 5000000.0),
                                           resolution=10.0)
    turned = np.full((2, h, w), np.nan, np.float32)
    reproject(z, turned, src_transform=T, src_crs=UTM33, dst_transform=tr, dst_crs=UTM34,
              resampling=Resampling.cubic, src_nodata=np.nan, dst_nodata=np.nan)
    with MemoryFile() as m, _dataset(m, turned, tr, UTM34) as src:
        values, ok = spline_warp.read_warped(src, UTM33, T, Window(0, 0, 80, 80), None)
    cubic = np.full_like(z, np.nan)
    reproject(turned, cubic, src_transform=tr, src_crs=UTM34, dst_transform=T, dst_crs=UTM33,
              resampling=Resampling.cubic, src_nodata=np.nan, dst_nodata=np.nan)
    inner = np.s_[:, 8:-8, 8:-8]
    assert ok[inner].all()
    assert _psnr(values[inner], z[inner]) > _psnr(cubic[inner], z[inner]) + 1.0


def test_holes_stay_holes_without_ringing():
    data = np.full((1, 40, 40), 1.0, np.float32)
    data[0, :, 20:] = 2.0
    data[0, 10:16, 5:12] = -9999.0
    with MemoryFile() as m, _dataset(m, data, T, UTM33, nodata=-9999.0) as src:
        values, ok = spline_warp.read_warped(src, UTM33, T * Affine.translation(0.5, 0.5), Window(0, 0, 39, 39),
                                             -9999.0)
    assert not ok[0, 10:15, 5:11].any() and ok[0, 20:30].all()
    assert np.nanmin(values[ok]) > 0.8 and np.nanmax(values[ok]) < 2.2     # no -9999 leaking in, mild overshoot only
    assert np.isnan(values[~ok]).all()


def test_a_target_outside_the_source_is_invalid():
    with MemoryFile() as m, _dataset(m, np.ones((1, 16, 16)), T, UTM33) as src:
        values, ok = spline_warp.read_warped(src, UTM33, T * Affine.translation(100, 100), Window(0, 0, 8, 8), None)
    assert not ok.any() and np.isnan(values).all()
