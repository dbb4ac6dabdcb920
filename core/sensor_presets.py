"""Sensor presets: starting responses of common multispectral sensors and nominal band centres of
hyperspectral ones (QGIS-free).

Multispectral presets give starting responses when no response file is given: the published
response tables of Sentinel-2 and Landsat 8 OLI (:func:`.sensor_bands.published_response`) seen
through each HSI band (:func:`band_response`), Gaussians (``responses.gaussian_srf``, from the band
tables of :mod:`.sensor_bands`) for the generic RGB camera and for bands of no known sensor;
hyperspectral presets give nominal band centres when an HSI raster carries no wavelength metadata.

- EnMAP, PRISMA, Hyperion: nominal spectral range and sampling of each spectrometer (VNIR and SWIR
  parts), band centres spaced evenly over each range; actual band centres vary slightly per
  detector column and product version, so these are starting values only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from .errors import InvalidInputError
from .sensor_bands import LANDSAT_OLI_BANDS, RGB_BANDS, SENTINEL2_BANDS, Band, published_response  # noqa: F401

_S2 = {b.name: b for b in SENTINEL2_BANDS}
_OLI = {b.name.split()[0]: b for b in LANDSAT_OLI_BANDS}

# ----------------------------------------------------------------------------------------------
# Multispectral sensors
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MsiPreset:
    """A multispectral sensor: one or more band sets (variants) told apart by their band count."""

    key: str
    label: str
    variants: tuple  # tuples of Band, in the product's band order

    def variant(self, count: int) -> Optional[tuple]:
        for v in self.variants:
            if len(v) == count:
                return v
        return None

    @property
    def counts(self) -> List[int]:
        return [len(v) for v in self.variants]


MSI_PRESETS = (
    MsiPreset("sentinel2_10m", "Sentinel-2A/2B MSI, 10 m bands (B2, B3, B4, B8)",
              (tuple(_S2[n] for n in ("B2", "B3", "B4", "B8")),)),
    MsiPreset("sentinel2_all", "Sentinel-2A/2B MSI, all 13 bands (12 without B10, as in L2A)",
              (SENTINEL2_BANDS, tuple(b for b in SENTINEL2_BANDS if b.name != "B10"))),
    MsiPreset("landsat_oli", "Landsat 8/9 OLI, reflective bands (B1-B7, or B1-B7 + B9 cirrus)",
              (tuple(_OLI[f"B{i}"] for i in range(1, 8)), tuple(_OLI[f"B{i}"] for i in (1, 2, 3, 4, 5, 6, 7, 9)))),
    MsiPreset("rgb", "Generic RGB camera (red, green, blue)", (RGB_BANDS,)),
)
MSI_PRESET_BY_KEY = {p.key: p for p in MSI_PRESETS}

#: values of the MSI_SENSOR parameter (the first two are not sensors).
MSI_SENSOR_OPTIONS = ["auto", "none"] + [p.key for p in MSI_PRESETS]
#: default width of a Gaussian response built from an MSI band centre alone.
DEFAULT_FWHM_NM = 40.0


# ----------------------------------------------------------------------------------------------
# Hyperspectral sensors
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HsiPreset:
    key: str
    label: str
    segments: tuple  # (first centre nm, last centre nm, band count) per spectrometer, in product order

    def wavelengths(self) -> np.ndarray:
        return np.concatenate([np.linspace(a, b, n) for a, b, n in self.segments])

    @property
    def count(self) -> int:
        return int(sum(n for _, _, n in self.segments))


HSI_PRESETS = (
    # EnMAP: VNIR 420-1000 nm (~6.5 nm sampling), SWIR 900-2450 nm (~10 nm): 224 bands in L2A products.
    HsiPreset("enmap", "EnMAP HSI (224 bands, 420-2450 nm)", ((420.0, 1000.0, 91), (900.0, 2450.0, 133))),
    # PRISMA: VNIR 400-1010 nm (66 bands), SWIR 920-2505 nm (173 bands), <= 12 nm sampling.
    HsiPreset("prisma", "PRISMA (239 bands, 400-2505 nm)", ((400.0, 1010.0, 66), (920.0, 2505.0, 173))),
    # Hyperion: VNIR bands 1-70 (355.6-1057.7 nm), SWIR bands 71-242 (851.9-2577.1 nm), ~10 nm.
    HsiPreset("hyperion", "EO-1 Hyperion (242 bands, 357-2576 nm)", ((355.6, 1057.7, 70), (851.9, 2577.1, 172))),
)
HSI_PRESET_BY_KEY = {p.key: p for p in HSI_PRESETS}
HSI_SENSOR_OPTIONS = ["auto", "none"] + [p.key for p in HSI_PRESETS]


# ----------------------------------------------------------------------------------------------
# Detection and responses
# ----------------------------------------------------------------------------------------------


def _tolerance(band: Band) -> float:
    """How far a band's stated centre may lie from the nominal one and still be that band."""
    return max(12.0, 0.3 * band.fwhm_nm)


def match_bands(centres_nm: Sequence[float], bands: Sequence[Band]) -> Optional[List[Band]]:
    """The band of ``bands`` nearest each centre (in the given order) when every centre lies within
    tolerance of a distinct band; else None."""
    out, used = [], set()
    for c in centres_nm:
        if c is None or not np.isfinite(c):
            return None
        best = min(((abs(b.centre_nm - c), i) for i, b in enumerate(bands) if i not in used), default=None)
        if best is None or best[0] > _tolerance(bands[best[1]]):
            return None
        used.add(best[1])
        out.append(bands[best[1]])
    return out


def detect_msi_sensor(centres_nm: Optional[Sequence[float]]) -> Optional[tuple]:
    """``(preset, bands)`` of the preset whose band count and centres match ``centres_nm`` (in the
    raster's band order), or None."""
    if centres_nm is None:
        return None
    c = np.asarray(centres_nm, dtype=float)
    if c.size == 0 or not np.all(np.isfinite(c)):
        return None
    for preset in MSI_PRESETS:
        v = preset.variant(c.size)
        if v is None:
            continue
        bands = match_bands(c, v)
        if bands is not None:
            return preset, bands
    return None


def known_bands(centres_nm: Sequence[float]) -> Optional[tuple]:
    """``(sensor label, bands)`` when every centre is a band of one known sensor (a subset, e.g. the
    Sentinel-2 B2-B8A stack); else None."""
    for label, table in (("Sentinel-2 MSI (band subset)", SENTINEL2_BANDS),
                         ("Landsat 8/9 OLI (band subset)", LANDSAT_OLI_BANDS)):
        bands = match_bands(centres_nm, table)
        if bands is not None:
            return label, bands
    return None


def detect_hsi_sensor(band_count: int) -> Optional[HsiPreset]:
    for p in HSI_PRESETS:
        if p.count == band_count:
            return p
    return None


def _spacing(wl: np.ndarray) -> np.ndarray:
    """The local sampling interval of each HSI band (nm)."""
    if wl.size < 2:
        return np.full(wl.shape, 10.0)
    order = np.argsort(wl)
    local = np.empty(wl.size)
    local[order] = np.gradient(wl[order])
    positive = local[local > 0]
    return np.where(local > 0, local, np.median(positive) if positive.size else 10.0)


def band_response(curve_nm: np.ndarray, curve: np.ndarray, hsi_wavelengths_nm: np.ndarray,
                  hsi_fwhm_nm: Optional[np.ndarray] = None) -> np.ndarray:
    """How much of an MSI band's tabulated response (``curve`` at ``curve_nm``, 1 nm) each HSI band
    sees: the response integrated against a unit-area Gaussian of each HSI band's FWHM, or, when
    the FWHM is unknown, the response at each HSI band centre (a band narrower than the HSI's
    sampling that falls between two centres is integrated with FWHM = the local sampling instead)."""
    wl = np.asarray(hsi_wavelengths_nm, dtype=np.float64)
    if hsi_fwhm_nm is None:
        row = np.interp(wl, curve_nm, curve, left=0.0, right=0.0)
        if row.sum() > 0:
            return row
        hsi_fwhm_nm = _spacing(wl)
    fw = np.asarray(hsi_fwhm_nm, dtype=np.float64)
    step = np.gradient(curve_nm) if curve_nm.size > 1 else np.ones(1)
    g = np.exp(-4.0 * np.log(2.0) * (curve_nm[None, :] - wl[:, None]) ** 2 / fw[:, None] ** 2)
    area = fw * np.sqrt(np.pi / (4.0 * np.log(2.0)))  # of each Gaussian: unit-area HSI responses
    return (g * (curve * step)[None, :]).sum(axis=1) / area


def _usable_fwhm(hsi_fwhm_nm, n: int) -> Optional[np.ndarray]:
    if hsi_fwhm_nm is None:
        return None
    fw = np.asarray(hsi_fwhm_nm, dtype=np.float64).ravel()
    return fw if fw.size == n and np.all(np.isfinite(fw)) and np.all(fw > 0) else None


def preset_srf(bands: Sequence[Band], hsi_wavelengths_nm: Sequence[float],
               hsi_fwhm_nm: Optional[Sequence[float]] = None) -> np.ndarray:
    """Responses of ``bands`` at the HSI bands (rows = bands, summing to 1): each band's published
    response where it has one (:func:`band_response`, with the HSI bands' FWHM when known), else a
    Gaussian of its centre and FWHM."""
    from .responses import gaussian_srf, srf_from_table

    wl = np.asarray(hsi_wavelengths_nm, dtype=float)
    if np.any(~np.isfinite(wl)):
        raise InvalidInputError("HSI wavelengths are unknown (NaN); the sensor presets need them")
    lo, hi = np.nanmin(wl), np.nanmax(wl)
    outside = [b.name for b in bands if b.centre_nm + b.fwhm_nm < lo or b.centre_nm - b.fwhm_nm > hi]
    if outside:
        raise InvalidInputError(
            f"MSI band(s) {', '.join(outside)} lie outside the HSI's wavelengths ({lo:.0f}-{hi:.0f} nm): their "
            "responses cannot be built from the HSI bands; choose another MSI sensor, 'none', or remove those bands")
    fw = _usable_fwhm(hsi_fwhm_nm, wl.size)
    rows = []
    for b in bands:
        curve = published_response(b)
        if curve is None:
            rows.append(gaussian_srf([b.centre_nm], [b.fwhm_nm], wl)[0])
        else:
            rows.append(band_response(curve[0], curve[1], wl, fw))
    return srf_from_table(np.array(rows), len(bands), wl.size)


def response_kind(bands: Sequence[Band]) -> str:
    """How :func:`preset_srf` builds the responses of ``bands``, for messages."""
    published = [published_response(b) is not None for b in bands]
    if all(published):
        return "published responses"
    if any(published):
        return "published and Gaussian responses"
    return "Gaussian responses"


@dataclass
class StartingResponse:
    """What the presets resolved to: ``srf`` (or None: estimated from the data), HSI wavelengths to use
    (or None: keep the raster's), and messages for the log."""

    srf: Optional[np.ndarray] = None
    hsi_wavelengths_nm: Optional[np.ndarray] = None
    source: str = "estimated from the data"
    messages: list = field(default_factory=list)


def resolve_hsi_wavelengths(hsi_wavelengths_nm, hsi_bands: int, hsi_sensor: str = "auto"):
    """``(wavelengths or None, message or None)``: the raster's own wavelengths when it has them,
    else those of ``hsi_sensor`` (``auto``: the sensor with this band count)."""
    key = (hsi_sensor or "auto").lower()
    wl = None if hsi_wavelengths_nm is None else np.asarray(hsi_wavelengths_nm, dtype=float)
    if wl is not None and wl.size == hsi_bands and np.all(np.isfinite(wl)):
        return wl, None
    if key == "none":
        return None, None
    if key == "auto":
        p = detect_hsi_sensor(hsi_bands)
        if p is None:
            return None, None
        return p.wavelengths(), f"the HSI has no wavelengths; its {hsi_bands} bands are taken as {p.label}"
    p = HSI_PRESET_BY_KEY.get(key)
    if p is None:
        raise InvalidInputError(f"unknown HSI sensor '{hsi_sensor}' (one of {', '.join(HSI_SENSOR_OPTIONS)})")
    if p.count != hsi_bands:
        raise InvalidInputError(
            f"HSI_SENSOR={key}: {p.label} has {p.count} bands but the HSI has {hsi_bands}; choose 'auto' or 'none' "
            "or give the raster its wavelengths")
    return p.wavelengths(), f"the HSI has no wavelengths; using the nominal band centres of {p.label}"


def starting_response(msi_sensor: str, hsi_wavelengths_nm, hsi_bands: int, msi_wavelengths_nm, msi_bands: int,
                      hsi_sensor: str = "auto", hsi_fwhm_nm=None) -> StartingResponse:
    """Resolve the MSI_SENSOR / HSI_SENSOR parameters into a starting response.

    - ``none``: no preset (the response is estimated from the data alone).
    - a preset key: its responses (:func:`preset_srf`: published tables for Sentinel-2 and
      Landsat, seen through each HSI band's FWHM ``hsi_fwhm_nm`` when known; the variant with the
      MSI's band count; the bands taken in the preset's order, or matched by the MSI's wavelengths
      when it has them).
    - ``auto``: the preset detected from the MSI's wavelengths (band count and centres); else, when
      every MSI band is a band of a known sensor, those bands; else Gaussians of
      :data:`DEFAULT_FWHM_NM` at the MSI's centres; nothing when the MSI has no wavelengths.
    The HSI needs wavelengths (its own or from ``hsi_sensor``) for any preset response.
    """
    key = (msi_sensor or "auto").lower()
    out = StartingResponse()
    wl, msg = resolve_hsi_wavelengths(hsi_wavelengths_nm, hsi_bands, hsi_sensor)
    if msg:
        out.messages.append(msg)
        out.hsi_wavelengths_nm = wl
    if key == "none":
        return out
    mwl = None if msi_wavelengths_nm is None else np.asarray(msi_wavelengths_nm, dtype=float)
    if mwl is not None and (mwl.size != msi_bands or not np.all(np.isfinite(mwl))):
        mwl = None
    if key != "auto":
        preset = MSI_PRESET_BY_KEY.get(key)
        if preset is None:
            raise InvalidInputError(f"unknown MSI sensor '{msi_sensor}' (one of {', '.join(MSI_SENSOR_OPTIONS)})")
        variant = preset.variant(msi_bands)
        if variant is None:
            raise InvalidInputError(
                f"MSI_SENSOR={key}: {preset.label} has {' or '.join(map(str, preset.counts))} bands but the MSI has "
                f"{msi_bands}; choose 'auto' or 'none' or give a response file")
        bands = (match_bands(mwl, variant) if mwl is not None else None) or list(variant)
        if wl is None:
            raise InvalidInputError(
                f"MSI_SENSOR={key} needs the HSI's wavelengths, which the HSI raster does not carry: set HSI_SENSOR "
                "or add wavelength metadata to the HSI")
        out.srf = preset_srf(bands, wl, hsi_fwhm_nm)
        out.source = f"{preset.label}: {response_kind(bands)} ({', '.join(b.name for b in bands)})"
        return out
    # auto
    if mwl is None:
        out.messages.append("MSI_SENSOR=auto: the MSI carries no wavelengths; the response is estimated from the "
                            "data alone")
        return out
    if wl is None:
        out.messages.append("MSI_SENSOR=auto: the HSI carries no wavelengths (set HSI_SENSOR); the response is "
                            "estimated from the data alone")
        return out
    found = detect_msi_sensor(mwl)
    if found is not None:
        preset, bands = found
        out.source = f"{preset.label} (detected from the MSI wavelengths): {response_kind(bands)}"
    else:
        sub = known_bands(mwl)
        if sub is not None:
            label, bands = sub
            out.source = f"{label} (detected from the MSI wavelengths): {response_kind(bands)}"
        else:
            bands = [Band(f"{c:.0f} nm", float(c), DEFAULT_FWHM_NM) for c in mwl]
            out.source = f"Gaussian responses at the MSI's band centres, FWHM {DEFAULT_FWHM_NM:.0f} nm"
    try:
        out.srf = preset_srf(bands, wl, hsi_fwhm_nm)
    except InvalidInputError as exc:
        out.messages.append(f"MSI_SENSOR=auto: {exc}; the response is estimated from the data alone")
        out.source = "estimated from the data"
        out.srf = None
    if out.srf is not None:
        out.messages.append(f"starting spectral response: {out.source}")
    return out


def option_labels(options: Sequence[str]) -> List[str]:
    """Human labels of parameter option keys (for help texts)."""
    labels = {"auto": "auto", "none": "none"}
    labels.update({p.key: p.label for p in MSI_PRESETS})
    labels.update({p.key: p.label for p in HSI_PRESETS})
    return [labels.get(o, o) for o in options]
