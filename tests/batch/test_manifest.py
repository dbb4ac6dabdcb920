"""The pairs of a batch: a CSV manifest (paths relative to it, optional columns) or a folder of
<name>_hsi / <name>_msi rasters; clear errors before anything runs. No dask, no fusion."""
import os

import pytest

from hsi_blind_fusion.core.errors import InvalidInputError
from hsi_blind_fusion.core.workflow.manifest import read_manifest


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("x")
    return str(path)


def test_csv_manifest(tmp_path):
    for f in ("data/a_hsi.tif", "data/a_msi.tif", "data/b.tif", "data/bm.tif", "data/b_srf.csv"):
        touch(tmp_path / f)
    (tmp_path / "pairs.csv").write_text(
        "HSI, msi ,output,srf,extra\n"
        "data/a_hsi.tif,data/a_msi.tif,,,1\n"
        "\n"
        f"data/b.tif,{tmp_path / 'data/bm.tif'},sub/b_out.tif,data/b_srf.csv,2\n")
    (tmp_path / "out" / "sub").mkdir(parents=True)
    m = read_manifest(str(tmp_path / "pairs.csv"), str(tmp_path / "out"))
    a, b = m.pairs
    assert (a.name, a.hsi, a.output, a.srf) == ("a", str(tmp_path / "data/a_hsi.tif"),
                                                str(tmp_path / "out/a_fused.tif"), None)
    assert (b.name, b.msi, b.output, b.srf) == ("b", str(tmp_path / "data/bm.tif"), str(tmp_path / "out/sub/b_out.tif"),
                                                str(tmp_path / "data/b_srf.csv"))
    assert len(m.warnings) == 1 and "extra" in m.warnings[0]


@pytest.mark.parametrize("text, message", [
    ("hsi,output\nx.tif,y.tif\n", "no column msi"),
    ("hsi,msi\n", "no pairs"),
    ("hsi,msi\nmissing_hsi.tif,m.tif\n", "does not exist"),
    ("hsi,msi\nh.tif,m.tif\nh.tif,m.tif\n", "same output"),
    ("hsi,msi,output\nh.tif,m.tif,out.png\n", ".tif"),
    ("hsi,msi,output\nh.tif,m.tif,../h.tif\n", "is an input"),
])
def test_csv_errors(tmp_path, text, message):
    touch(tmp_path / "h.tif"), touch(tmp_path / "m.tif")
    (tmp_path / "m.csv").write_text(text)
    (tmp_path / "out").mkdir()
    with pytest.raises(InvalidInputError, match=message):
        read_manifest(str(tmp_path / "m.csv"), str(tmp_path / "out"))


def test_folder_matching(tmp_path):
    for f in ("x_HSI.tif", "x_msi.TIF", "x_srf.csv", "y_hsi.tiff", "y_msi.vrt", "y_degradation.json",
              "lonely_hsi.tif", "notes.txt", "z_msi.tif"):
        touch(tmp_path / "in" / f)
    m = read_manifest(str(tmp_path / "in"), str(tmp_path / "out"))
    assert [(p.name, os.path.basename(p.hsi), os.path.basename(p.msi)) for p in m.pairs] == [
        ("x", "x_HSI.tif", "x_msi.TIF"), ("y", "y_hsi.tiff", "y_msi.vrt")]
    x, y = m.pairs
    assert x.srf.endswith("x_srf.csv") and x.degradation is None and y.degradation.endswith("y_degradation.json")
    assert x.output == str(tmp_path / "out" / "x_fused.tif")
    assert sorted(w.split(":")[0] for w in m.warnings) == ["lonely", "z"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="NAME_hsi"):
        read_manifest(str(tmp_path / "empty"), str(tmp_path / "out"))
