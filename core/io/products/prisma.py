"""PRISMA Level-2D products (ASI): the ``.he5`` file, its zip as delivered, or any of its HDF5
subdatasets (what QGIS shows when the file is added, e.g. ``HDF5:"PRS_L2D_....he5"://HDFEOS/SWATHS/
PRS_L2D_HCO/Data_Fields/VNIR_Cube``), resolved to one GeoTIFF of the VNIR and SWIR cubes joined in
wavelength order, made once per file and process in the scratch folder.

The file structure followed (ASI, "PRISMA Products Specification Document", issue 2.3, 12/03/2020,
as read by EnMAP-Box's ``importprismal2dalgorithm.py`` and IREA-CNR's ``prismaread``; names
checked against both):

- ``HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields/VNIR_Cube`` and ``SWIR_Cube``: uint16 DN, dimensions
  (rows, bands, columns), i.e. band-interleaved-by-line; rows run north to south and columns west
  to east on the product's UTM grid (30 m); VNIR bands are stored in descending wavelength order;
- global attributes ``Processing_Level`` (``2D``); ``List_Cw_Vnir``, ``List_Fwhm_Vnir``,
  ``List_Cw_Vnir_Flags`` and ``List_Cw_Swir``, ``List_Fwhm_Swir``, ``List_Cw_Swir_Flags``: the
  centre wavelength, FWHM (nm) and flag (1 = valid) of each band of the cube, in the cube's order,
  a centre of 0 marking an unused slot; ``L2ScaleVnirMin``, ``L2ScaleVnirMax``, ``L2ScaleSwirMin``,
  ``L2ScaleSwirMax``: reflectance = Min + DN (Max - Min) / 65535; ``Epsg_Code`` (the UTM zone);
  ``Product_ULcorner_easting`` / ``_northing`` (and ``UR``, ``LL``, ``LR``): the centres of the
  corner pixels, in metres.

Joining: unused slots (centre 0) are left out; bands flagged 0 are kept and flagged bad. The
spectrometers overlap from about 920 to 1010 nm; there the VNIR bands are left out and the SWIR
ones kept: the VNIR's silicon detector loses most of its responsivity above ~900 nm, so its
overlap bands are the noisier ones (prismaread joins the same way by default; some studies keep
the VNIR ones instead, so the choice is a judgement, not the specification's). The DN stay uint16
in the GeoTIFF with each band's scale and offset (the L2 scaling of its spectrometer), and a mask
marks the pixels that are 0 in every band (outside the imaged swath).
"""
from __future__ import annotations

import os
import zipfile
from typing import Optional

import numpy as np

from ...errors import InvalidInputError
from ..wavelengths import SpectralMetadata, write_band_metadata
from .hdf import attribute, cube_profile, float_list, is_hdf5, open_hdf5
from .locations import split_subdataset
from .scratch import cached, scratch_path

SWATH = "HDFEOS/SWATHS/PRS_L2D_HCO"
#: Ground sampling distance of the hyperspectral cubes (HCO), in metres.
PIXEL_SIZE_M = 30.0
#: Rows converted at a time are sized to about this many bytes of DN.
BLOCK_BYTES = 64 * 2**20


def _he5_of(path: str) -> Optional[str]:
    """The ``.he5`` file ``path`` names (plainly, as a subdataset, or inside a PRISMA zip), else None."""
    p = str(path)
    sub = split_subdataset(p, "HDF5")
    if sub is not None:
        p = sub[0]
    low = p.lower()
    if low.endswith(".he5") and os.path.isfile(p):
        return p
    if low.endswith(".zip") and os.path.basename(p).upper().startswith("PRS_") and os.path.isfile(p):
        return _extracted(p)
    return None


def _extracted(archive: str) -> str:
    """The ``.he5`` of a PRISMA zip, extracted once into the scratch folder (HDF5 cannot be read in place)."""
    def extract():
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [n for n in zf.namelist() if n.lower().endswith(".he5")]
                if len(members) != 1:
                    raise InvalidInputError(
                        f"the zip {archive} holds {len(members)} .he5 files; a PRISMA product zip holds one")
                target = scratch_path(archive, ".he5")
                with zf.open(members[0]) as src, open(target + ".part", "wb") as dst:
                    while True:
                        chunk = src.read(16 * 2**20)
                        if not chunk:
                            break
                        dst.write(chunk)
                os.replace(target + ".part", target)
                return target
        except (OSError, zipfile.BadZipFile) as exc:
            raise InvalidInputError(f"the zip {archive} is unreadable or corrupt ({exc})") from exc

    return cached(archive, "prisma-zip", extract)


def _band_table(attrs, where: str, part: str, count: int) -> tuple:
    cw = float_list(attribute(attrs, f"List_Cw_{part}", where), f"List_Cw_{part}", where)
    fw = float_list(attribute(attrs, f"List_Fwhm_{part}", where), f"List_Fwhm_{part}", where)
    flags_raw = attribute(attrs, f"List_Cw_{part}_Flags", where, required=False)
    flags = (np.ones_like(cw) if flags_raw is None
             else float_list(flags_raw, f"List_Cw_{part}_Flags", where))
    for name, values in ((f"List_Cw_{part}", cw), (f"List_Fwhm_{part}", fw), (f"List_Cw_{part}_Flags", flags)):
        if values.size != count:
            raise InvalidInputError(
                f"{where}: '{name}' lists {values.size} values but the {part.upper()} cube has {count} bands")
    return cw, fw, flags


def _grid(attrs, where: str):
    from affine import Affine
    from rasterio.crs import CRS

    epsg = attribute(attrs, "Epsg_Code", where)
    try:
        crs = CRS.from_epsg(int(float(epsg)))
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{where}: 'Epsg_Code' = {epsg!r} is no EPSG code") from exc
    east = [attribute(attrs, f"Product_{c}corner_easting", where, required=c == "UL") for c in ("UL", "LL")]
    north = [attribute(attrs, f"Product_{c}corner_northing", where, required=c == "UL") for c in ("UL", "UR")]
    x0 = min(float(v) for v in east if v is not None) - PIXEL_SIZE_M / 2
    y0 = max(float(v) for v in north if v is not None) + PIXEL_SIZE_M / 2
    return crs, Affine(PIXEL_SIZE_M, 0.0, x0, 0.0, -PIXEL_SIZE_M, y0)


def _convert(he5: str):
    from ..reading import require_rasterio

    rasterio = require_rasterio()
    name = os.path.basename(he5)
    with open_hdf5(he5, "PRISMA product") as f:
        where = f"the PRISMA file {name}"
        level = str(attribute(f.attrs, "Processing_Level", where, required=False) or "").strip().upper()
        if SWATH not in f:
            if level in ("1", "2B", "2C") or any(k.startswith(("PRS_L1", "PRS_L2B", "PRS_L2C"))
                                               for k in f.get("HDFEOS/SWATHS", {}).keys()):
                raise InvalidInputError(
                    f"{where} is a PRISMA level {level or '1/2B/2C'} product, in sensor geometry; give the L2D "
                    "product (orthorectified surface reflectance)")
            raise InvalidInputError(f"{where} has no {SWATH} swath; is it a PRISMA L2D product?")
        fields = f[SWATH].get("Data Fields") or f[SWATH].get("Data_Fields")
        if fields is None or "VNIR_Cube" not in fields or "SWIR_Cube" not in fields:
            raise InvalidInputError(f"{where} lacks the VNIR_Cube / SWIR_Cube of {SWATH}; is the file complete?")
        vnir, swir = fields["VNIR_Cube"], fields["SWIR_Cube"]
        if vnir.ndim != 3 or swir.ndim != 3 or vnir.shape[0] != swir.shape[0] or vnir.shape[2] != swir.shape[2]:
            raise InvalidInputError(f"{where}: the VNIR {vnir.shape} and SWIR {swir.shape} cubes do not share a "
                                    "grid (rows, bands, columns)")
        rows, nv, cols = vnir.shape
        ns = swir.shape[1]
        cw_v, fw_v, fl_v = _band_table(f.attrs, where, "Vnir", nv)
        cw_s, fw_s, fl_s = _band_table(f.attrs, where, "Swir", ns)
        scale = {}
        for part in ("Vnir", "Swir"):
            lo = float(attribute(f.attrs, f"L2Scale{part}Min", where))
            hi = float(attribute(f.attrs, f"L2Scale{part}Max", where))
            scale[part] = ((hi - lo) / 65535.0, lo)
        crs, transform = _grid(f.attrs, where)

        used_s = cw_s > 0
        if not used_s.any() or not (cw_v > 0).any():
            raise InvalidInputError(f"{where} lists no band centre wavelengths (List_Cw_Vnir / List_Cw_Swir)")
        first_swir = cw_s[used_s].min()
        used_v = (cw_v > 0) & (cw_v < first_swir)
        overlap = int(((cw_v > 0) & ~used_v).sum())
        bands = [(cw_v[i], fw_v[i], fl_v[i] == 0, "Vnir", i) for i in np.nonzero(used_v)[0]]
        bands += [(cw_s[i], fw_s[i], fl_s[i] == 0, "Swir", i) for i in np.nonzero(used_s)[0]]
        bands.sort(key=lambda b: b[0])
        wl = np.array([b[0] for b in bands])
        fwhm = np.array([b[1] for b in bands])
        bad = np.array([bool(b[2]) for b in bands])
        spectral = SpectralMetadata(wl, fwhm if np.all(fwhm > 0) else None, bad)

        target = scratch_path(he5, "_L2D.tif")
        tmp = target[:-4] + ".part.tif"
        profile = cube_profile(len(bands), rows, cols, "uint16", transform, crs, None)
        step = max(1, int(BLOCK_BYTES // max(1, cols * (nv + ns) * 2)))
        try:
            with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as out:
                out.scales = [scale[b[3]][0] for b in bands]
                out.offsets = [scale[b[3]][1] for b in bands]
                for r0 in range(0, rows, step):
                    r1 = min(rows, r0 + step)
                    v, s = vnir[r0:r1], swir[r0:r1]
                    block = np.empty((len(bands), r1 - r0, cols), dtype=np.uint16)
                    for j, b in enumerate(bands):
                        block[j] = (v if b[3] == "Vnir" else s)[:, b[4], :]
                    win = rasterio.windows.Window(0, r0, cols, r1 - r0)
                    out.write(block, window=win)
                    out.write_mask((np.any(block != 0, axis=0) * 255).astype(np.uint8), window=win)
                write_band_metadata(out, len(bands), wl, [f"{b[3].upper()} {b[4] + 1} ({b[0]:.1f} nm)" for b in bands],
                                    {"sensor": "PRISMA", "processing_level": "L2D", "source": he5}, spectral.fwhm_nm,
                                    bad)
            os.replace(tmp, target)
        except BaseException:
            for p in (tmp, tmp + ".msk", tmp + ".aux.xml"):
                if os.path.exists(p):
                    os.remove(p)
            raise
    from . import ResolvedProduct

    nvk, nsk = int(used_v.sum()), int(used_s.sum())
    return ResolvedProduct(
        path=target, spectral=spectral,
        description=(f"PRISMA L2D {name}: {len(bands)} bands ({nvk} VNIR + {nsk} SWIR, "
                     f"{wl.min():.0f}-{wl.max():.0f} nm; "
                     f"{overlap} VNIR bands of the VNIR/SWIR overlap left out), {int(bad.sum())} flagged bad; "
                     "L2 reflectance scaling applied"))


def resolve_prisma(path: str):
    """The PRISMA L2D product behind ``path`` (the .he5, its zip, or one of its HDF5 subdatasets), or
    None when ``path`` is no PRISMA file."""
    he5 = _he5_of(path)
    if he5 is None or not is_hdf5(he5):
        return None
    with open_hdf5(he5, "PRISMA product") as f:
        if "HDFEOS/SWATHS" not in f or not any(k.startswith("PRS_") for k in f["HDFEOS/SWATHS"].keys()):
            return None
    return cached(he5, "prisma", lambda: _convert(he5))
