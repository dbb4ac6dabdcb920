"""QGIS-free tests of core.raster_io: reading, wavelengths, pair validation, writing, JSON, CSV."""
import glob
import json
import os

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
from affine import Affine  # noqa: E402
from rasterio.crs import CRS  # noqa: E402

from hsi_blind_fusion.core import InvalidInputError, raster_io  # noqa: E402

UTM = CRS.from_epsg(32633)
T_MSI = Affine(2.0, 0, 500000.0, 0, -2.0, 5000000.0)


def tif(path, data, transform=T_MSI, crs=UTM, nodata=None, dtype="float32", tags=None, descriptions=None,
        band_tags=None, scales=None, offsets=None):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    prof = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype=dtype,
                transform=transform)
    if crs is not None:
        prof["crs"] = crs
    if nodata is not None:
        prof["nodata"] = nodata
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(data.astype(dtype))
        if tags:
            ds.update_tags(**tags)
        for b, d in enumerate(descriptions or []):
            ds.set_band_description(b + 1, d)
        for b, (ns, t) in enumerate(band_tags or []):
            ds.update_tags(b + 1, ns=ns, **t)
        if scales:
            ds.scales = scales
        if offsets:
            ds.offsets = offsets
    return str(path)


def pair(tmp_path, scale=4, hsi_bands=10, msi_bands=3, size=32, hsi_t=None, msi_t=T_MSI, hsi_crs=UTM, msi_crs=UTM,
         hsi_shape=None):
    rng = np.random.default_rng(0)
    h = hsi_shape or (size // scale, size // scale)
    hsi_t = hsi_t or msi_t * Affine.scale(scale)
    hp = tif(tmp_path / "hsi.tif", rng.random((hsi_bands, *h)), hsi_t, hsi_crs)
    mp = tif(tmp_path / "msi.tif", rng.random((msi_bands, size, size)), msi_t, msi_crs)
    return hp, mp


# ---------------------------------------------------------------- wavelengths

def test_wavelengths_from_envi_tags_in_micrometres(tmp_path):
    p = tif(tmp_path / "a.tif", np.zeros((3, 4, 4)), tags={"wavelength": "{0.45, 0.55, 0.65}",
                                                          "wavelength_units": "Micrometers"})
    np.testing.assert_allclose(raster_io.raster_info(p).wavelengths_nm, [450, 550, 650])


def test_wavelengths_from_descriptions_and_imagery(tmp_path):
    p = tif(tmp_path / "a.tif", np.zeros((2, 4, 4)), descriptions=["450 nm", "B3 (560 nm)"])
    np.testing.assert_allclose(raster_io.raster_info(p).wavelengths_nm, [450, 560])
    p = tif(tmp_path / "b.tif", np.zeros((2, 4, 4)), descriptions=["Band 1", "Band 2"],
            band_tags=[("IMAGERY", {"CENTRAL_WAVELENGTH_UM": "0.49"}), ("IMAGERY", {"CENTRAL_WAVELENGTH_UM": "0.56"})])
    np.testing.assert_allclose(raster_io.raster_info(p).wavelengths_nm, [490, 560])
    p = tif(tmp_path / "c.tif", np.zeros((2, 4, 4)), descriptions=["Band 1", "Band 2"])
    assert raster_io.raster_info(p).wavelengths_nm is None


def test_cave_wavelengths_when_available():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "cave", "balloons.tif")
    if not os.path.exists(path):
        pytest.skip("shared CAVE data not present (../shared/data)")
    info = raster_io.raster_info(path)
    np.testing.assert_allclose(info.wavelengths_nm, np.arange(400, 701, 10))
    assert not info.georeferenced


# ---------------------------------------------------------------- reading

def test_scale_offset_and_nodata(tmp_path):
    d = np.full((2, 4, 4), 100, dtype=np.int16)
    d[:, 0, 0] = -1
    p = tif(tmp_path / "a.tif", d, dtype="int16", nodata=-1, scales=[0.01, 0.01], offsets=[1.0, 1.0])
    r = raster_io.read_raster(p)
    assert r.data.dtype == np.float32 and r.data.shape == (2, 4, 4)
    assert not r.valid[0, 0] and r.valid.sum() == 15
    np.testing.assert_allclose(r.data[:, 1:, 1:], 2.0)
    np.testing.assert_allclose(r.data[:, 0, 0], 2.0)  # filled with the mean of valid pixels


def test_nan_is_invalid(tmp_path):
    d = np.ones((2, 4, 4), np.float32)
    d[1, 2, 3] = np.nan
    r = raster_io.read_raster(tif(tmp_path / "a.tif", d))
    assert not r.valid[2, 3] and np.isfinite(r.data).all()


# ---------------------------------------------------------------- pair validation

def test_scale_derived_and_checked(tmp_path):
    hp, mp = pair(tmp_path)
    p = raster_io.prepare_pair(hp, mp, 0)
    assert p.scale == 4 and p.warnings == []
    assert p.msi.data.shape == (3, 32, 32) and p.hsi.data.shape == (10, 8, 8)
    assert raster_io.prepare_pair(hp, mp, 4).scale == 4
    with pytest.raises(InvalidInputError, match="SCALE=3"):
        raster_io.prepare_pair(hp, mp, 3)


def test_non_integer_ratio(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(7.0, 0, 500000.0, 0, -7.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="not an integer"):
        raster_io.prepare_pair(hp, mp)


def test_different_crs(tmp_path):
    hp, mp = pair(tmp_path, hsi_crs=CRS.from_epsg(32632))
    with pytest.raises(InvalidInputError, match="coordinate reference systems"):
        raster_io.prepare_pair(hp, mp)


def test_misaligned_grids(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 500001.0, 0, -8.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="not aligned"):
        raster_io.prepare_pair(hp, mp)


def test_swapped_inputs(tmp_path):
    hp, mp = pair(tmp_path)
    with pytest.raises(InvalidInputError, match="swapped"):
        raster_io.prepare_pair(mp, hp)


def test_no_overlap(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 600000.0, 0, -8.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="do not overlap"):
        raster_io.prepare_pair(hp, mp)


def test_partial_overlap_is_cropped(tmp_path):
    # HSI starts 2 HSI pixels (16 m = 8 MSI pixels) east of the MSI origin and runs past its edge.
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 500016.0, 0, -8.0, 5000000.0))
    p = raster_io.prepare_pair(hp, mp)
    assert p.scale == 4 and len(p.warnings) == 1 and "cropped" in p.warnings[0]
    assert p.hsi.data.shape == (10, 8, 6) and p.msi.data.shape == (3, 32, 24)
    assert p.msi.transform.c == 500016.0 and p.hsi.transform.c == 500016.0
    assert p.msi.transform.a == 2.0 and p.hsi.transform.a == 8.0


def test_lab_scenes_without_georeferencing(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine.identity(), msi_t=Affine.identity(), hsi_crs=None, msi_crs=None)
    p = raster_io.prepare_pair(hp, mp)
    assert p.scale == 4 and p.msi.crs is None


def test_one_georeferenced_one_not(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine.identity(), hsi_crs=None)
    with pytest.raises(InvalidInputError, match="no georeferencing"):
        raster_io.prepare_pair(hp, mp)


# ---------------------------------------------------------------- writing

def test_write_raster_metadata_and_atomic(tmp_path):
    data = np.random.default_rng(1).random((5, 40, 30)).astype(np.float32)
    valid = np.ones((40, 30), bool)
    valid[0, 0] = False
    out = tmp_path / "out.tif"
    raster_io.write_raster(str(out), data, T_MSI, UTM, valid=valid, wavelengths_nm=[400, 500, 600, 700, 800],
                           descriptions=["a", None, "c", None, None])
    assert not glob.glob(str(tmp_path / ".out*"))  # no temporary file left
    with rasterio.open(out) as ds:
        assert ds.crs == UTM and ds.transform == T_MSI and ds.count == 5 and ds.dtypes[0] == "float32"
        assert ds.nodata == raster_io.NODATA and ds.profile["tiled"]
        assert ds.profile["compress"].lower() == "deflate"
        assert ds.descriptions[0] == "a" and ds.descriptions[1] == "500.0 nm"
        assert ds.tags()["wavelength_units"] == "Nanometers"
        assert ds.read(1)[0, 0] == raster_io.NODATA
    np.testing.assert_allclose(raster_io.raster_info(str(out)).wavelengths_nm, [400, 500, 600, 700, 800])


def test_write_rejects_unknown_extension(tmp_path):
    with pytest.raises(InvalidInputError, match="format"):
        raster_io.write_raster(str(tmp_path / "x.xyz"), np.zeros((1, 4, 4)), T_MSI)


# ---------------------------------------------------------------- degradation JSON

def test_degradation_roundtrip_and_checks(tmp_path):
    k = np.ones((5, 5)) / 25
    p = np.random.default_rng(0).random((3, 10))
    path = str(tmp_path / "d.json")
    raster_io.write_degradation(path, 4, k, p, np.linspace(400, 900, 10), None)
    d = json.load(open(path))
    assert set(d) >= {"scale", "kernel", "srf", "hsi_wavelengths_nm", "msi_wavelengths_nm"}
    assert d["msi_wavelengths_nm"] is None and len(d["srf"]) == 3
    spec = raster_io.read_degradation(path, scale=4, hsi_bands=10, msi_bands=3)
    np.testing.assert_allclose(spec.kernel, k)
    with pytest.raises(InvalidInputError, match="scale 4"):
        raster_io.read_degradation(path, scale=8)
    with pytest.raises(InvalidInputError, match="MSI x HSI"):
        raster_io.read_degradation(path, scale=4, hsi_bands=12, msi_bands=3)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        raster_io.read_degradation(str(tmp_path / "bad.json"))


# ---------------------------------------------------------------- SRF CSV and kernels

def test_srf_table_with_labels(tmp_path):
    f = tmp_path / "srf.csv"
    f.write_text("band,400,500,600,700\nB,1,1,0,0\nR,0,0,1,3\n")
    p = raster_io.read_srf_csv(str(f), 2, 4)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]])
    np.testing.assert_allclose(raster_io.read_srf_csv(str(f), 2, 4), p)


def test_srf_curves(tmp_path):
    f = tmp_path / "curves.csv"
    wl = np.arange(350, 1001, 1)
    c1 = np.exp(-0.5 * ((wl - 500) / 20) ** 2)
    c2 = np.exp(-0.5 * ((wl - 800) / 20) ** 2)
    f.write_text("wl,b1,b2\n" + "\n".join(f"{w},{a},{b}" for w, a, b in zip(wl, c1, c2)))
    p = raster_io.read_srf_csv(str(f), 2, 7, np.linspace(400, 1000, 7))
    assert p.shape == (2, 7) and np.argmax(p[0]) == 1 and np.argmax(p[1]) == 4
    with pytest.raises(InvalidInputError, match="wavelength"):
        raster_io.read_srf_csv(str(f), 2, 7, None)


def test_srf_wrong_shape(tmp_path):
    f = tmp_path / "srf.csv"
    f.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(InvalidInputError, match="rows"):
        raster_io.read_srf_csv(str(f), 4, 10)


def test_kernel_files(tmp_path):
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(float)
    np.save(tmp_path / "k.npy", k)
    np.savetxt(tmp_path / "k.csv", k, delimiter=",")
    for name in ("k.npy", "k.csv"):
        out = raster_io.read_kernel_file(str(tmp_path / name))
        np.testing.assert_allclose(out, k / k.sum())
