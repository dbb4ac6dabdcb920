"""Spectral metadata of a raster's bands: centre wavelengths, FWHM and the bad-band list.

Read from, in order: ENVI-style dataset tags (``wavelength``, ``wavelength_units``, ``fwhm``,
``bbl``; in the default or the ``ENVI`` domain, as GDAL's ENVI driver and EnMAP-Box keep them),
per-band tags (``wavelength``, ``fwhm``, ``bad_band``), GDAL's imagery metadata
(``IMAGERY/CENTRAL_WAVELENGTH_UM``, ``IMAGERY/FWHM_UM``), and band descriptions such as
``"450 nm"``. Written back in the ENVI dataset tags and the IMAGERY band domain, so QGIS,
EnMAP-Box and GDAL read the fused raster as they read its input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

_UNIT_FACTORS = {
    "nm": 1.0, "nanometer": 1.0, "nanometers": 1.0, "nanometre": 1.0, "nanometres": 1.0,
    "um": 1000.0, "µm": 1000.0, "μm": 1000.0, "micrometer": 1000.0, "micrometers": 1000.0,
    "micrometre": 1000.0, "micrometres": 1000.0, "micron": 1000.0, "microns": 1000.0,
    "mm": 1e6, "millimeter": 1e6, "millimeters": 1e6,
}


@dataclass
class SpectralMetadata:
    """Per-band spectral metadata; each field None when the raster does not say.

    ``wavelengths_nm`` and ``fwhm_nm`` in nanometres; ``bad_bands`` True where a band is flagged
    bad (ENVI ``bbl`` = 0)."""

    wavelengths_nm: Optional[np.ndarray] = None
    fwhm_nm: Optional[np.ndarray] = None
    bad_bands: Optional[np.ndarray] = None


def _unit_factor(units: Optional[str], values: np.ndarray) -> float:
    if units:
        u = units.strip().lower()
        if u in _UNIT_FACTORS:
            return _UNIT_FACTORS[u]
    finite = values[np.isfinite(values)]
    # No (known) unit: values below 100 are micrometres (0.4 .. 2.5), otherwise nanometres.
    return 1000.0 if finite.size and np.nanmax(finite) < 100 else 1.0


def parse_wavelength_list(text: str) -> np.ndarray:
    """Parse an ENVI list ``"{450.0, 460.0}"`` (or a plain comma/space separated list)."""
    parts = [p for p in re.split(r"[,\s]+", str(text).strip().strip("{}[]()")) if p]
    return np.array([float(p) for p in parts], dtype=np.float64)


def format_wavelength_list(values: Sequence[float], digits: int = 2) -> str:
    """ENVI style ``{450.00, 460.00}``."""
    return "{" + ", ".join(f"{float(w):.{digits}f}" for w in values) + "}"


_NUM_UNIT = re.compile(
    r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(nm|nanometers?|nanometres?|um|µm|μm|micrometers?|micrometres?|microns?)\b",
    re.IGNORECASE)
_NUM_ONLY = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


def _wavelength_from_description(desc: Optional[str]) -> Optional[float]:
    if not desc:
        return None
    m = _NUM_UNIT.search(desc)
    if m:
        return float(m.group(1)) * _UNIT_FACTORS.get(m.group(2).lower(), 1.0)
    m = _NUM_ONLY.match(desc)
    if m:
        v = float(m.group(1))
        return v * 1000.0 if v < 100 else v
    return None


def _dataset_tags(ds) -> list[dict]:
    """The dataset's tags in the default and the ENVI domain, keys lower-cased."""
    out = []
    for ns in (None, "ENVI"):
        try:
            tags = ds.tags(ns=ns) if ns else ds.tags()
        except Exception:  # noqa: BLE001 - unknown domain
            continue
        out.append({k.lower(): v for k, v in tags.items()})
    return out


def _list_tag(tag_sets: list[dict], key: str, n: int) -> Optional[np.ndarray]:
    for low in tag_sets:
        if key in low:
            try:
                values = parse_wavelength_list(low[key])
            except ValueError:
                continue
            if values.size == n:
                return values
    return None


def _units(tag_sets: list[dict]) -> Optional[str]:
    for low in tag_sets:
        u = low.get("wavelength_units") or low.get("wavelength units")
        if u:
            return u
    return None


def _per_band(ds, key: str, ns: Optional[str] = None) -> Optional[list]:
    """``key`` of every band's tags (domain ``ns``) as floats, or None if any band lacks it."""
    vals, units = [], None
    for b in range(1, ds.count + 1):
        try:
            t = {k.lower(): v for k, v in (ds.tags(b, ns=ns) if ns else ds.tags(b)).items()}
        except Exception:  # noqa: BLE001 - unknown domain
            return None
        if key.lower() not in t:
            return None
        try:
            vals.append(float(t[key.lower()]))
        except ValueError:
            return None
        units = units or t.get("wavelength_units")
    return [vals, units] if ds.count else None


def wavelengths_from_dataset(ds) -> Optional[np.ndarray]:
    """Band centre wavelengths in nm of an open rasterio dataset, or None when unknown (see the
    module docstring for where they are looked up)."""
    n = ds.count
    tag_sets = _dataset_tags(ds)
    wl = _list_tag(tag_sets, "wavelength", n)
    if wl is not None:
        return wl * _unit_factor(_units(tag_sets), wl)
    found = _per_band(ds, "wavelength")
    if found is not None:
        wl = np.array(found[0])
        return wl * _unit_factor(found[1], wl)
    found = _per_band(ds, "CENTRAL_WAVELENGTH_UM", "IMAGERY")
    if found is not None:
        return np.array(found[0]) * 1000.0
    vals = [_wavelength_from_description(d) for d in ds.descriptions]
    if n and all(v is not None for v in vals):
        return np.array(vals, dtype=np.float64)
    return None


def fwhm_from_dataset(ds) -> Optional[np.ndarray]:
    """Band widths (FWHM) in nm, or None. ENVI keeps wavelengths and FWHM in one unit
    (``wavelength_units``); without a unit, widths below 1 are micrometres."""
    n = ds.count
    tag_sets = _dataset_tags(ds)
    fw = _list_tag(tag_sets, "fwhm", n)
    if fw is None:
        found = _per_band(ds, "fwhm")
        fw = None if found is None else np.array(found[0])
    if fw is not None:
        units = _units(tag_sets)
        if units and units.strip().lower() in _UNIT_FACTORS:
            return fw * _UNIT_FACTORS[units.strip().lower()]
        return fw * (1000.0 if np.all(np.isfinite(fw)) and np.nanmax(fw) < 1.0 else 1.0)
    found = _per_band(ds, "FWHM_UM", "IMAGERY")
    return None if found is None else np.array(found[0]) * 1000.0


def bad_bands_from_dataset(ds) -> Optional[np.ndarray]:
    """True where a band is flagged bad (ENVI ``bbl`` list with 0 = bad, or per-band
    ``bad_band`` / ``bbl`` tags); None when the raster has no such list."""
    n = ds.count
    bbl = _list_tag(_dataset_tags(ds), "bbl", n)
    if bbl is not None:
        return bbl == 0
    found = _per_band(ds, "bbl")
    if found is not None:
        return np.array(found[0]) == 0
    found = _per_band(ds, "bad_band")
    if found is not None:
        return np.array(found[0]) != 0
    return None


def spectral_metadata(ds) -> SpectralMetadata:
    """Wavelengths, FWHM and bad-band flags of an open rasterio dataset."""
    wl = wavelengths_from_dataset(ds)
    return SpectralMetadata(wl, fwhm_from_dataset(ds), bad_bands_from_dataset(ds))


def _finite_of_size(values, n: int) -> Optional[np.ndarray]:
    if values is None:
        return None
    a = np.asarray(values, dtype=np.float64).ravel()
    return a if a.size == n and np.all(np.isfinite(a)) else None


def write_band_metadata(ds, bands: int, wavelengths_nm=None, descriptions=None, extra_tags=None,
                        fwhm_nm=None, bad_bands=None) -> None:
    """Write the spectral metadata and band descriptions into an open, writable rasterio dataset.

    Wavelengths go into the ENVI-style dataset tags ``wavelength`` / ``wavelength_units`` and
    ``IMAGERY/CENTRAL_WAVELENGTH_UM``; FWHM into ``fwhm`` and ``IMAGERY/FWHM_UM``; bad bands into
    ``bbl`` (1 = good, 0 = bad). Bands without a description are named by their wavelength."""
    tags = dict(extra_tags or {})
    wl = _finite_of_size(wavelengths_nm, bands)
    fw = _finite_of_size(fwhm_nm, bands)
    if wl is not None:
        tags["wavelength"] = format_wavelength_list(wl)
        tags["wavelength_units"] = "Nanometers"
        if fw is not None:
            tags["fwhm"] = format_wavelength_list(fw)
    if bad_bands is not None and np.asarray(bad_bands).size == bands:
        tags["bbl"] = "{" + ", ".join("0" if b else "1" for b in np.asarray(bad_bands, dtype=bool)) + "}"
    for b in range(bands):
        band_tags = {}
        if wl is not None:
            band_tags["CENTRAL_WAVELENGTH_UM"] = f"{wl[b] / 1000.0:.6f}"
            if fw is not None:
                band_tags["FWHM_UM"] = f"{fw[b] / 1000.0:.6f}"
        if band_tags:
            ds.update_tags(b + 1, ns="IMAGERY", **band_tags)
    if tags:
        ds.update_tags(**tags)
    for b in range(bands):
        d = descriptions[b] if descriptions is not None and b < len(descriptions) else None
        if not d and wl is not None:
            d = f"{wl[b]:.1f} nm"
        if d:
            ds.set_band_description(b + 1, str(d))
