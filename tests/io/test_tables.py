"""The degradation JSON, response CSVs and kernel files."""
import json

import numpy as np
import pytest
from affine import Affine

from helpers.rasters import T_MSI, UTM, pair, tif
from hsi_blind_fusion.core import InvalidInputError, io


def test_degradation_roundtrip_and_checks(tmp_path):
    k = np.ones((5, 5)) / 25
    p = np.random.default_rng(0).random((3, 10))
    path = str(tmp_path / "d.json")
    io.write_degradation(path, 4, k, p, np.linspace(400, 900, 10), None)
    d = json.load(open(path))
    assert set(d) >= {"scale", "kernel", "srf", "hsi_wavelengths_nm", "msi_wavelengths_nm"}
    assert d["msi_wavelengths_nm"] is None and len(d["srf"]) == 3
    spec = io.read_degradation(path, scale=4, hsi_bands=10, msi_bands=3)
    np.testing.assert_allclose(spec.kernel, k)
    with pytest.raises(InvalidInputError, match="scale 4"):
        io.read_degradation(path, scale=8)
    with pytest.raises(InvalidInputError, match="MSI x HSI"):
        io.read_degradation(path, scale=4, hsi_bands=12, msi_bands=3)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        io.read_degradation(str(tmp_path / "bad.json"))


def test_srf_table_with_labels(tmp_path):
    f = tmp_path / "srf.csv"
    f.write_text("band,400,500,600,700\nB,1,1,0,0\nR,0,0,1,3\n")
    p = io.read_srf_csv(str(f), 2, 4)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]])
    np.testing.assert_allclose(io.read_srf_csv(str(f), 2, 4), p)


def test_srf_curves(tmp_path):
    f = tmp_path / "curves.csv"
    wl = np.arange(350, 1001, 1)
    c1 = np.exp(-0.5 * ((wl - 500) / 20) ** 2)
    c2 = np.exp(-0.5 * ((wl - 800) / 20) ** 2)
    f.write_text("wl,b1,b2\n" + "\n".join(f"{w},{a},{b}" for w, a, b in zip(wl, c1, c2)))
    p = io.read_srf_csv(str(f), 2, 7, np.linspace(400, 1000, 7))
    assert p.shape == (2, 7) and np.argmax(p[0]) == 1 and np.argmax(p[1]) == 4
    with pytest.raises(InvalidInputError, match="wavelength"):
        io.read_srf_csv(str(f), 2, 7, None)


def test_srf_wrong_shape(tmp_path):
    f = tmp_path / "srf.csv"
    f.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(InvalidInputError, match="rows"):
        io.read_srf_csv(str(f), 4, 10)


def test_kernel_files(tmp_path):
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(float)
    np.save(tmp_path / "k.npy", k)
    np.savetxt(tmp_path / "k.csv", k, delimiter=",")
    for name in ("k.npy", "k.csv"):
        out = io.read_kernel_file(str(tmp_path / name))
        np.testing.assert_allclose(out, k / k.sum())
