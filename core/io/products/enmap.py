"""EnMAP Level-2A (and Level-1C) products as DLR delivers them: the product folder, its zip, its
``METADATA.XML`` or its ``SPECTRAL_IMAGE`` file, resolved to a VRT of the spectral image with each
band's gain and offset as GDAL scale/offset (nothing is copied) and the band characterisation of
the metadata file (centre wavelength, FWHM, bad bands).

The product structure followed (EnMAP ground segment, "EnMAP HSI Level 1B/1C/2A Product
Specification", as read by EnMAP-Box's ``importenmapl2aalgorithm.py`` and ESA SNAP's EnMAP reader;
names checked against both):

- folder (or ``.ZIP`` holding the folder) ``ENMAP01-____L2A-DT<datatake>_<start>Z_<tile>_V<version>_<time>Z``
  with ``<name>-SPECTRAL_IMAGE.<TIF|BSQ|BIL|BIP|JP2>`` (ENVI formats with their ``.HDR``, EOLab's
  ``_COG.TIF``), ``<name>-METADATA.XML``, quality layers ``-QL_PIXELMASK``, ``-QL_QUALITY_CLOUD``,
  ``-QL_QUALITY_CLASSES``... and quicklooks ``-QL_VNIR`` / ``-QL_SWIR``;
- ``METADATA.XML`` (root ``level_X``): ``base/level`` (``L1B`` / ``L1C`` / ``L2A``),
  ``processing/productFormat`` (``GeoTIFF+Metadata``, ``BSQ+Metadata``, ...),
  ``specific/bandCharacterisation/bandID[@number]`` with ``wavelengthCenterOfBand``, ``FWHMOfBand``
  (nm), ``GainOfBand``, ``OffsetOfBand`` (value = gain * DN + offset), ``specific/backgroundValue``
  (the fill value), ``specific/vnirProductQuality/expectedChannelsList`` and the ``swir`` one (the
  band numbers each detector delivers), ``product/bandStatistics/bandID[@number]`` with ``mean``
  and ``stdDeviation``, ``product/productFileInformation/file/name``.

Bad bands: L2A fills the bands of strong water-vapour absorption (around 1400 and 1900 nm) with
the fill value; the metadata's band statistics then give them a standard deviation of 0. A band is
flagged bad when its statistics say it is constant, or when no detector's ``expectedChannelsList``
holds it. Bands stay in the product's (wavelength) order, the VNIR/SWIR overlap near 900-1000 nm
included, as delivered.
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
from .locations import ProductFolder, archive_kind, locate
from .scratch import cached, scratch_path
from .vrt import BandSource, write_vrt

#: How the spectral image may be stored, per the product format chosen when ordering.
SPECTRAL_IMAGE_EXTENSIONS = (".TIF", ".TIFF", ".GEOTIFF", "_COG.TIF", "_COG.TIFF", ".BSQ", ".BIL", ".BIP", ".JP2")
_METADATA = re.compile(r"(^|/)(ENMAP[^/]*)-METADATA\.XML$", re.IGNORECASE)
_SPECTRAL = re.compile(r"^(ENMAP[^/]*)-SPECTRAL_IMAGE(_COG)?\.[A-Za-z0-9]+$", re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(root: ET.Element) -> ET.Element:
    for el in root.iter():
        el.tag = _local(el.tag)
    return root


def _may_be_enmap(path: str) -> bool:
    """Cheap test on the name alone: whether ``path`` can be an EnMAP product at all."""
    p = str(path).replace("\\", "/").rstrip("/")
    base = p.rsplit("/", 1)[-1].upper()
    if "ENMAP" in p.upper():
        return True
    return os.path.isdir(p) or archive_kind(base) is not None


def _find_metadata(folder: ProductFolder, name: Optional[str]) -> Optional[tuple]:
    """``(folder, metadata name)`` of the product ``name`` points to (or the folder holds)."""
    if name:
        if _METADATA.search(name):
            return folder, name
        m = _SPECTRAL.match(name)
        if not m:
            return None
        names = set(folder.names()) if folder.archive else None
        for candidate in (f"{m.group(1)}-METADATA.XML", f"{m.group(1)}-METADATA.xml"):
            if (candidate in names) if names is not None else os.path.isfile(os.path.join(folder.root, candidate)):
                return folder, candidate
        return None
    found = [n for n in folder.names() if _METADATA.search(n) and n.count("/") <= 2]
    if not found:
        return None
    if len(found) > 1:
        raise InvalidInputError(
            f"{folder.display()} holds several EnMAP products ({', '.join(sorted(found))}); give the folder or "
            "METADATA.XML of one of them")
    head, _, tail = found[0].rpartition("/")
    if head:
        if folder.archive:
            folder = ProductFolder(archive=folder.archive, kind=folder.kind,
                                   prefix=f"{folder.prefix.strip('/')}/{head}".strip("/"))
        else:
            folder = ProductFolder(root=os.path.join(folder.root, head))
    return folder, tail


def _floats(elements, tag: str) -> np.ndarray:
    out = []
    for el in elements:
        text = el.findtext(tag)
        try:
            out.append(float(text))
        except (TypeError, ValueError):
            out.append(np.nan)
    return np.array(out, dtype=np.float64)


def _channel_list(root: ET.Element, path: str) -> list:
    text = root.findtext(path)
    if not text:
        return []
    return [int(t) for t in re.split(r"[,\s]+", text.strip()) if t.strip().isdigit()]


def _spectral_image(folder: ProductFolder, stem: str, root: ET.Element) -> str:
    names = folder.names()
    by_upper = {n.upper(): n for n in names if "/" not in n}
    listed = [el.text.strip() for el in root.iter("name") if el.text and "SPECTRAL_IMAGE" in el.text.upper()]
    for n in listed:
        base = n.replace("\\", "/").rsplit("/", 1)[-1]
        if base.upper() in by_upper and not base.upper().endswith((".HDR", ".XML")):
            return by_upper[base.upper()]
    for ext in SPECTRAL_IMAGE_EXTENSIONS:
        n = f"{stem}-SPECTRAL_IMAGE{ext}".upper()
        if n in by_upper:
            return by_upper[n]
    raise InvalidInputError(
        f"the EnMAP product {folder.display()} has no spectral image ({stem}-SPECTRAL_IMAGE with one of "
        f"{', '.join(SPECTRAL_IMAGE_EXTENSIONS)}); is the product complete?")


def _check_envi_header(folder: ProductFolder, image: str) -> None:
    if not image.upper().endswith((".BSQ", ".BIL", ".BIP")):
        return
    names = {n.upper() for n in folder.names()}
    stem = image.rsplit(".", 1)[0].upper()
    if f"{stem}.HDR" not in names and f"{image.upper()}.HDR" not in names:
        raise InvalidInputError(
            f"the EnMAP spectral image {folder.display(image)} is in ENVI format but its header "
            f"({image.rsplit('.', 1)[0]}.HDR) is missing; copy the whole product folder")


def _bad_bands(root: ET.Element, numbers: list) -> tuple:
    """Bad-band flags and why, from the band statistics and the detectors' channel lists."""
    bad = np.zeros(len(numbers), dtype=bool)
    reasons = []
    stats = {}
    for path in ("product/bandStatistics/bandID", "specific/bandStatistics/bandID"):
        for el in root.findall(path):
            try:
                stats[int(el.get("number"))] = float(el.findtext("stdDeviation"))
            except (TypeError, ValueError):
                continue
    if stats:
        constant = np.array([stats.get(n, 1.0) == 0.0 for n in numbers])
        if constant.any():
            reasons.append(f"{int(constant.sum())} constant (filled) per the band statistics")
        bad |= constant
    expected = set(_channel_list(root, "specific/vnirProductQuality/expectedChannelsList"))
    expected |= set(_channel_list(root, "specific/swirProductQuality/expectedChannelsList"))
    if expected:
        missing = np.array([n not in expected for n in numbers])
        if (missing & ~bad).any():
            reasons.append(f"{int((missing & ~bad).sum())} not delivered by either detector")
        bad |= missing
    return bad, reasons


def _resolve(folder: ProductFolder, xml_name: str):
    try:
        root = _strip_namespaces(ET.fromstring(folder.read_text(xml_name)))
    except ET.ParseError as exc:
        raise InvalidInputError(f"the EnMAP metadata {folder.display(xml_name)} is not valid XML ({exc}); is the "
                                "file complete?") from exc
    level = (root.findtext("base/level") or "").strip().upper()
    if level == "L1B":
        raise InvalidInputError(
            f"{folder.display(xml_name)} is an EnMAP L1B product: sensor geometry, VNIR and SWIR in separate "
            "cubes; order or give the L1C or L2A product (orthorectified, one spectral image)")
    bands = root.findall("specific/bandCharacterisation/bandID")
    if not bands:
        raise InvalidInputError(
            f"the EnMAP metadata {folder.display(xml_name)} has no band characterisation "
            "(specific/bandCharacterisation/bandID); is it the METADATA.XML of an EnMAP product?")
    bands.sort(key=lambda el: int(el.get("number") or 0))
    numbers = [int(el.get("number") or i + 1) for i, el in enumerate(bands)]
    wl, fwhm = _floats(bands, "wavelengthCenterOfBand"), _floats(bands, "FWHMOfBand")
    gain, offset = _floats(bands, "GainOfBand"), _floats(bands, "OffsetOfBand")
    gain = np.where(np.isfinite(gain) & (gain != 0), gain, 1.0)
    offset = np.where(np.isfinite(offset), offset, 0.0)
    if not np.all(np.isfinite(wl)):
        raise InvalidInputError(f"the EnMAP metadata {folder.display(xml_name)} lacks some band centre wavelengths")
    stem = xml_name[: -len("-METADATA.XML")]
    image = _spectral_image(folder, stem, root)
    _check_envi_header(folder, image)
    gdal_path = folder.gdal_path(image)
    with open_quietly(gdal_path) as ds:
        if ds.count != len(bands):
            raise InvalidInputError(
                f"the EnMAP spectral image {folder.display(image)} has {ds.count} bands but its METADATA.XML "
                f"describes {len(bands)}; the files belong to different products or one is incomplete")
        width, height, crs, transform, dtype, nodata = (ds.width, ds.height, ds.crs, ds.transform, ds.dtypes[0],
                                                        ds.nodata)
    if nodata is None:
        try:
            nodata = float(root.findtext("specific/backgroundValue"))
        except (TypeError, ValueError):
            nodata = -32768.0 if dtype == "int16" else None
    bad, reasons = _bad_bands(root, numbers)
    fwhm_ok = fwhm if np.all(np.isfinite(fwhm) & (fwhm > 0)) else None
    spectral = SpectralMetadata(wavelengths_nm=wl, fwhm_nm=fwhm_ok, bad_bands=bad)
    sources = [BandSource(gdal_path, i + 1, float(gain[i]), float(offset[i]), f"band {numbers[i]} ({wl[i]:.1f} nm)")
               for i in range(len(bands))]
    vrt = write_vrt(scratch_path(folder.display(image), ".vrt"), sources, width, height, crs, transform, dtype, nodata,
                    spectral, tags={"sensor": "EnMAP", "processing_level": level or "unknown",
                                    "source": folder.display(image)})
    why = f" ({'; '.join(reasons)})" if reasons else ""
    description = (f"EnMAP {level or ''} {stem.rsplit('/', 1)[-1]}: {len(bands)} bands, {wl.min():.0f}-{wl.max():.0f} "
                   f"nm, {int(bad.sum())} flagged bad{why}; gain and offset of METADATA.XML applied")
    from . import ResolvedProduct

    return ResolvedProduct(path=vrt, spectral=spectral, description=" ".join(description.split()))


def resolve_enmap(path: str):
    """The EnMAP product behind ``path`` (its folder, zip, ``METADATA.XML`` or ``SPECTRAL_IMAGE``
    file, on disk or as a ``/vsizip/`` path), or None when ``path`` is no EnMAP product."""
    if not _may_be_enmap(path):
        return None
    where = locate(path)
    if where is None:
        return None
    found = _find_metadata(*where)
    if found is None:
        return None
    folder, xml_name = found
    return cached(folder.identity, f"enmap:{folder.prefix}/{xml_name}", lambda: _resolve(folder, xml_name))
