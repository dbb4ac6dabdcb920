"""Small GeoTIFFs for the io tests: any band count, transform, CRS, tags, nodata, scale/offset."""
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

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
