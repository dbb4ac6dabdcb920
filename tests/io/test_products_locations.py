"""Where product files are: folders, archives, /vsizip/ paths, and the parts of subdataset names."""
import zipfile

from hsi_blind_fusion.core.io.products.locations import locate, split_sentinel2_subdataset, split_subdataset


def test_subdataset_names():
    assert split_subdataset('HDF5:"/d/a b.he5"://HDFEOS/SWATHS/X/Data_Fields/VNIR_Cube', "HDF5") == (
        "/d/a b.he5", "//HDFEOS/SWATHS/X/Data_Fields/VNIR_Cube")
    assert split_subdataset("HDF5:/d/a.he5://cube", "HDF5") == ("/d/a.he5", "//cube")
    assert split_subdataset('HDF5:"C:\\d\\a.he5"://cube', "HDF5") == ("C:\\d\\a.he5", "//cube")
    assert split_subdataset('NETCDF:"/d/e.nc":reflectance', "NETCDF") == ("/d/e.nc", "reflectance")
    assert split_subdataset("NETCDF:/d/e.nc:reflectance", "NETCDF") == ("/d/e.nc", "reflectance")
    assert split_subdataset("NETCDF:C:\\d\\e.nc:reflectance", "NETCDF") == ("C:\\d\\e.nc", "reflectance")
    assert split_subdataset("/d/e.nc", "NETCDF") is None
    assert split_sentinel2_subdataset("SENTINEL2_L2A:/d/S.SAFE/MTD_MSIL2A.xml:10m:EPSG_32633") == (
        "/d/S.SAFE/MTD_MSIL2A.xml", "10m")
    assert split_sentinel2_subdataset("SENTINEL2_L2A:/vsizip//d/S.zip/S.SAFE/MTD_MSIL2A.xml:20m:EPSG_32633") == (
        "/vsizip//d/S.zip/S.SAFE/MTD_MSIL2A.xml", "20m")
    assert split_sentinel2_subdataset("SENTINEL2_L2A:C:\\d\\MTD_MSIL2A.xml:TCI:EPSG_32633") == (
        "C:\\d\\MTD_MSIL2A.xml", "tci")
    assert split_sentinel2_subdataset("/d/MTD_MSIL2A.xml") is None


def test_locate(tmp_path):
    archive = tmp_path / "p.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("prod/a.xml", "<a/>")
        zf.writestr("prod/sub/b.tif", "x")
    folder, name = locate(f"/vsizip/{archive}/prod/a.xml")
    assert name == "a.xml" and folder.prefix == "prod" and sorted(folder.names()) == ["a.xml", "sub/b.tif"]
    assert folder.read_text("a.xml") == "<a/>" and folder.gdal_path("sub/b.tif") == f"/vsizip/{archive}/prod/sub/b.tif"
    folder, name = locate(f"/vsizip/{archive}/prod")
    assert name is None and folder.prefix == "prod"
    assert locate(f"/vsizip/{archive}/nothing.tif") is None
    assert locate(f"/vsizip/{tmp_path / 'missing.zip'}/a.xml") is None
    folder, name = locate(str(archive))
    assert name is None and folder.archive == str(archive) and len(folder.names()) == 2
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("hi")
    folder, name = locate(str(tmp_path / "d" / "x.txt"))
    assert name == "x.txt" and folder.read_text(name) == "hi"
    assert locate(str(tmp_path / "none")) is None
