"""Sensor products read as they are delivered: a product is resolved to a raster GDAL reads (the
product's own file, or a temporary GeoTIFF / VRT made from it) plus its spectral metadata.

:func:`resolve_product` returns None for anything that is not a recognized product; the caller
then opens the path with GDAL as it is (plain files, ``/vsizip/``, subdatasets, VRT).

Recognized (one module each; the module docstrings give the product structure followed and its
sources):

- :mod:`.enmap`: EnMAP L2A (and L1C): the product folder, its zip, ``METADATA.XML`` or
  ``SPECTRAL_IMAGE`` file -> a VRT with gain/offset as scale/offset;
- :mod:`.prisma`: PRISMA L2D: the ``.he5``, its zip or an HDF5 subdataset of it -> a GeoTIFF of
  the VNIR and SWIR cubes joined in wavelength order;
- :mod:`.emit`: EMIT L2A reflectance: the ``.nc`` or its ``reflectance`` subdataset -> a GeoTIFF
  orthorectified through the geolocation table;
- :mod:`.sentinel2`: Sentinel-2 L2A: the ``.SAFE`` folder, its zip, ``MTD_MSIL2A.xml`` or a GDAL
  subdataset of it -> a VRT of the 10 m bands (:func:`sentinel2_20m_stack`: the 20 m bands).

Converted rasters live in one temporary folder per process, removed at exit (:mod:`.scratch`);
each product is converted once per process.
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
    """The product behind ``path``, or None when ``path`` is no product we recognize.

    Raises :class:`~...errors.InvalidInputError` when ``path`` is a product that cannot be used as
    it is (another processing level, an incomplete product), saying what to give instead."""
    from .emit import resolve_emit
    from .enmap import resolve_enmap
    from .prisma import resolve_prisma
    from .sentinel2 import resolve_sentinel2

    for resolve in (resolve_sentinel2, resolve_enmap, resolve_prisma, resolve_emit):
        product = resolve(str(path))
        if product is not None:
            return product
    return None


def sentinel2_20m_stack(path: str) -> Optional[ResolvedProduct]:
    """The 20 m bands (B05, B06, B07, B8A, B11, B12) of the Sentinel-2 L2A product behind ``path``
    (its .SAFE folder, zip, MTD_MSIL2A.xml or a GDAL subdataset of it) as a VRT with their
    wavelengths and the BOA offset / quantification applied; None when ``path`` is no Sentinel-2
    product."""
    from .sentinel2 import sentinel2_20m_stack as stack

    return stack(str(path))


__all__ = ["ResolvedProduct", "resolve_product", "sentinel2_20m_stack"]
