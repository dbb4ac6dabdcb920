"""The checks a run makes before it reads any pixel, in one place for every front end.

Metadata only: output paths (extension and format, folder, not an input, no two outputs alike),
the rasters' headers, the geometry of an HSI/MSI pair (``io.pair_grid``: CRS, integer scale,
alignment, overlap, band counts) and the small side files (response CSV, degradation JSON). Each
workflow calls :func:`check_request` first; the QGIS algorithms call it from
``checkParameterValues()``, so the dialog and each row of a batch are refused before anything runs,
with the same message the run would give.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import io
from ..errors import InvalidInputError
from .inputs import check_bands_match, msi_band_count, second_msi
from .outputs import CSV, HTML, JSON, RASTER
from .requests import EstimationRequest, FusionRequest, QualityRequest, SimulationRequest


@dataclass(frozen=True)
class PairCheck:
    """What the checks of a pair read: both rasters' metadata and their common grid."""

    hsi: io.RasterInfo
    msi: io.RasterInfo
    grid: io.PairGrid


def check_pair(hsi: str, msi: str, scale: int = 0, srf: Optional[str] = None,
               degradation: Optional[str] = None, msi2: Optional[str] = None, snap_offset: bool = False) -> PairCheck:
    """An HSI/MSI pair (with its second MSI) and its optional starting points, from metadata and the
    side files (``snap_offset``: as ``io.pair_grid``)."""
    hi, mi = io.raster_info(hsi), io.raster_info(msi)
    msi_bands = msi_band_count(hi, mi, *second_msi(msi, msi2, hi))
    grid = io.pair_grid(hi, mi, int(scale or 0), snap_offset)
    if srf:
        io.read_srf_csv(srf, msi_bands, hi.count, hi.wavelengths_nm)
    if degradation:
        io.read_degradation(degradation, scale=grid.scale, hsi_bands=hi.count, msi_bands=msi_bands)
    return PairCheck(hi, mi, grid)


def check_fusion(request: FusionRequest) -> PairCheck:
    io.check_outputs([(request.output, RASTER, "output OUTPUT"),
                      (request.output_degradation, JSON, "output OUTPUT_DEGRADATION"),
                      (request.report, HTML, "output REPORT")],
                     (request.hsi, request.msi, request.msi2, request.srf, request.degradation))
    io.raster_format(request.output, bool(request.cog))
    return check_pair(request.hsi, request.msi, request.scale, request.srf, request.degradation, request.msi2,
                      snap_offset=request.output_grid == "msi")


def check_estimation(request: EstimationRequest) -> PairCheck:
    io.check_outputs([(request.output, JSON, "output OUTPUT"), (request.report, HTML, "output REPORT")],
                     (request.hsi, request.msi, request.srf))
    return check_pair(request.hsi, request.msi, request.scale, request.srf)


def check_simulation(request: SimulationRequest) -> io.RasterInfo:
    io.check_outputs([(request.output_hsi, RASTER, "output OUTPUT_HSI"),
                      (request.output_msi, RASTER, "output OUTPUT_MSI")],
                     (request.input, request.kernel_file, request.srf))
    info = io.raster_info(request.input)
    scale = int(request.scale)
    if info.height < scale or info.width < scale:
        raise InvalidInputError(f"the input ({info.width}x{info.height}) is smaller than the scale {scale}")
    if request.kernel_file:
        io.read_kernel_file(request.kernel_file)
    return info


@dataclass(frozen=True)
class QualityCheck:
    """What the checks of a quality request read: the fused raster, the reference and the pair
    (None where not given)."""

    fused: io.RasterInfo
    reference: Optional[io.RasterInfo]
    pair: Optional[PairCheck]


def check_fused_on_pair(fused: io.RasterInfo, pair: PairCheck) -> None:
    """The fused raster has the HSI's bands and lies on the grid the fusion ran on: the MSI grid of
    the pair's common area, or the HSI-aligned grid the MSI was warped onto."""
    mw, hi, warp = pair.grid.msi_window, pair.hsi, pair.grid.msi_warp
    if fused.count != hi.count:
        raise InvalidInputError(
            f"the fused image has {fused.count} bands and the HSI {hi.count}: score the fusion of this HSI")
    on_grid = (fused.height, fused.width) == (mw.height, mw.width)
    if on_grid and fused.georeferenced and pair.msi.georeferenced:
        from affine import Affine

        base = pair.msi.transform if warp is None else warp.transform
        expected = base * Affine.translation(mw.col, mw.row)
        on_grid = fused.transform.almost_equals(expected, precision=1e-6 * max(1.0, abs(expected.a)))
    if not on_grid:
        where = "the MSI grid" if warp is None else "the grid aligned with the HSI's pixels (OUTPUT_GRID=hsi)"
        raise InvalidInputError(
            f"the fused image ({fused.width}x{fused.height}) is not on {where} of the common area of the HSI "
            f"and MSI ({mw.width}x{mw.height} pixels from column {mw.col}, row {mw.row}): give the image that "
            "'Blind HSI-MSI fusion' wrote for this HSI and MSI on that grid")


def check_quality(request: QualityRequest) -> QualityCheck:
    io.check_outputs([(request.output_csv, CSV, "output OUTPUT_CSV")],
                     (request.reference, request.fused, request.hsi, request.msi, request.degradation))
    if bool(request.hsi) != bool(request.msi):
        raise InvalidInputError("give both HSI and MSI (the inputs of the fusion) for the quality without a "
                                "reference, or neither")
    if not request.reference and not request.hsi:
        raise InvalidInputError("give a REFERENCE (metrics against the truth), or the HSI and MSI the image was "
                                "fused from (quality without a reference), or both")
    if request.degradation and not request.hsi:
        raise InvalidInputError("DEGRADATION is used with HSI and MSI only")
    fused = io.raster_info(request.fused)
    reference = None
    if request.reference:
        reference = io.raster_info(request.reference)
        check_bands_match(reference, fused, "reference", "fused image")
    pair = None
    if request.hsi:
        pair = check_pair(request.hsi, request.msi, 0, None, request.degradation)
        try:
            check_fused_on_pair(fused, pair)
        except InvalidInputError:
            # a fusion of grids offset from each other, written on the MSI's grid (OUTPUT_GRID=msi)
            snapped = check_pair(request.hsi, request.msi, 0, None, request.degradation, snap_offset=True)
            if snapped.grid.msi_warp is not None:
                raise
            check_fused_on_pair(fused, snapped)
            pair = snapped
    return QualityCheck(fused, reference, pair)


_CHECKS = {FusionRequest: check_fusion, EstimationRequest: check_estimation, SimulationRequest: check_simulation,
           QualityRequest: check_quality}


def check_request(request):
    """Run the checks of ``request`` (any of the four requests); returns what they read.

    Raises
    ------
    InvalidInputError
        With the sentence the run itself would end with.
    """
    return _CHECKS[type(request)](request)
