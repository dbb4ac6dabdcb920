"""Pairs as they come (workflow level): an MSI in another CRS or on an offset grid is warped onto the
HSI-aligned grid; bad HSI bands are left out and written as nodata bands; per-band holes only empty
their own bands; the output records how it was made."""
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject

from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

FAST = dict(outer_iterations=1, inner_iterations=1, device="cpu")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real_pairs")
    s = make_scene(size=128, scale=4, bands=20, snr_db=40.0, seed=0)
    return s, write_scene(s, str(folder)), folder


def _copy(src, dst, **changes):
    with rasterio.open(src) as ds:
        profile, data, tags = ds.profile, ds.read(), ds.tags()
        descriptions = ds.descriptions
    data = changes.pop("data", data)
    profile.update(changes)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.update_tags(**tags)
        for i, d in enumerate(descriptions):
            if d:
                out.set_band_description(i + 1, d)
    return str(dst)


def _psnr(path, truth):
    with rasterio.open(path) as f:
        x = f.read(masked=True)
    rows, cols = np.where(~x.mask.any(axis=0))
    t = f.transform
    r0, c0 = int(round((t.f - 5000000.0) / -2.0)), int(round((t.c - 500000.0) / 2.0))
    ref = truth[:, r0:r0 + x.shape[1], c0:c0 + x.shape[2]]
    return metrics.psnr(ref[:, rows, cols], x.data[:, rows, cols])


def test_msi_in_another_utm_zone_is_warped(pair, tmp_path):
    s, paths, _ = pair
    dst = CRS.from_epsg(32634)
    with rasterio.open(paths["msi"]) as m:
        tr, w, h = calculate_default_transform(m.crs, dst, m.width, m.height, *m.bounds)
        out = np.zeros((m.count, h, w), np.float32)
        reproject(m.read(), out, src_transform=m.transform, src_crs=m.crs, dst_transform=tr, dst_crs=dst,
                  resampling=Resampling.cubic, dst_nodata=-9999.0)
    msi34 = _copy(paths["msi"], tmp_path / "msi34.tif", data=out, crs=dst, transform=tr, width=w, height=h,
                  nodata=-9999.0)
    o = run_fusion(FusionRequest(hsi=paths["hsi"], msi=msi34, output=str(tmp_path / "f.tif"), **FAST))
    assert o.inputs.msi_warp is not None and any("EPSG:32634" in w for w in o.inputs.warnings)
    with rasterio.open(tmp_path / "f.tif") as f:
        assert f.crs == CRS.from_epsg(32633) and f.transform.a == 2.0 and f.tags()["FUSION_MSI_WARP"] != "none"
    aligned = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "a.tif"), **FAST))
    assert aligned.inputs.msi_warp is None
    # the MSI resampled twice (into zone 34 here, back by the warp) keeps most of the fusion's gain on this
    # sharp-edged scene (a cubic round trip alone reads ~36 dB against the original MSI)
    assert _psnr(tmp_path / "a.tif", s.truth) > 38 and _psnr(tmp_path / "f.tif", s.truth) > 33
    o = run_fusion(FusionRequest(hsi=paths["hsi"], msi=msi34, output=str(tmp_path / "m.tif"), output_grid="msi",
                                 **FAST))
    with rasterio.open(tmp_path / "m.tif") as f:
        assert f.crs == dst and abs(f.transform.a - tr.a) < 1e-9


def test_offset_grid_is_found_by_the_kernel(pair, tmp_path):
    """An MSI labelled a third of a pixel off: warped onto the HSI's grid by its labels, and the
    content's remaining shift shows in the kernel's offset (JSON and metadata)."""
    s, paths, _ = pair
    with rasterio.open(paths["msi"]) as m:
        t = m.transform
    shifted = _copy(paths["msi"], tmp_path / "off.tif", transform=t * Affine.translation(1 / 3, 1 / 3))
    o = run_fusion(FusionRequest(hsi=paths["hsi"], msi=shifted, output=str(tmp_path / "f.tif"),
                                 output_degradation=str(tmp_path / "d.json"), **FAST))
    assert o.inputs.msi_warp is not None
    dx, dy = json.load(open(tmp_path / "d.json"))["kernel_offset_msi_px"]
    assert abs(dx + 1 / 3) < 0.1 and abs(dy + 1 / 3) < 0.1
    with rasterio.open(tmp_path / "f.tif") as f:
        assert f.tags()["FUSION_KERNEL_OFFSET_MSI_PX"].startswith("-0.3")


def test_offset_grid_on_the_msi_grid_is_not_resampled(pair, tmp_path):
    """OUTPUT_GRID=msi with grids only offset (a third of a pixel): the MSI is read as it is, the
    fused image lies on its grid with the pixels of a run on aligned labels (no resampling), the
    offset goes into the kernel, and the quality tool finds the pair's grid."""
    from hsi_blind_fusion.core.workflow import QualityRequest, run_quality

    s, paths, _ = pair
    with rasterio.open(paths["msi"]) as m:
        t = m.transform
    shifted = _copy(paths["msi"], tmp_path / "off.tif", transform=t * Affine.translation(1 / 3, 1 / 3))
    o = run_fusion(FusionRequest(hsi=paths["hsi"], msi=shifted, output=str(tmp_path / "f.tif"), output_grid="msi",
                                 output_degradation=str(tmp_path / "d.json"), **FAST))
    assert o.inputs.msi_warp is None and any("read as it is" in w for w in o.inputs.warnings)
    aligned = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "a.tif"), **FAST))
    with rasterio.open(tmp_path / "f.tif") as f, rasterio.open(tmp_path / "a.tif") as a:
        assert f.transform.almost_equals(t * Affine.translation(1 / 3, 1 / 3)) and f.tags()["FUSION_MSI_WARP"] == "none"
        np.testing.assert_array_equal(f.read(), a.read())
    q = run_quality(QualityRequest(fused=str(tmp_path / "f.tif"), hsi=paths["hsi"], msi=shifted,
                                   degradation=str(tmp_path / "d.json")))
    assert q.metrics["QNR"] > 0.5, q.metrics
    # the default grid (the HSI's) still warps the MSI
    warped = run_fusion(FusionRequest(hsi=paths["hsi"], msi=shifted, output=str(tmp_path / "w.tif"), **FAST))
    assert warped.inputs.msi_warp is not None


def test_bad_bands_and_per_band_holes(pair, tmp_path):
    s, paths, _ = pair
    with rasterio.open(paths["hsi"]) as h:
        data = h.read()
    data[[3, 11]] = -9999.0             # bad bands, nodata everywhere
    data[5, 4:6, 4:6] = -9999.0         # a hole in one band only
    hsi = _copy(paths["hsi"], tmp_path / "hsi.tif", data=data, nodata=-9999.0)
    o = run_fusion(FusionRequest(hsi=hsi, msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                 output_degradation=str(tmp_path / "d.json"), **FAST))
    assert o.inputs.kept_bands.sum() == 18
    with rasterio.open(tmp_path / "f.tif") as f:
        x = f.read(masked=True)
        assert f.count == 20 and f.tags()["bbl"].count("0") == 2 and f.tags()["FUSION_BANDS_LEFT_OUT"] == "4 12"
    assert x.mask[[3, 11]].all()
    assert x.mask[5, 16:24, 16:24].all() and not x.mask[5].all() and not x.mask[6].any()
    deg = json.load(open(tmp_path / "d.json"))
    assert np.asarray(deg["srf"]).shape == (8, 20) and deg["bands_left_out"] == [4, 12]
    assert np.asarray(deg["srf"])[:, [3, 11]].sum() == 0
    # the JSON starts another run on the same HSI
    run_fusion(FusionRequest(hsi=hsi, msi=paths["msi"], output=str(tmp_path / "g.tif"),
                             degradation=str(tmp_path / "d.json"), **FAST))


def test_second_coarser_msi_joins_the_msi(pair, tmp_path):
    """Sentinel-2-like: 4 bands on the MSI grid and 4 more at twice its pixel size: sharpened onto
    the MSI grid and stacked (8 MSI bands in the degradation), with a message."""
    s, paths, _ = pair
    with rasterio.open(paths["msi"]) as m:
        msi, t, crs = m.read(), m.transform, m.crs
    first = str(tmp_path / "m10.tif")
    second = str(tmp_path / "m20.tif")
    with rasterio.open(first, "w", driver="GTiff", width=128, height=128, count=4, dtype="float32", transform=t,
                       crs=crs) as o:
        o.write(msi[:4])
    coarse = msi[4:].reshape(4, 64, 2, 64, 2).mean(axis=(2, 4))
    with rasterio.open(second, "w", driver="GTiff", width=64, height=64, count=4, dtype="float32",
                       transform=t * Affine.scale(2), crs=crs) as o:
        o.write(coarse)
    o = run_fusion(FusionRequest(hsi=paths["hsi"], msi=first, msi2=second, output=str(tmp_path / "f.tif"),
                                 output_degradation=str(tmp_path / "d.json"), **FAST))
    assert o.inputs.pair.msi.data.shape == (8, 128, 128)
    assert any("second MSI" in w and "sharpened" in w for w in o.inputs.warnings)
    assert np.asarray(json.load(open(tmp_path / "d.json"))["srf"]).shape == (8, 20)
    # the sharpened bands are close to the true fine ones
    sharp = o.inputs.pair.msi.data[4:]
    assert metrics.psnr(msi[4:], sharp) > metrics.psnr(msi[4:], np.repeat(np.repeat(coarse, 2, 1), 2, 2)) + 2
