"""Input files for the QGIS bad-input and cancel tests: small GeoTIFF pairs written from a scene,
and checksums that show the inputs were left untouched."""
import hashlib
import os

import numpy as np
import rasterio


def tif(path, data, transform, crs="EPSG:32633", wavelengths=None, nodata=None, dtype="float32",
        scales=None, offsets=None):
    """A GeoTIFF written with rasterio directly (any dtype, nodata, scale/offset, wavelengths)."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype=dtype,
                   transform=transform)
    if crs:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(dtype))
        if wavelengths is not None:
            ds.update_tags(wavelength="{" + ", ".join(f"{w:.2f}" for w in wavelengths) + "}",
                           wavelength_units="Nanometers")
        if scales is not None:
            ds.scales = scales
        if offsets is not None:
            ds.offsets = offsets
    return str(path)


def write_pair(folder, s, hsi=None, msi=None, hsi_t=None, msi_t=None, msi_crs="EPSG:32633", **kw):
    os.makedirs(folder, exist_ok=True)
    h = tif(os.path.join(folder, "hsi.tif"), s.hsi if hsi is None else hsi, hsi_t or s.lr_transform,
            wavelengths=s.wavelengths_nm if (hsi is None or np.asarray(hsi).shape[0] == s.hsi.shape[0]) else None,
            **kw.get("hsi_kw", {}))
    m = tif(os.path.join(folder, "msi.tif"), s.msi if msi is None else msi, msi_t or s.hr_transform, crs=msi_crs,
            **kw.get("msi_kw", {}))
    return h, m


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def checksums(paths):
    return {p: sha256(p) for p in paths if p and os.path.isfile(p)}


def scene_pair(folder, s, **kw):
    h, m = write_pair(folder, s, **kw)
    return {"HSI": h, "MSI": m}, [h, m]
