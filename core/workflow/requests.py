"""What a run is asked to do: one frozen request per tool, with the tools' parameters as fields.

Field names are the lower-case names of the parameters in :mod:`.specs`; :meth:`from_values`
builds a request from the values the QGIS dialog or the command line collected, so both front
ends ask for exactly the same run.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping, Optional

from ..settings import FusionSettings


class _Request:
    @classmethod
    def from_values(cls, values: Mapping[str, Any]):
        """The request from parameter values keyed by parameter name (any case); None and empty
        values keep the field's default."""
        names = {f.name for f in fields(cls)}
        given = {k.lower(): v for k, v in values.items() if k.lower() in names and v is not None and v != ""}
        return cls(**given)


@dataclass(frozen=True)
class FusionRequest(_Request):
    """Fuse ``hsi`` with ``msi`` into the GeoTIFF ``output`` (see specs.FUSION for each field)."""

    hsi: str
    msi: str
    output: str
    msi2: Optional[str] = None
    scale: int = 0
    srf: Optional[str] = None
    msi_sensor: str = "auto"
    hsi_sensor: str = "auto"
    degradation: Optional[str] = None
    kernel_size: int = 0
    outer_iterations: int = FusionSettings.outer_iterations
    inner_iterations: int = FusionSettings.inner_iterations
    tile_size: int = 0
    msi_denoising: float = FusionSettings.msi_denoising
    hsi_cleaning: str = FusionSettings.hsi_cleaning
    msi_linearization: str = FusionSettings.msi_linearization
    changed_areas: str = FusionSettings.changed_areas
    band_detail: str = FusionSettings.band_detail
    chromatic_blur: str = FusionSettings.chromatic_blur
    msi_mtf: float = FusionSettings.msi_mtf
    stop_when_converged: bool = True
    output_grid: str = "hsi"
    device: str = FusionSettings.device
    seed: int = FusionSettings.seed
    cog: bool = False
    output_degradation: Optional[str] = None
    report: Optional[str] = None

    def settings(self, base: Optional[FusionSettings] = None) -> FusionSettings:
        """The core settings this request asks for (``base`` for everything it does not set)."""
        return replace(base or FusionSettings(), outer_iterations=int(self.outer_iterations),
                       inner_iterations=int(self.inner_iterations), device=self.device, seed=int(self.seed),
                       msi_denoising=float(self.msi_denoising), hsi_cleaning=self.hsi_cleaning,
                       msi_linearization=self.msi_linearization, changed_areas=self.changed_areas,
                       band_detail=self.band_detail, chromatic_blur=self.chromatic_blur, msi_mtf=float(self.msi_mtf),
                       stopping="converged" if self.stop_when_converged else "fixed",
                       kernel_size=int(self.kernel_size) if self.kernel_size and int(self.kernel_size) > 0 else None,
                       tile_size=int(self.tile_size) if self.tile_size and int(self.tile_size) > 0 else None)


@dataclass(frozen=True)
class EstimationRequest(_Request):
    """Estimate the degradation of the pair ``hsi`` / ``msi`` into the JSON ``output``."""

    hsi: str
    msi: str
    output: str
    scale: int = 0
    srf: Optional[str] = None
    msi_sensor: str = "auto"
    hsi_sensor: str = "auto"
    kernel_size: int = 0
    msi_linearization: str = FusionSettings.msi_linearization
    changed_areas: str = FusionSettings.changed_areas
    msi_mtf: float = FusionSettings.msi_mtf
    msi_denoising: float = FusionSettings.msi_denoising
    device: str = "auto"
    seed: int = 0
    report: Optional[str] = None


@dataclass(frozen=True)
class SimulationRequest(_Request):
    """Simulate an LR-HSI / HR-MSI pair from the HR hyperspectral raster ``input``."""

    input: str
    output_hsi: str
    output_msi: str
    kernel_size: int = 9
    kernel_sigma: float = 1.8
    kernel_file: Optional[str] = None
    srf: Optional[str] = None
    scale: int = 4
    snr_db: float = 35.0
    seed: int = 0


@dataclass(frozen=True)
class QualityRequest(_Request):
    """Score ``fused`` against ``reference`` (``scale`` for ERGAS, 0 skips it) and/or, without a
    reference, against the fusion's inputs ``hsi`` and ``msi`` (``degradation``: their kernel and
    response, estimated when None)."""

    fused: str
    reference: Optional[str] = None
    scale: int = 0
    hsi: Optional[str] = None
    msi: Optional[str] = None
    degradation: Optional[str] = None
    output_csv: Optional[str] = None


@dataclass(frozen=True)
class BatchRequest(_Request):
    """Fuse every pair of the CSV ``manifest`` or of the pair ``folder`` into ``output_folder``
    (see specs.BATCH and workflow/manifest.py), on the Dask cluster at ``scheduler``, else on
    ``workers`` local worker processes, else (0) one pair after another in this process. The
    fusion fields are those of :class:`FusionRequest`; a pair's own SRF / degradation file, when
    the manifest gives one, replaces ``srf`` / ``degradation``."""

    output_folder: str
    manifest: Optional[str] = None
    folder: Optional[str] = None
    scheduler: Optional[str] = None
    workers: int = 0
    threads_per_worker: int = 0
    scale: int = 0
    srf: Optional[str] = None
    msi_sensor: str = "auto"
    hsi_sensor: str = "auto"
    degradation: Optional[str] = None
    kernel_size: int = 0
    outer_iterations: int = FusionSettings.outer_iterations
    inner_iterations: int = FusionSettings.inner_iterations
    tile_size: int = 0
    msi_denoising: float = FusionSettings.msi_denoising
    hsi_cleaning: str = FusionSettings.hsi_cleaning
    msi_linearization: str = FusionSettings.msi_linearization
    changed_areas: str = FusionSettings.changed_areas
    band_detail: str = FusionSettings.band_detail
    chromatic_blur: str = FusionSettings.chromatic_blur
    msi_mtf: float = FusionSettings.msi_mtf
    stop_when_converged: bool = True
    output_grid: str = "hsi"
    device: str = FusionSettings.device
    seed: int = FusionSettings.seed
    cog: bool = False

    @property
    def source(self) -> Optional[str]:
        """The manifest or the folder, whichever was given."""
        return self.manifest or self.folder

    def pair_request(self, hsi: str, msi: str, output: str, srf: Optional[str] = None,
                     degradation: Optional[str] = None, msi2: Optional[str] = None) -> FusionRequest:
        """The single fusion one pair runs: this batch's options on that pair's files."""
        shared = {f.name: getattr(self, f.name) for f in fields(FusionRequest)
                  if f.name not in ("hsi", "msi", "msi2", "output", "output_degradation", "report")}
        shared.update(srf=srf or self.srf, degradation=degradation or self.degradation)
        return FusionRequest(hsi=hsi, msi=msi, msi2=msi2, output=output, **shared)
