"""Sentinel-2 Level-2A products (ESA, SAFE format) as the MSI: the ``.SAFE`` folder, its zip, its
``MTD_MSIL2A.xml``, or GDAL's subdataset of it (``SENTINEL2_L2A:…/MTD_MSIL2A.xml:10m:EPSG_32633``,
what QGIS shows when the metadata file is added), resolved to a VRT of the band files: the 10 m
bands B02, B03, B04, B08 (:func:`sentinel2_10m_stack`, what an MSI path resolves to) or the 20 m
bands B05, B06, B07, B8A, B11, B12 (:func:`sentinel2_20m_stack`, a second, coarser MSI).

The product structure followed (ESA "Sentinel-2 Products Specification Document"
S2-PDGS-TAS-DI-PSD, issue 14.x, and the L2A product format; checked against GDAL's SENTINEL2
driver test products of processing baseline 05.09):

- ``<name>.SAFE/MTD_MSIL2A.xml`` (root ``Level-2A_User_Product``): ``General_Info/Product_Info``
  with ``PROCESSING_BASELINE``, ``Datatake/SPACECRAFT_NAME`` and
  ``Product_Organisation/Granule_List/Granule/IMAGE_FILE`` (paths without extension, e.g.
  ``GRANULE/L2A_T34UCF_…/IMG_DATA/R10m/T34UCF_…_B02_10m``; JPEG2000 files);
  ``General_Info/Product_Image_Characteristics`` with ``Special_Values`` (``NODATA`` = 0),
  ``QUANTIFICATION_VALUES_LIST/BOA_QUANTIFICATION_VALUE`` (10000), since processing baseline 04.00
  ``BOA_ADD_OFFSET_VALUES_LIST/BOA_ADD_OFFSET[@band_id]`` (-1000; ``band_id`` 0..12 = B1..B12 with
  B8A at 8), and ``Spectral_Information_List/Spectral_Information[@bandId, @physicalBand]`` with
  the band's ``Wavelength/CENTRAL`` and its spectral response (``Spectral_Response/STEP`` and
  ``VALUES`` from ``Wavelength/MIN``);
- ``GRANULE/<granule>/IMG_DATA/R10m|R20m|R60m/<tile>_<time>_<band>_<res>.jp2``.

BOA reflectance = (DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE, given to the reader as GDAL
scale 1/Q and offset BOA_ADD_OFFSET/Q; DN 0 is nodata. Band centres come from the product (they
differ slightly between Sentinel-2A, 2B and 2C); the FWHM from the product's own response curves.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Optional

import numpy as np

from ...errors import InvalidInputError
from ..reading import open_quietly
from ..wavelengths import SpectralMetadata
from .locations import ProductFolder, archive_kind, locate, split_sentinel2_subdataset
from .scratch import cached, scratch_path
from .vrt import BandSource, write_vrt

BANDS_10M = ("B02", "B03", "B04", "B08")
BANDS_20M = ("B05", "B06", "B07", "B8A", "B11", "B12")
#: ``band_id`` of the metadata (0-based, in the order B1..B8, B8A, B9..B12).
BAND_ID = {b: i for i, b in enumerate(("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
                                       "B11", "B12"))}
_METADATA = re.compile(r"(^|/)MTD_MSIL(2A|1C)\.xml$", re.IGNORECASE)


def _physical(band: str) -> str:
    """``B02`` -> ``B2`` (the metadata's physicalBand); ``B8A`` stays."""
    return "B" + band[1:].lstrip("0") if band[1:].isdigit() else band


def _may_be_sentinel2(path: str) -> bool:
    p = str(path).replace("\\", "/").rstrip("/")
    up = p.upper()
    if up.startswith("SENTINEL2_") or "MSIL2A" in up or "MSIL1C" in up or up.endswith((".SAFE", "MTD_MSIL2A.XML")):
        return True
    return os.path.isdir(p) or archive_kind(p) is not None


def _find_metadata(path: str) -> Optional[tuple]:
    """``(folder, metadata name, resolution asked by a GDAL subdataset name or "")``."""
    res = ""
    sub = split_sentinel2_subdataset(path)
    if sub is not None:
        path, res = sub
    where = locate(path)
    if where is None:
        return None
    folder, name = where
    if name is None:
        found = [n for n in folder.names() if _METADATA.search(n) and n.count("/") <= 1]
        if not found:
            return None
        if len(found) > 1:
            raise InvalidInputError(f"{folder.display()} holds several Sentinel-2 products ({', '.join(found)}); "
                                    "give the .SAFE folder of one of them")
        head, _, name = found[0].rpartition("/")
        if head:
            folder = (ProductFolder(archive=folder.archive, kind=folder.kind,
                                    prefix=f"{folder.prefix.strip('/')}/{head}".strip("/")) if folder.archive
                      else ProductFolder(root=f"{folder.root}/{head}"))
    elif not _METADATA.search(name):
        return None
    if name.upper() == "MTD_MSIL1C.XML":
        raise InvalidInputError(
            f"{folder.display(name)} is a Sentinel-2 Level-1C product (top-of-atmosphere); give the Level-2A "
            "product (MSIL2A, surface reflectance) or a GeoTIFF of its bands")
    return folder, name, res


def _text(root, path: str) -> Optional[str]:
    el = root.find(path)
    return el.text.strip() if el is not None and el.text else None


class _Metadata:
    """What the resolver needs of MTD_MSIL2A.xml."""

    def __init__(self, folder: ProductFolder, name: str):
        try:
            root = ET.fromstring(folder.read_text(name))
        except ET.ParseError as exc:
            raise InvalidInputError(
                f"{folder.display(name)} is not valid XML ({exc}); is the product complete?") from exc
        for el in root.iter():
            el.tag = el.tag.rsplit("}", 1)[-1]
        self.where = folder.display(name)
        self.baseline = _text(root, ".//PROCESSING_BASELINE") or ""
        self.spacecraft = _text(root, ".//SPACECRAFT_NAME") or "Sentinel-2"
        q = (_text(root, ".//QUANTIFICATION_VALUES_LIST/BOA_QUANTIFICATION_VALUE")
             or _text(root, ".//BOA_QUANTIFICATION_VALUE"))
        try:
            self.quantification = float(q)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{self.where} has no BOA_QUANTIFICATION_VALUE; is it a Level-2A product?") from exc
        self.offsets = {}
        for el in root.iter("BOA_ADD_OFFSET"):
            try:
                self.offsets[int(el.get("band_id"))] = float(el.text)
            except (TypeError, ValueError):
                continue
        try:
            newer = float(self.baseline) >= 4.0
        except ValueError:
            newer = False
        if not self.offsets and newer:
            raise InvalidInputError(
                f"{self.where}: processing baseline {self.baseline} products carry BOA_ADD_OFFSET values, but none "
                "were found; the metadata file is incomplete")
        self.nodata = 0.0
        for sv in root.iter("Special_Values"):
            if (sv.findtext("SPECIAL_VALUE_TEXT") or "").strip().upper() == "NODATA":
                try:
                    self.nodata = float(sv.findtext("SPECIAL_VALUE_INDEX"))
                except (TypeError, ValueError):
                    pass
        self.centre, self.fwhm = {}, {}
        for si in root.iter("Spectral_Information"):
            band = si.get("physicalBand") or ""
            try:
                self.centre[band] = float(si.findtext("Wavelength/CENTRAL"))
            except (TypeError, ValueError):
                pass
            fw = _response_fwhm(si)
            if fw:
                self.fwhm[band] = fw
        self.image_files = [el.text.strip() for el in root.iter("IMAGE_FILE") if el.text]


def _response_fwhm(si) -> Optional[float]:
    """The width at half maximum of a band's response as the metadata tabulates it."""
    try:
        step = float(si.findtext("Spectral_Response/STEP"))
        values = np.array([float(v) for v in (si.findtext("Spectral_Response/VALUES") or "").split()])
    except (TypeError, ValueError):
        return None
    if values.size < 3 or values.max() <= 0 or step <= 0:
        return None
    above = np.nonzero(values >= values.max() / 2)[0]
    return float((above[-1] - above[0] + 1) * step)


def _band_file(folder: ProductFolder, meta: _Metadata, band: str, res: int, names: set) -> str:
    suffix = f"_{band}_{res}m"
    for f in meta.image_files:
        if f.endswith(suffix):
            for ext in (".jp2", ".tif", ".TIF", ".JP2"):
                if f + ext in names:
                    return f + ext
    pattern = re.compile(rf"^GRANULE/[^/]+/IMG_DATA/R{res}m/[^/]*{suffix}\.(jp2|tif)$", re.IGNORECASE)
    found = sorted(n for n in names if pattern.match(n))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InvalidInputError(f"{folder.display()} holds several {band} {res} m files ({', '.join(found)}): one "
                                "granule per product is supported")
    raise InvalidInputError(
        f"the Sentinel-2 product {folder.display()} lacks the {band} band at {res} m (GRANULE/*/IMG_DATA/R{res}m/"
        f"*{suffix}.jp2); is the product complete?")


def _stack(folder: ProductFolder, xml_name: str, res: int):
    from ...sensor_bands import SENTINEL2_BANDS

    meta = _Metadata(folder, xml_name)
    bands = BANDS_10M if res == 10 else BANDS_20M
    names = set(folder.names())
    files = [_band_file(folder, meta, b, res, names) for b in bands]
    grid = None
    for f in files:
        with open_quietly(folder.gdal_path(f)) as ds:
            this = (ds.width, ds.height, ds.transform, ds.crs, ds.count)
            if grid is None:
                grid = this
            elif this[:4] != grid[:4]:
                raise InvalidInputError(
                    f"the Sentinel-2 band files of {folder.display()} at {res} m are not on one grid")
    width, height, transform, crs, _ = grid
    table = {b.name: b for b in SENTINEL2_BANDS}
    q = meta.quantification
    sources, wl, fwhm = [], [], []
    for b, f in zip(bands, files):
        add = meta.offsets.get(BAND_ID[b], 0.0)
        sources.append(BandSource(folder.gdal_path(f), 1, 1.0 / q, add / q, b))
        phys = _physical(b)
        wl.append(meta.centre.get(phys, table[phys].centre_nm))
        fwhm.append(meta.fwhm.get(phys, table[phys].fwhm_nm))
    spectral = SpectralMetadata(np.array(wl), np.array(fwhm), None)
    safe = folder.display().rstrip("/").rsplit("/", 1)[-1]
    vrt = write_vrt(scratch_path(folder.display(), f"_{res}m.vrt"), sources, width, height, crs, transform,
                    "uint16", meta.nodata, spectral,
                    tags={"sensor": meta.spacecraft, "processing_level": "L2A", "processing_baseline": meta.baseline,
                          "source": folder.display()})
    offsets = sorted({meta.offsets.get(BAND_ID[b], 0.0) for b in bands})
    off = ", ".join(f"{o:+g}" for o in offsets)
    from . import ResolvedProduct

    return ResolvedProduct(
        path=vrt, spectral=spectral,
        description=(f"{meta.spacecraft} L2A {safe} (processing baseline {meta.baseline or 'unknown'}): {res} m bands "
                     f"{', '.join(bands)}; reflectance = (DN {off}) / {q:g}"))


def _resolve(path: str, res: int):
    if not _may_be_sentinel2(path):
        return None
    found = _find_metadata(path)
    if found is None:
        return None
    folder, name, asked = found
    if asked:
        if asked not in ("10m", "20m"):
            raise InvalidInputError(
                f"{path}: the {asked} subdataset of a Sentinel-2 product is not read; give the 10m subdataset (B02, "
                "B03, B04, B08), or the .SAFE folder or MTD_MSIL2A.xml")
        res = int(asked[:-1]) if res == 0 else res
    res = res or 10
    return cached(folder.identity, f"sentinel2:{folder.prefix}/{name}:{res}", lambda: _stack(folder, name, res))


def sentinel2_10m_stack(path: str):
    """The 10 m bands (B02, B03, B04, B08) of the Sentinel-2 L2A product behind ``path``, or None."""
    return _resolve(path, 10)


def sentinel2_20m_stack(path: str):
    """The 20 m bands (B05, B06, B07, B8A, B11, B12) of the Sentinel-2 L2A product behind ``path`` (its
    .SAFE folder, zip, MTD_MSIL2A.xml or a GDAL subdataset of it), or None when ``path`` is no
    Sentinel-2 product."""
    return _resolve(path, 20)


def resolve_sentinel2(path: str):
    """What an MSI path resolves to: the 10 m stack, or the 20 m one when ``path`` is GDAL's 20m
    subdataset."""
    return _resolve(path, 0)
