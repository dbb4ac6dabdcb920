"""Reading a run's inputs: the checked pair, the starting response, the starting degradation.

The pair's geometry is checked once, from metadata, before any side file or pixel is read; the
pixels are read with NaN where they are invalid (the core fills them, once); the sensor presets
(MSI_SENSOR / HSI_SENSOR) give the starting response when no file does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from .. import io, sensor_presets
from ..errors import InvalidInputError
from ..kernels import kernel_from_array
from ..progress import Cancel, check_cancelled
from ..responses import normalize_rows
from ..results import Degradation, EstimationDiagnostics


@dataclass
class Inputs:
    """A loaded pair and its starting points, with what the user should be told about them."""

    pair: io.PairData
    srf: Optional[np.ndarray] = None            # starting response (rows = MSI bands)
    degradation: Optional[Degradation] = None   # starting K and P from a degradation file
    degradation_msi_mtf: float = 1.0             # the MSI_MTF that file's kernel was estimated after
    srf_source: str = "estimated from the data"
    warnings: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    read_seconds: float = 0.0
    #: the HSI file's metadata, all its bands (``pair.hsi`` holds the bands that take part)
    hsi_file: Optional[io.RasterInfo] = None
    #: which of the file's HSI bands take part (False: flagged bad or nodata everywhere)
    kept_bands: Optional[np.ndarray] = None
    #: how the MSI was read: None (as it is) or the warp onto the HSI-aligned grid
    msi_warp: Optional[io.MsiWarp] = None
    #: the MSI file's own metadata (its grid and CRS, before any warp)
    msi_file: Optional[io.RasterInfo] = None

    @property
    def scale(self) -> int:
        return self.pair.scale

    @property
    def hsi_wavelengths(self) -> Optional[np.ndarray]:
        return self.pair.hsi.wavelengths_nm

    @property
    def msi_names(self) -> list[str]:
        return self.pair.msi.band_names

    def masks(self) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """The HSI mask (per band where pixels are valid in some bands only) and the MSI mask,
        None where every pixel is valid."""
        hsi, mv = self.pair.hsi, self.pair.msi.valid
        hv = hsi.band_valid if hsi.band_valid is not None else (None if hsi.valid.all() else hsi.valid)
        return hv, (None if mv.all() else mv)

    def valid_hr(self) -> np.ndarray:
        """Where the fused image has values: the MSI is valid and the HSI pixel above it is valid in
        some band (the bands where it is not come out nodata there)."""
        s = self.scale
        hsi = self.pair.hsi
        any_valid = hsi.valid if hsi.band_valid is None else hsi.band_valid.any(axis=0)
        hv = np.kron(any_valid.astype(np.uint8), np.ones((s, s), np.uint8)).astype(bool)
        mv = self.pair.msi.valid
        h, w = min(hv.shape[0], mv.shape[0]), min(hv.shape[1], mv.shape[1])
        out = np.zeros_like(mv)
        out[:h, :w] = hv[:h, :w] & mv[:h, :w]
        return out

    def fused_bytes(self) -> int:
        """Upper bound of the fused GeoTIFF's size (all the file's HSI bands on the MSI grid)."""
        _, h, w = self.pair.msi.data.shape
        return io.raster_output_bytes(self.file_bands, h, w)

    @property
    def file_bands(self) -> int:
        """The HSI file's band count (the fused image has them all, bad ones as nodata)."""
        return self.hsi_file.count if self.hsi_file is not None else self.pair.hsi.data.shape[0]

    def to_file_bands(self, values: np.ndarray, fill=np.nan, axis: int = 0) -> np.ndarray:
        """``values`` over the kept bands (along ``axis``) spread over all the file's bands, ``fill``
        for the bands left out."""
        if self.kept_bands is None or self.kept_bands.all():
            return values
        values = np.asarray(values)
        shape = list(values.shape)
        shape[axis] = self.kept_bands.size
        out = np.full(shape, fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
        index = [slice(None)] * values.ndim
        index[axis] = self.kept_bands
        out[tuple(index)] = values
        return out


def degradation_from_spec(spec: io.DegradationSpec) -> Degradation:
    """A core ``Degradation`` (the starting point of ``fuse``) from a read JSON."""
    k = kernel_from_array(spec.kernel)
    p = normalize_rows(spec.srf)
    gain = np.ones(p.shape[0]) if spec.msi_gain is None else np.asarray(spec.msi_gain, dtype=np.float64)
    return Degradation(kernel=k, srf=p, scale=spec.scale, msi_gain=gain, initial_kernel=k.copy(),
                       initial_srf=p.copy(), diagnostics=EstimationDiagnostics(source="degradation file"))


def load_inputs(hsi_path: str, msi_path: str, scale: int = 0, srf_path: Optional[str] = None,
                degradation_path: Optional[str] = None, msi_sensor: str = "auto", hsi_sensor: str = "auto",
                cancel: Optional[Cancel] = None, msi2_path: Optional[str] = None, snap_offset: bool = False) -> Inputs:
    """Check and read the inputs of a fusion or an estimation (``cancel()`` True stops between the
    reads). Side files (SRF, degradation) are checked before any pixel is read. A second, coarser
    MSI (``msi2_path``) is sharpened onto the MSI's grid and joins its bands. ``snap_offset``: an
    MSI whose grid is only offset from the HSI's is read as it is (``io.pair_grid``)."""
    t0 = time.perf_counter()
    hi, mi = io.raster_info(hsi_path), io.raster_info(msi_path)
    m2i, m2_keep = second_msi(msi_path, msi2_path, hi)
    msi_bands = msi_band_count(hi, mi, m2i, m2_keep)
    grid = io.pair_grid(hi, mi, scale, snap_offset)
    srf = io.read_srf_csv(srf_path, msi_bands, hi.count, hi.wavelengths_nm) if srf_path else None
    spec = None
    if degradation_path:
        spec = io.read_degradation(degradation_path, scale=grid.scale, hsi_bands=hi.count, msi_bands=msi_bands)
    pair = io.read_pair(hi, mi, grid, cancel, fill_invalid=False)
    if m2i is not None:
        check_cancelled(cancel)
        pair.msi, message = _with_second_msi(pair.msi, m2i, m2_keep)
        pair.warnings.append(message)
    inputs = Inputs(pair=pair, warnings=list(pair.warnings), hsi_file=hi, msi_warp=grid.msi_warp, msi_file=mi)
    inputs.messages += [f"{role}: {info.product}" for info, role in ((hi, "HSI"), (mi, "MSI"), (m2i, "MSI2"))
                        if info is not None and info.product]
    wl, message = sensor_presets.resolve_hsi_wavelengths(hi.wavelengths_nm, hi.count, (hsi_sensor or "auto").lower())
    if message:
        hi.wavelengths_nm = np.asarray(wl, dtype=float)
        inputs.messages.append(message)
    _leave_out_bad_bands(inputs)
    kept = inputs.kept_bands
    if srf is not None:
        inputs.srf = normalize_rows(srf[:, kept])
    if spec is not None:
        inputs.degradation = degradation_from_spec(replace(spec, srf=spec.srf[:, kept]))
        inputs.degradation_msi_mtf = spec.msi_mtf
    for d, role in ((inputs.pair.hsi, "HSI"), (pair.msi, "MSI")):
        bad = int((~d.valid).sum())
        if bad and d.band_valid is not None:
            inputs.warnings.append(
                f"{bad} of {d.valid.size} {role} pixels are nodata in some bands only: left out of those bands' "
                "terms; the output is nodata in those bands there")
        elif bad:
            inputs.warnings.append(
                f"{bad} of {d.valid.size} {role} pixels are nodata, masked, NaN or Inf: left out of the "
                "estimation; the output is nodata there")
    _apply_sensor_presets(inputs, msi_sensor, hsi_sensor)
    inputs.read_seconds = time.perf_counter() - t0
    return inputs


def second_msi(msi_path: str, msi2_path: Optional[str],
               hsi: io.RasterInfo) -> tuple[Optional[io.RasterInfo], Optional[np.ndarray]]:
    """The second MSI (the one given, or a Sentinel-2 product's 20 m bands) and which of its bands
    join the MSI's (those within the HSI's wavelengths); ``(None, None)`` when there is none."""
    m2i = io.raster_info(msi2_path) if msi2_path else _sentinel2_20m_bands(msi_path)
    if m2i is None:
        return None, None
    keep = _within_hsi_range(m2i, hsi)
    if not keep.any():
        if msi2_path:
            raise InvalidInputError(f"no band of the second MSI {m2i.name} lies within the HSI's wavelengths")
        return None, None
    return m2i, keep


def msi_band_count(hsi: io.RasterInfo, msi: io.RasterInfo, second: Optional[io.RasterInfo],
                   keep: Optional[np.ndarray]) -> int:
    """The MSI bands the fusion sees (the MSI's and the second MSI's that join), checked against
    the HSI's."""
    count = msi.count + (int(keep.sum()) if second is not None else 0)
    if second is not None and count >= hsi.count:
        raise InvalidInputError(
            f"the MSI ({msi.count} bands) and the second MSI ({int(keep.sum())} bands) have {count} bands together, "
            f"the HSI {hsi.count}: the hyperspectral image must have more bands than the multispectral ones")
    return count


def _sentinel2_20m_bands(msi_path: str) -> Optional[io.RasterInfo]:
    """A Sentinel-2 L2A product given as the MSI brings its 20 m bands as the second MSI."""
    from ..io.products import sentinel2_20m_stack

    try:
        stack = sentinel2_20m_stack(msi_path)
    except InvalidInputError:      # an incomplete product: its 10 m bands still make an MSI
        return None
    if stack is None:
        return None
    info = io.raster_info(stack.path)
    return replace(info, wavelengths_nm=stack.spectral.wavelengths_nm, fwhm_nm=stack.spectral.fwhm_nm,
                   source=str(msi_path), product=stack.description or "Sentinel-2 L2A, 20 m bands")


def _within_hsi_range(second: io.RasterInfo, hsi: io.RasterInfo) -> np.ndarray:
    """Which of the second MSI's bands have their centre within the HSI's wavelengths (a band
    beyond them cannot be explained by the HSI's bands); all when either has no wavelengths."""
    wl, hwl = second.wavelengths_nm, hsi.wavelengths_nm
    if wl is None or hwl is None:
        return np.ones(second.count, bool)
    return (wl >= np.nanmin(hwl)) & (wl <= np.nanmax(hwl))


def _with_second_msi(msi: io.RasterData, second: io.RasterInfo, keep: np.ndarray) -> tuple[io.RasterData, str]:
    """The MSI with a coarser MSI's bands (those in ``keep``) sharpened onto its grid and appended."""
    from ..sharpening import sharpen_coarse_bands
    from ..windows import Window

    height, width = msi.data.shape[1:]
    s2, warp = io.coarse_grid(None, msi.crs, msi.transform, (height, width), second)
    coarse = io.read_raster(second.path, Window(0, 0, warp.height, warp.width), second, fill_invalid=False,
                            warp=warp).bands(keep)
    second = coarse.info
    if not coarse.valid.any():
        raise InvalidInputError(f"the second MSI {second.name} has no valid pixel over the MSI's area: do they show "
                                "the same place?")
    if s2 > 1:
        extra = sharpen_coarse_bands(coarse.data, coarse.valid, msi.data, msi.valid, s2)
        how = f"sharpened from pixels {s2} times the MSI's onto its grid"
    else:
        extra = coarse.data[:, :height, :width]
        how = "read onto the MSI's grid"
    valid = msi.valid & np.isfinite(extra).all(axis=0)
    wl = None
    if msi.wavelengths_nm is not None and second.wavelengths_nm is not None:
        wl = np.concatenate([msi.wavelengths_nm, second.wavelengths_nm])
    names = list(msi.info.descriptions) + [d or f"{second.name} band {i + 1}" for i, d in enumerate(second.descriptions)]
    info = replace(msi.info, count=msi.info.count + second.count, wavelengths_nm=wl, descriptions=names)
    data = np.concatenate([msi.data, np.nan_to_num(extra, nan=0.0)])
    data[:, ~valid] = np.nan
    message = (f"the second MSI's {second.count} bands ({second.name}) are {how} and join the MSI's "
               f"{msi.data.shape[0]}")
    if not keep.all():
        message += f" ({int((~keep).sum())} of its bands lie beyond the HSI's wavelengths and are left out)"
    return replace(msi, data=data, valid=valid, info=info, band_valid=None), message


def _leave_out_bad_bands(inputs: Inputs) -> None:
    """HSI bands flagged bad (ENVI ``bbl``, a product's metadata) or nodata everywhere in the common
    area take no part in the fusion; the output has them as nodata bands."""
    hsi = inputs.pair.hsi
    n = hsi.data.shape[0]
    flagged = np.zeros(n, bool) if hsi.info.bad_bands is None else np.asarray(hsi.info.bad_bands, bool)
    empty = ~hsi.band_valid.any(axis=(1, 2)) if hsi.band_valid is not None else np.zeros(n, bool)
    if not hsi.valid.any() and hsi.band_valid is None:
        empty = np.ones(n, bool)
    kept = ~(flagged | empty)
    inputs.kept_bands = kept
    if kept.all():
        return
    if kept.sum() < 2:
        raise InvalidInputError(
            f"only {int(kept.sum())} of the HSI's {n} bands are usable ({int(flagged.sum())} flagged bad, "
            f"{int((empty & ~flagged).sum())} nodata everywhere): fusion needs a spectrum")
    wl = hsi.wavelengths_nm

    def names(mask):
        idx = np.flatnonzero(mask)
        shown = [f"{wl[i]:.0f} nm" if wl is not None else f"band {i + 1}" for i in idx[:12]]
        return ", ".join(shown) + (f" and {idx.size - 12} more" if idx.size > 12 else "")

    parts = []
    if flagged.any():
        parts.append(f"{int(flagged.sum())} flagged bad ({names(flagged)})")
    if (empty & ~flagged).any():
        parts.append(f"{int((empty & ~flagged).sum())} nodata everywhere ({names(empty & ~flagged)})")
    inputs.warnings.append(f"HSI bands left out of the fusion: {'; '.join(parts)}; the fused image has them as "
                           "nodata bands")
    inputs.pair.hsi = hsi.bands(kept)


def _apply_sensor_presets(inputs: Inputs, msi_sensor: str, hsi_sensor: str) -> None:
    """MSI_SENSOR / HSI_SENSOR: the starting response when no response or degradation file gives
    one, and the HSI's wavelengths when the raster has none."""
    hsi, msi = inputs.pair.hsi, inputs.pair.msi
    msi_key, hsi_key = (msi_sensor or "auto").lower(), (hsi_sensor or "auto").lower()
    # the HSI's wavelengths (its own or HSI_SENSOR's) are set already: the HSI sensor is not asked again
    res = sensor_presets.starting_response(msi_key, hsi.wavelengths_nm, hsi.data.shape[0], msi.wavelengths_nm,
                                           msi.data.shape[0], "none", hsi_fwhm_nm=hsi.info.fwhm_nm)
    messages = list(res.messages)
    if inputs.srf is not None or inputs.degradation is not None:
        given = "response file" if inputs.srf is not None else "degradation file"
        if msi_key not in ("auto", "none"):
            messages.append(f"MSI_SENSOR is ignored: the starting response comes from the {given}")
        else:
            messages = [m for m in messages if not m.startswith("MSI_SENSOR=auto")
                        and not m.startswith("starting spectral response")]
        source = f"the {given}"
    else:
        inputs.srf, source = res.srf, res.source
    inputs.messages += messages
    inputs.srf_source = f"{source} (MSI_SENSOR={msi_key}, HSI_SENSOR={hsi_key})"


def check_bands_match(a: io.RasterInfo, b: io.RasterInfo, a_name: str, b_name: str) -> None:
    """Two rasters of the same bands and grid size (e.g. a reference and a fused image)."""
    if (a.count, a.height, a.width) != (b.count, b.height, b.width):
        raise InvalidInputError(
            f"the {a_name} ({a.count} bands, {a.width}x{a.height}) and the {b_name} ({b.count} bands, "
            f"{b.width}x{b.height}) differ: they must have the same bands and grid")
