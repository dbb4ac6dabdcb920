"""Small VRT files that present a product's band files as one raster, with each band's scale and
offset (DN -> physical value, applied by the reader as GDAL scale/offset: nothing is copied) and
the spectral metadata in the conventions :mod:`..wavelengths` reads (ENVI ``wavelength`` /
``fwhm`` / ``bbl`` and GDAL's ``IMAGERY`` domain), so that QGIS shows the same wavelengths.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..wavelengths import SpectralMetadata, format_wavelength_list

_GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
               "int32": "Int32", "float32": "Float32", "float64": "Float64"}


@dataclass(frozen=True)
class BandSource:
    """One band of the VRT: band ``band`` (1-based) of the raster GDAL opens as ``path``, and the
    ``scale`` / ``offset`` that turn its values into physical ones."""

    path: str
    band: int = 1
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""


def _metadata(parent: ET.Element, items: dict, domain: Optional[str] = None) -> None:
    if not items:
        return
    md = ET.SubElement(parent, "Metadata", {"domain": domain} if domain else {})
    for k, v in items.items():
        ET.SubElement(md, "MDI", {"key": k}).text = str(v)


def write_vrt(path: str, sources: Sequence[BandSource], width: int, height: int, crs, transform, dtype: str,
              nodata: Optional[float], spectral: Optional[SpectralMetadata] = None, tags: Optional[dict] = None) -> str:
    """Write a VRT of ``sources`` (all of ``width`` x ``height`` pixels on the grid ``transform`` /
    ``crs``, of type ``dtype``) atomically at ``path``."""
    root = ET.Element("VRTDataset", {"rasterXSize": str(width), "rasterYSize": str(height)})
    if crs is not None:
        ET.SubElement(root, "SRS", {"dataAxisToSRSAxisMapping": "1,2"}).text = crs.to_wkt()
    if transform is not None:
        ET.SubElement(root, "GeoTransform").text = ", ".join(repr(float(v)) for v in transform.to_gdal())
    n = len(sources)
    spectral = spectral or SpectralMetadata()
    wl = spectral.wavelengths_nm
    fw = spectral.fwhm_nm
    items = dict(tags or {})
    if wl is not None and len(wl) == n:
        items["wavelength"] = format_wavelength_list(wl, 3)
        items["wavelength_units"] = "Nanometers"
        if fw is not None and len(fw) == n:
            items["fwhm"] = format_wavelength_list(fw, 3)
    if spectral.bad_bands is not None and len(spectral.bad_bands) == n:
        items["bbl"] = "{" + ", ".join("0" if b else "1" for b in np.asarray(spectral.bad_bands, bool)) + "}"
    _metadata(root, items)
    gdal_type = _GDAL_TYPES[np.dtype(dtype).name]
    for i, src in enumerate(sources):
        band = ET.SubElement(root, "VRTRasterBand", {"dataType": gdal_type, "band": str(i + 1)})
        if src.description:
            ET.SubElement(band, "Description").text = src.description
        if nodata is not None:
            ET.SubElement(band, "NoDataValue").text = repr(float(nodata))
        if src.offset != 0.0 or src.scale != 1.0:
            ET.SubElement(band, "Offset").text = repr(float(src.offset))
            ET.SubElement(band, "Scale").text = repr(float(src.scale))
        if wl is not None and len(wl) == n:
            imagery = {"CENTRAL_WAVELENGTH_UM": f"{wl[i] / 1000.0:.6f}"}
            if fw is not None and len(fw) == n:
                imagery["FWHM_UM"] = f"{fw[i] / 1000.0:.6f}"
            _metadata(band, imagery, "IMAGERY")
        simple = ET.SubElement(band, "SimpleSource")
        ET.SubElement(simple, "SourceFilename", {"relativeToVRT": "0"}).text = src.path
        ET.SubElement(simple, "SourceBand").text = str(src.band)
        rect = {"xOff": "0", "yOff": "0", "xSize": str(width), "ySize": str(height)}
        ET.SubElement(simple, "SrcRect", rect)
        ET.SubElement(simple, "DstRect", rect)
    tmp = path + ".part"
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=False)
    os.replace(tmp, path)
    return path
