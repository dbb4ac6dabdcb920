"""Sensor products read as they are delivered: a product is resolved to a raster GDAL reads (the
product's own file, or a temporary GeoTIFF / VRT made from it) plus its spectral metadata.

:func:`resolve_product` returns None for anything that is not a recognized product; the caller
then opens the path with GDAL as it is (plain files, ``/vsizip/``, subdatasets, VRT).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..wavelengths import SpectralMetadata


@dataclass
class ResolvedProduct:
    """A product as a GDAL-readable raster: ``path`` (opened by GDAL), its spectral metadata, and
    a one-line description for the log (e.g. "EnMAP L2A, 224 bands, 3 flagged bad")."""

    path: str
    spectral: SpectralMetadata
    description: str = ""


def resolve_product(path: str) -> Optional[ResolvedProduct]:
    """The product behind ``path``, or None when ``path`` is no product we recognize."""
    return None
