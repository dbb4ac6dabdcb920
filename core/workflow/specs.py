"""The tools and their parameters, declared once for the QGIS algorithms and the command line.

Each :class:`Param` is one QGIS parameter (its ``name``, as ``qgis_process`` and graphical models
know it) and one command-line option (``--name-in-lower-case``); each :class:`ToolSpec` is one
QGIS algorithm and one subcommand of ``python -m hsi_blind_fusion``. The request objects of the
workflow take the parameters' values by their lower-case names, so both front ends build the
same request from the same values.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..sensor_presets import HSI_PRESETS, HSI_SENSOR_OPTIONS, MSI_PRESETS, MSI_SENSOR_OPTIONS
from ..settings import BAND_DETAIL as BAND_DETAIL_OPTIONS, CHANGED_AREAS as CHANGED_AREAS_OPTIONS, \
    CHROMATIC_BLUR as CHROMATIC_BLUR_OPTIONS, HSI_CLEANING as HSI_CLEANING_OPTIONS, \
    MSI_LINEARIZATION as MSI_LINEARIZATION_OPTIONS, FusionSettings

DEVICES = ("auto", "cpu", "cuda")


def cuda_device_count() -> int:
    """How many CUDA GPUs torch sees, without importing torch where it is missing or where no
    NVIDIA GPU can be present (macOS; Linux without the NVIDIA driver's GPU list), so that QGIS
    loads the plugin fast on ordinary machines."""
    if "torch" not in sys.modules:
        if sys.platform == "darwin" or importlib.util.find_spec("torch") is None:
            return 0
        gpus = "/proc/driver/nvidia/gpus"
        if sys.platform.startswith("linux"):
            try:
                listed = len(os.listdir(gpus))
            except OSError:
                return 0
            if listed < 2:
                return listed
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - a broken CUDA install: no GPU choices
        return 0


def device_options() -> tuple:
    """The DEVICE choices: auto, cpu, cuda, and cuda:0 .. cuda:N-1 when torch sees several GPUs."""
    n = cuda_device_count()
    return DEVICES + tuple(f"cuda:{i}" for i in range(n)) if n > 1 else DEVICES


@dataclass(frozen=True)
class Param:
    """One parameter of a tool.

    ``kind`` is one of ``raster``, ``file``, ``folder``, ``string``, ``int``, ``float``, ``bool``,
    ``enum``, ``raster_out``, ``file_out``, ``folder_out``; files and outputs list the ``extensions``
    they accept (the first is the default), enums their ``options`` (or, with ``options_now``, the
    options computed when the tool is built, such as the GPUs of this machine)."""

    name: str
    kind: str
    label: str
    help: str
    default: Any = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    options: tuple = ()
    optional: bool = False
    advanced: bool = False
    extensions: tuple = ()
    file_description: str = ""
    options_now: Optional[Callable[[], tuple]] = None

    def current_options(self) -> tuple:
        """The enum's options on this machine now."""
        return tuple(self.options_now()) if self.options_now is not None else tuple(self.options)

    @property
    def key(self) -> str:
        """The field of the request that takes this parameter's value."""
        return self.name.lower()

    @property
    def option(self) -> str:
        """The command-line option."""
        return "--" + self.name.lower().replace("_", "-")

    @property
    def is_output(self) -> bool:
        return self.kind in ("raster_out", "file_out", "folder_out")

    @property
    def file_filter(self) -> str:
        """The QGIS file dialog filter, e.g. ``CSV files (*.csv *.txt)``."""
        return f"{self.file_description} ({' '.join('*' + e for e in self.extensions)})"


@dataclass(frozen=True)
class ToolSpec:
    """One tool: a QGIS algorithm (``hsifusion:<id>``) and a command-line subcommand."""

    id: str
    command: str
    display: str
    group: str
    short_description: str
    help: str
    parameters: tuple
    tags: tuple = ()
    #: numeric outputs (name, label) besides the parameters' outputs
    numbers: tuple = field(default=())

    def param(self, name: str) -> Param:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# Help texts shared by several parameters
# ---------------------------------------------------------------------------------------------

def _option_list(presets) -> str:
    return " ".join(f"{p.key}: {p.label}." for p in presets)


SCALE_HELP = ("Ratio of HSI to MSI pixel size (an integer). 0 derives it from the pixel sizes; a non-zero value "
              "must agree with them.")
SRF_HELP = ("Optional CSV with the starting spectral response: either a table with one row per MSI band and one "
            "column per HSI band (a header row and a label column are allowed), or response curves: first column "
            "wavelength in nm, then one column per MSI band (the HSI must then carry wavelengths). The estimation "
            "refines it. Without it, MSI_SENSOR gives the starting response (or none: estimated from the data alone).")
MSI_SENSOR_HELP = (
    "Starting responses of a multispectral sensor, used when no response CSV (SRF) or degradation file is given; the "
    "estimation refines them. Sentinel-2 and Landsat: their published response tables (ESA, USGS) seen through each "
    "HSI band (its FWHM when the HSI gives it); the RGB camera: Gaussians of its band centres and widths. "
    "auto: detected from the MSI's wavelength metadata (band count and centres), else Gaussians of 40 nm FWHM at the "
    "MSI's band centres; with no wavelengths the response is estimated from the data alone. none: no preset. "
    + _option_list(MSI_PRESETS) + " Needs the HSI's wavelengths (from the raster or HSI_SENSOR).")
HSI_SENSOR_HELP = (
    "Nominal band centres of a hyperspectral sensor, used only when the HSI raster carries no wavelengths. "
    "auto: chosen by band count (" + ", ".join(f"{p.key} {p.count}" for p in HSI_PRESETS) + " bands). "
    "none: no wavelengths. " + _option_list(HSI_PRESETS) + " The band count must match. The fused image gets "
    "these wavelengths.")
TILE_HELP = ("Side, in MSI pixels, of the tiles the fused image is computed and written in. 0 picks it from the "
             "available memory. Tiles are computed with a margin, so the result does not depend on it (no seams); "
             "smaller tiles use less memory, larger ones are slightly faster.")
DENOISE_HELP = ("Strength of the non-local means applied to the MSI before it guides the reconstruction (the "
                "MSI's noise would otherwise go into every fused band; its level is estimated from the data). "
                "0 turns it off, e.g. for an MSI that is already denoised; higher values smooth more. Where the MSI "
                "is noisy (below 35 dB) and the blur has structure (not Gaussian-like, e.g. motion), the blur kernel "
                "and the response are fitted again on the denoised MSI: its noise would otherwise spread the kernel.")
REPORT_HELP = ("Optional: an HTML page (figures embedded) with the kernel and responses beside their starting "
               "points, colour previews, per-band residuals, losses, settings, timings and device. QGIS "
               "opens it in the results viewer.")

_DEFAULTS = FusionSettings()

HSI = Param("HSI", "raster", "Low-resolution hyperspectral image (HSI)",
            "The hyperspectral raster: many bands, coarse pixels.")
MSI = Param("MSI", "raster", "High-resolution multispectral image (MSI)",
            "The multispectral raster: fewer bands than the HSI, fine pixels. The output uses its grid.")
MSI2 = Param("MSI2", "raster", "Second, coarser multispectral image (optional)",
             "Optional: more multispectral bands at a coarser resolution than the MSI, e.g. Sentinel-2's 20 m bands "
             "(B5, B6, B7, B8A, B11, B12) beside its 10 m MSI, or Landsat's 30 m bands with its 15 m panchromatic band "
             "as the MSI. They are sharpened onto the MSI's grid by a local regression on the MSI's bands and join "
             "them, so their wavelengths (red edge, SWIR) guide the fusion too.", optional=True)
SCALE = Param("SCALE", "int", "Scale factor (0 = from pixel sizes)", SCALE_HELP, 0, 0, 64)
SRF = Param("SRF", "file", "Starting spectral response (CSV)", SRF_HELP, optional=True,
            extensions=(".csv", ".txt"), file_description="CSV files")
MSI_SENSOR = Param("MSI_SENSOR", "enum", "MSI sensor (starting spectral response)", MSI_SENSOR_HELP, "auto",
                   options=tuple(MSI_SENSOR_OPTIONS))
HSI_SENSOR = Param("HSI_SENSOR", "enum", "HSI sensor (wavelengths when the raster has none)", HSI_SENSOR_HELP,
                   "auto", options=tuple(HSI_SENSOR_OPTIONS), advanced=True)
DEGRADATION = Param("DEGRADATION", "file", "Starting degradation (JSON from 'Estimate sensor degradation')",
                    "Optional kernel and response estimated earlier; the fusion starts from them.", optional=True,
                    extensions=(".json",), file_description="JSON files")
OUTER_ITERATIONS = Param("OUTER_ITERATIONS", "int", "Outer iterations",
                         "Alternations between the image and the degradation estimates (at most: see "
                         "STOP_WHEN_CONVERGED).",
                         _DEFAULTS.outer_iterations, 1, 10000)
INNER_ITERATIONS = Param("INNER_ITERATIONS", "int", "Inner iterations", "Gradient steps per outer iteration.",
                         _DEFAULTS.inner_iterations, 1, 10000, advanced=True)
KERNEL_SUPPORT = Param(
    "KERNEL_SIZE", "int", "Blur kernel support (MSI pixels, 0 = from the data)",
    "Side of the square support on which the HSI's blur kernel is estimated. 0: chosen from the data (it starts at "
    "2 x scale + 1 and grows, up to 7 x scale + 1 and at most 49, while the kernel piles its mass on the support's "
    "border, i.e. while the blur is cut off). A size given here is used as it is (even sizes are rounded up to odd); "
    "the log and the report warn when the kernel still touches its border.", 0, 0, 99, advanced=True)
TILE_SIZE = Param("TILE_SIZE", "int", "Tile size (MSI pixels, 0 = automatic)", TILE_HELP, 0, 0, 16384,
                  advanced=True)
MSI_DENOISING = Param("MSI_DENOISING", "float", "MSI denoising strength (0 = off)", DENOISE_HELP,
                      _DEFAULTS.msi_denoising, 0.0, 5.0, advanced=True)
DEVICE = Param("DEVICE", "enum", "Compute device",
               "auto: a CUDA GPU when torch sees one, else the CPU. cuda fails clearly without a GPU. With several "
               "GPUs, cuda:0, cuda:1, ... choose one.", "auto",
               options=DEVICES, advanced=True, options_now=device_options)
SEED = Param("SEED", "int", "Random seed",
             "Seed of every random choice; the same seed gives the same result on the CPU.", 0, 0, None,
             advanced=True)
OUTPUT_GRID = Param("OUTPUT_GRID", "enum", "Grid of the fused image",
                    "hsi: the grid aligned with the HSI's pixels (the HSI's CRS, pixel = HSI pixel / scale), on which the "
                    "fusion runs; the same as the MSI's own grid when the MSI's grid is aligned with the HSI's already. "
                    "msi: the MSI's own grid and CRS (the fused image is warped onto it at the end by an interpolating spline; "
                    "when the grids only differ by an offset in the same CRS, nothing is resampled: the MSI is read as it is and "
                    "the estimated blur kernel takes up the offset).",
                    "hsi", options=("hsi", "msi"), advanced=True)
REPORT = Param("REPORT", "file_out", "Report (HTML)", REPORT_HELP, optional=True, extensions=(".html", ".htm"),
               file_description="HTML files")
#: raster outputs: GeoTIFF (internal overviews when large) or ENVI by the extension (core/io/raster_formats.py)
RASTER_EXTENSIONS = (".tif", ".tiff", ".bsq", ".bil", ".bip")
RASTER_FILES = "GeoTIFF or ENVI files"
STOP_WHEN_CONVERGED = Param(
    "STOP_WHEN_CONVERGED", "bool", "Stop when converged",
    "Stop the alternation once a share of the HSI's pixels, held out of the fitting, stops being predicted better "
    "(OUTER_ITERATIONS is then a maximum, and the iterate that predicted them best is kept). Off: run every "
    "iteration, the paper's schedule.", True, advanced=True)
HSI_CLEANING = Param(
    "HSI_CLEANING", "enum", "HSI cleaning (stripes, dead and saturated pixels)",
    "Before the estimate, the HSI's per-band column and row offsets (stripes of a pushbroom sensor) and isolated "
    "dead or saturated values are found by predicting each band from the others, and removed. auto: only "
    "stripes about as strong as the noise or stronger, and outliers found in numbers, are removed (a clean HSI is "
    "used as it is); on: everything found is removed; off: nothing is looked for. The log and the report say what "
    "was found and removed.", _DEFAULTS.hsi_cleaning, options=HSI_CLEANING_OPTIONS, advanced=True)
MSI_LINEARIZATION = Param(
    "MSI_LINEARIZATION", "enum", "MSI linearization (power-law response per band)",
    "Two sensors' radiometry can disagree by a curve, not only by a factor (another calibration, another date). "
    "auto: a power law per MSI band is found from the pair (blurred to the HSI's resolution, the MSI band must be "
    "a linear combination of the HSI's bands) and undone where it explains the HSI clearly better than a straight "
    "line; the kernel and response are then estimated again. A linear MSI is used as it is. off: the MSI is taken "
    "as linear. The log and the report give the exponents found.", _DEFAULTS.msi_linearization,
    options=MSI_LINEARIZATION_OPTIONS, advanced=True)
CHANGED_AREAS = Param(
    "CHANGED_AREAS", "enum", "Changed areas (another date, clouds)",
    "Where the MSI shows something the HSI does not (taken on another date, a cloud, a moved object), the kernel "
    "and response would be bent to it and the fused detail there would be wrong. auto: areas that fit the "
    "estimated degradation far worse than the rest are left out and the kernel and response estimated again; "
    "where that explains the rest clearly better, the areas that still disagree get the upsampled HSI in the output "
    "(the log, the report and the degradation file say how much). A matching pair is used as it is. off: the whole "
    "pair is taken as one scene.", _DEFAULTS.changed_areas, options=CHANGED_AREAS_OPTIONS, advanced=True)
BAND_DETAIL = Param(
    "BAND_DETAIL", "enum", "Per-band detail (bands the MSI does not see)",
    "Every HSI band takes its spatial detail from the MSI. A band outside the MSI's responses (red bands under a "
    "blue-only camera, short-wave infrared under a visible and near-infrared MSI) would get detail of another "
    "wavelength. auto: the fusion is tested one level down (the HSI degraded once more and predicted from the "
    "MSI at the HSI's resolution) and each band takes the share of the MSI's detail the test says it carries; "
    "bands the MSI explains keep all of it. off: every band takes all of it. The report gives each band's share.",
    _DEFAULTS.band_detail, options=BAND_DETAIL_OPTIONS, advanced=True)
CHROMATIC_BLUR = Param(
    "CHROMATIC_BLUR", "enum", "Chromatic blur (a kernel per group of bands)",
    "A spectrometer's blur often changes with wavelength (wider, or shifted, at one end of the range). auto: the "
    "kernel of each of up to 8 groups of neighbouring bands is found as the common kernel shifted and stretched, "
    "and used where it explains the HSI clearly better than the common one (the log and the report say which "
    "groups); a blur that is the same in every band is left as it is. off: one kernel for all bands.",
    _DEFAULTS.chromatic_blur, options=CHROMATIC_BLUR_OPTIONS, advanced=True)
MSI_MTF = Param(
    "MSI_MTF", "float", "MSI sharpness: MTF at Nyquist (1 = as sharp as its pixels)",
    "The MSI's own blur, as its sensor's specification gives it: the contrast kept at the Nyquist frequency (for "
    "example about 0.15-0.3 for Sentinel-2's 10 m bands). The fusion takes its detail from the MSI and cannot tell "
    "its blur from the HSI's, so a blurred MSI gives a blurred result; below 1 the MSI is restored first (a "
    "Wiener filter of a Gaussian blur with that MTF, gain bounded). 1: no restoration. A value well below the "
    "MSI's real MTF over-sharpens it (ringing and noise): give the specification's value, not a guess.",
    _DEFAULTS.msi_mtf, 0.05, 1.0, advanced=True)
COG = Param("COG", "bool", "Cloud-Optimized GeoTIFF",
            "Write OUTPUT as a Cloud-Optimized GeoTIFF (tiles and overviews laid out for reading over HTTP); needs a "
            ".tif output. Without it the GeoTIFF is tiled, with internal overviews when a side exceeds 256 pixels.",
            False, advanced=True)

FUSION = ToolSpec(
    id="blindfusion", command="fuse", display="Blind HSI-MSI fusion", group="Fusion",
    short_description="Sharpens a hyperspectral image with a multispectral image of the same place; the blur and "
                      "the spectral response are estimated from the data.",
    tags=("fusion", "pansharpening", "hyperspectral", "multispectral", "super-resolution", "sharpening",
          "EnMAP", "PRISMA", "Hyperion", "Sentinel-2", "Landsat", "blind", "deep image prior"),
    help=(
        "Fuses a low-resolution hyperspectral image (HSI) with a high-resolution multispectral image (MSI) of the "
        "same scene into a hyperspectral image at the MSI's resolution. The blur kernel of the HSI (relative to the "
        "MSI grid) and the spectral response of the MSI bands are estimated from the two images (blind fusion), "
        "then the fused image is reconstructed.\n\n"
        "Inputs\n"
        "- HSI and MSI rasters: any file GDAL reads (GeoTIFF, ENVI, VRT, a file in a zip, an HDF5 or NetCDF "
        "subdataset). The HSI's pixels stay as measured; an MSI in another CRS, on an offset grid or with a "
        "non-integer pixel-size ratio is warped once onto the grid aligned with the HSI's pixels. Only the common "
        "area is processed; nodata pixels are left out, HSI bands flagged bad or nodata everywhere are left out "
        "and come out as nodata bands.\n"
        "- Optional starting points: a response CSV (SRF), a sensor preset (MSI_SENSOR, detected automatically "
        "from wavelength metadata), or a degradation JSON from 'Estimate sensor degradation'.\n\n"
        "Outputs\n"
        "- OUTPUT: float32 raster on the MSI grid, one band per HSI band (HSI band names and wavelengths): a tiled "
        "GeoTIFF with internal overviews (.tif; a Cloud-Optimized GeoTIFF with COG) or ENVI with its .hdr header "
        "(.bsq, .bil, .bip). Loaded into QGIS in true colour (the bands nearest 640, 550 and 470 nm).\n"
        "- OUTPUT_DEGRADATION (optional): the estimated kernel and response as JSON.\n"
        "- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour "
        "previews, quality without a reference (QNR, D_lambda, D_s), per-band consistency residuals, loss curves, "
        "settings, timings and the device.\n\n"
        "Tips\n"
        "- Start with fewer outer iterations (e.g. 10) to check the setup, then use the default 40.\n"
        "- Give MSI_SENSOR (or let 'auto' detect it) when the MSI is Sentinel-2, Landsat 8/9 or an RGB camera: "
        "the response estimate starts closer to the truth.\n"
        "- DEVICE=cuda needs an NVIDIA GPU and a CUDA build of torch.\n"
        "- The same run from a terminal: python -m hsi_blind_fusion fuse --hsi ... --msi ... --output ...\n\n"
        "Large scenes\n"
        "- The fused image is computed tile by tile and written window by window, never held whole in memory; each "
        "tile is computed with a margin covering every local step, so tiles meet without seams (identical to an "
        "untiled run). TILE_SIZE sets the tile side (0 = from the available memory).\n\n"
        "Limits\n"
        "- The inputs (HSI and MSI of the common area) are held in memory: about 3 times their float32 size.\n"
        "- One kernel and one response for the whole scene; the inputs must be co-registered and acquired close "
        "in time."),
    parameters=(
        HSI, MSI, MSI2, SCALE, SRF, MSI_SENSOR, HSI_SENSOR, DEGRADATION, KERNEL_SUPPORT, OUTER_ITERATIONS,
        INNER_ITERATIONS, TILE_SIZE, MSI_DENOISING, HSI_CLEANING, MSI_LINEARIZATION, CHANGED_AREAS, BAND_DETAIL, CHROMATIC_BLUR, MSI_MTF, STOP_WHEN_CONVERGED, OUTPUT_GRID, DEVICE,
        SEED, COG,
        Param("OUTPUT", "raster_out", "Fused hyperspectral image",
              "Float32 raster on the MSI grid, one band per HSI band: GeoTIFF (.tif) or ENVI (.bsq, .bil, .bip).",
              extensions=RASTER_EXTENSIONS, file_description=RASTER_FILES),
        Param("OUTPUT_DEGRADATION", "file_out", "Estimated degradation (JSON)",
              "Optional: the estimated kernel and response, reusable as DEGRADATION.", optional=True,
              extensions=(".json",), file_description="JSON files"),
        REPORT,
    ))

ESTIMATION = ToolSpec(
    id="estimatedegradation", command="estimate", display="Estimate sensor degradation", group="Fusion",
    short_description="Estimates the blur kernel of a hyperspectral sensor and the spectral response of a "
                      "multispectral one from an image pair, without fusing.",
    tags=("blur", "kernel", "PSF", "spectral response", "SRF", "calibration", "hyperspectral", "multispectral",
          "EnMAP", "PRISMA", "Sentinel-2", "Landsat"),
    help=(
        "Estimates, from a low-resolution hyperspectral image (HSI) and a high-resolution multispectral image (MSI) "
        "of the same scene, the blur kernel of the HSI sensor (relative to the MSI grid) and the spectral response "
        "of the MSI bands, without fusing. Fast (seconds): useful to check a sensor pair or to reuse the estimate "
        "in several fusions.\n\n"
        "Inputs\n"
        "- HSI and MSI rasters, with the same requirements as 'Blind HSI-MSI fusion' (same CRS, integer pixel-size "
        "ratio, aligned grids).\n"
        "- Optional starting response: a CSV (SRF) or a sensor preset (MSI_SENSOR).\n\n"
        "Outputs\n"
        "- OUTPUT: a JSON file with scale, kernel, srf (rows = MSI bands, columns = HSI bands, rows summing to 1), "
        "msi_gain and the wavelengths; 'Blind HSI-MSI fusion' takes it as DEGRADATION (also in graphical "
        "models).\n"
        "- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour "
        "previews and the per-band residuals of the estimate.\n\n"
        "Tips\n"
        "- Compare the estimated responses with the sensor's published ones in the report: a response far from "
        "them often means misregistered inputs.\n\n"
        "Limits\n"
        "- One kernel and one response for the whole scene."),
    parameters=(
        Param("HSI", "raster", HSI.label, "The hyperspectral raster."),
        Param("MSI", "raster", MSI.label, "The multispectral raster."),
        SCALE, SRF, MSI_SENSOR, HSI_SENSOR, KERNEL_SUPPORT, MSI_LINEARIZATION, CHANGED_AREAS, MSI_MTF, MSI_DENOISING, DEVICE, SEED,
        Param("OUTPUT", "file_out", "Estimated degradation (JSON)", "Kernel, response, scale and wavelengths as JSON.",
              extensions=(".json",), file_description="JSON files"),
        REPORT,
    ))

SIMULATION = ToolSpec(
    id="simulateobservations", command="simulate", display="Simulate sensor observations", group="Tools",
    short_description="Simulates a low-resolution hyperspectral and a high-resolution multispectral image from a "
                      "high-resolution hyperspectral raster (a pair with a known truth).",
    tags=("simulation", "degradation", "synthetic", "hyperspectral", "multispectral", "benchmark", "blur",
          "spectral response"),
    help=(
        "Simulates the two observations that 'Blind HSI-MSI fusion' takes from a high-resolution hyperspectral "
        "raster, for tutorials and benchmarks with a known truth.\n\n"
        "Inputs\n"
        "- INPUT: a high-resolution hyperspectral raster (the truth).\n"
        "- The blur: a Gaussian kernel (KERNEL_SIZE, KERNEL_SIGMA) or a kernel file (.npy, .csv, .txt).\n"
        "- The spectral response: a CSV (table MSI x HSI bands, or wavelength + one column per MSI band); "
        "without it, Gaussian Sentinel-2 bands within the input's wavelengths.\n\n"
        "Outputs\n"
        "- OUTPUT_HSI: the input blurred, every SCALE-th pixel kept (starting at SCALE // 2), plus noise; its "
        "pixels cover exactly SCALE x SCALE input pixels (same origin, SCALE times the pixel size); the input's "
        "wavelengths are copied.\n"
        "- OUTPUT_MSI: the response applied to the input, plus noise, on the input grid (cropped to a multiple of "
        "SCALE).\n\n"
        "Tips\n"
        "- Score a fusion of the two outputs against INPUT with 'Fusion quality'.\n\n"
        "Limits\n"
        "- White Gaussian noise only (SNR_DB per band); no striping, smile or misregistration."),
    parameters=(
        Param("INPUT", "raster", "High-resolution hyperspectral image", "The truth to degrade."),
        Param("KERNEL_SIZE", "int", "Gaussian kernel size (odd)", "Width of the Gaussian blur kernel in pixels.",
              9, 1, 101),
        Param("KERNEL_SIGMA", "float", "Gaussian kernel sigma (pixels)",
              "Standard deviation of the Gaussian blur in input pixels.", 1.8, 0.01, 100.0),
        Param("KERNEL_FILE", "file", "Kernel file (.npy, .csv, .txt)", "Optional: a 2-D kernel replacing the Gaussian.",
              optional=True, extensions=(".npy", ".csv", ".txt"), file_description="Kernel files"),
        Param("SRF", "file", "Spectral response (CSV)",
              "Response table (MSI bands x HSI bands) or curves (wavelength + one column per MSI band). "
              "Empty: Gaussian Sentinel-2 bands inside the input's wavelength range.", optional=True,
              extensions=(".csv", ".txt"), file_description="CSV files"),
        Param("SCALE", "int", "Scale factor", "HSI pixel size / MSI pixel size.", 4, 2, 64),
        Param("SNR_DB", "float", "Signal-to-noise ratio (dB, 0 = no noise)",
              "White Gaussian noise at this SNR per band; 0 adds none.", 35.0, 0.0, 200.0),
        SEED,
        Param("OUTPUT_HSI", "raster_out", "Simulated LR hyperspectral image",
              "Float32 raster (GeoTIFF or ENVI): SCALE times coarser, same origin, the input's bands and wavelengths.",
              extensions=RASTER_EXTENSIONS, file_description=RASTER_FILES),
        Param("OUTPUT_MSI", "raster_out", "Simulated HR multispectral image",
              "Float32 raster (GeoTIFF or ENVI) on the input grid, one band per response row.",
              extensions=RASTER_EXTENSIONS, file_description=RASTER_FILES),
    ))

QUALITY_METRICS = (("RMSE", "RMSE"), ("PSNR", "PSNR (dB)"), ("SAM", "SAM (degrees)"), ("SSIM", "SSIM"),
                   ("ERGAS", "ERGAS"))
NO_REFERENCE_METRICS = (("QNR", "QNR (quality with no reference)"), ("D_LAMBDA", "D_lambda (spectral distortion)"),
                        ("D_S", "D_s (spatial distortion)"),
                        ("HSI_RESIDUAL", "HSI residual of the re-degraded fused image (%)"),
                        ("MSI_RESIDUAL", "MSI residual of the re-degraded fused image (%)"))

QUALITY = ToolSpec(
    id="fusionquality", command="quality", display="Fusion quality", group="Tools",
    short_description="Scores a fused hyperspectral image against a reference (RMSE, PSNR, SAM, SSIM, ERGAS) or, "
                      "without one, against the HSI and MSI it was fused from (QNR, D_lambda, D_s, residuals).",
    tags=("quality", "metrics", "PSNR", "SAM", "SSIM", "ERGAS", "RMSE", "QNR", "no reference", "distortion",
          "accuracy", "assessment", "pansharpening"),
    help=(
        "Scores a fused hyperspectral image: against a reference of the same grid and bands when you have one, and "
        "without a reference, against the HSI and MSI it was fused from.\n\n"
        "Inputs\n"
        "- FUSED: the image to score.\n"
        "- REFERENCE (optional): the true high-resolution hyperspectral image, same size and bands as FUSED.\n"
        "- HSI and MSI (optional, together): the inputs of the fusion; FUSED must lie on the MSI grid of their "
        "common area (as 'Blind HSI-MSI fusion' writes it).\n"
        "- DEGRADATION (optional, with HSI and MSI): the kernel and response JSON of the fusion; without it they are "
        "estimated from the HSI and MSI (seconds).\n"
        "- SCALE: the HSI/MSI pixel-size ratio, for ERGAS (0 skips ERGAS); with HSI and MSI it comes from the pixel "
        "sizes.\n\n"
        "Outputs\n"
        "- With REFERENCE: RMSE (image units), PSNR (dB, peak = reference maximum), SAM (mean spectral angle, "
        "degrees), SSIM (mean over bands), ERGAS.\n"
        "- With HSI and MSI: QNR = (1 - D_lambda)(1 - D_s) (Alparone et al. 2008; 1 is ideal), D_lambda (spectral "
        "distortion: how the similarities between fused bands differ from those between HSI bands) and D_s "
        "(spatial distortion: how the similarities between each fused band and each MSI band differ from those "
        "at the HSI's resolution), on 32 x 32-pixel blocks; HSI_RESIDUAL and MSI_RESIDUAL: the fused image "
        "re-degraded with the kernel and response against each input (mean relative RMSE over bands, %).\n"
        "- Every metric is a numeric output (empty when not computed), usable in graphical models; OUTPUT_CSV "
        "(optional): the metrics as CSV.\n\n"
        "Tips\n"
        "- Pixels that are nodata in any raster are left out of every metric (SSIM and QNR: windows and blocks "
        "that touch one).\n"
        "- Compare QNR between fusions of the same pair (e.g. against bicubic upsampling): its absolute value "
        "depends on the scene.\n\n"
        "Limits\n"
        "- QNR rewards consistency with the inputs, not closeness to the truth; with a reference, prefer the "
        "reference metrics."),
    parameters=(
        Param("FUSED", "raster", "Fused image", "The image to score (on the reference's grid, or on the MSI grid)."),
        Param("REFERENCE", "raster", "Reference (truth) image",
              "Optional: the true high-resolution hyperspectral image (RMSE, PSNR, SAM, SSIM, ERGAS).", optional=True),
        Param("SCALE", "int", "Scale factor (for ERGAS; 0 = skip ERGAS)",
              "HSI/MSI pixel-size ratio of the fusion; ERGAS is not computed when 0 (with HSI and MSI it comes from "
              "their pixel sizes).", 0, 0, 64, optional=True),
        Param("HSI", "raster", HSI.label,
              "Optional, with MSI: the hyperspectral input of the fusion (QNR, D_lambda, D_s, residuals).",
              optional=True),
        Param("MSI", "raster", MSI.label, "Optional, with HSI: the multispectral input of the fusion.", optional=True),
        Param("DEGRADATION", "file", "Degradation of the fusion (JSON)",
              "Optional, with HSI and MSI: the kernel and response of the fusion (OUTPUT_DEGRADATION of 'Blind "
              "HSI-MSI fusion'); estimated from the HSI and MSI when not given.", optional=True,
              extensions=(".json",), file_description="JSON files"),
        Param("OUTPUT_CSV", "file_out", "Metrics (CSV)", "Optional: the metrics as CSV.", optional=True,
              extensions=(".csv", ".txt"), file_description="CSV files"),
    ),
    numbers=QUALITY_METRICS + NO_REFERENCE_METRICS)

TOOLS = (FUSION, ESTIMATION, SIMULATION, QUALITY)

# ---------------------------------------------------------------------------------------------
# The batch: many pairs, one Dask task each (core/workflow/batch.py). Not in TOOLS: its command
# line takes the manifest and the output folder as positional arguments (cli.py).
# ---------------------------------------------------------------------------------------------

SCHEDULER_HELP = ("Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (started with `dask scheduler`, "
                  "its workers with `dask worker` or `dask cuda worker`): each pair is then one task on the cluster. "
                  "Empty: the pairs run in this process one after another (QGIS never starts worker processes).")

BATCH = ToolSpec(
    id="batchfusion", command="batch", display="Batch blind fusion", group="Fusion",
    short_description="Fuses many HSI/MSI pairs listed in a CSV manifest or matched by name in a folder, one "
                      "after another or as tasks on a Dask cluster; skips pairs that are already done.",
    tags=("batch", "dask", "cluster", "distributed", "fusion", "hyperspectral", "multispectral", "EnMAP", "PRISMA",
          "Sentinel-2", "GPU"),
    help=(
        "Runs 'Blind HSI-MSI fusion' on every pair of a manifest, with the same options for all, and writes a "
        "summary. Each pair is the same run as a single fusion.\n\n"
        "Inputs\n"
        "- MANIFEST: a CSV with a header row and one row per pair: columns hsi and msi (required), output, srf, "
        "degradation and name (optional); relative input paths are relative to the CSV's folder, relative outputs "
        "to the output folder. Or FOLDER: a folder in which every NAME_hsi.tif is paired with NAME_msi.tif "
        "(any raster extension; NAME_srf.csv and NAME_degradation.json are used when present). Give one of "
        "the two.\n"
        "- SCHEDULER (optional): a Dask scheduler address; each pair is one task on its workers (which must "
        "see the files at the same paths and have this plugin installed). Workers that advertise a GPU resource "
        "get one pair per GPU.\n"
        "- The fusion options (iterations, device, seed, sensors, ...) apply to every pair; a pair's own srf / "
        "degradation column replaces SRF / DEGRADATION for it.\n\n"
        "Outputs\n"
        "- OUTPUT_FOLDER: NAME_fused.tif per pair (unless the manifest names its output), with a run record "
        "NAME_fused.run.json; batch_summary.csv and batch_summary.json: per pair the status (done, skipped, "
        "failed, cancelled, not run), seconds, worker, device and the consistency of the result (mean relative "
        "RMSE, %, of the fused image re-degraded with the estimated kernel and response against the HSI and the "
        "MSI: no reference needed).\n"
        "- DONE, SKIPPED, FAILED: counts of pairs.\n\n"
        "Tips\n"
        "- Run it again after a stop (cancel, a lost cluster, a failed pair fixed): complete pairs are skipped.\n"
        "- From a terminal: python -m hsi_blind_fusion batch MANIFEST OUTDIR --workers 4 (local worker processes) "
        "or --scheduler tcp://host:8786.\n\n"
        "Limits\n"
        "- A failed pair does not stop the others; its error is in the log and the summary.\n"
        "- Without SCHEDULER the pairs run one after another in QGIS; QGIS never starts worker processes.\n"
        "- Needs the Python package dask[distributed]."),
    parameters=(
        Param("MANIFEST", "file", "Manifest (CSV: hsi,msi[,msi2,output,srf,degradation,name])",
              "CSV with a header row and one row per pair (columns hsi, msi; optional msi2, output, srf, "
              "degradation, name). Give this or FOLDER.", optional=True, extensions=(".csv", ".txt"),
              file_description="CSV files"),
        Param("FOLDER", "folder", "Folder of pairs (NAME_hsi.tif with NAME_msi.tif)",
              "A folder in which each NAME_hsi raster is paired with the NAME_msi raster (optional "
              "NAME_msi2 raster, NAME_srf.csv, NAME_degradation.json). Give this or MANIFEST.", optional=True),
        Param("SCHEDULER", "string", "Dask scheduler address (empty = in this process)", SCHEDULER_HELP, "",
              optional=True),
        SCALE, SRF, MSI_SENSOR, HSI_SENSOR, DEGRADATION, KERNEL_SUPPORT, OUTER_ITERATIONS, INNER_ITERATIONS,
        TILE_SIZE, MSI_DENOISING, HSI_CLEANING, MSI_LINEARIZATION, CHANGED_AREAS, BAND_DETAIL, CHROMATIC_BLUR, MSI_MTF, STOP_WHEN_CONVERGED, OUTPUT_GRID, DEVICE, SEED, COG,
        Param("OUTPUT_FOLDER", "folder_out", "Output folder",
              "Where the fused GeoTIFFs, their run records and the batch summary are written."),
    ),
    numbers=(("DONE", "Pairs fused"), ("SKIPPED", "Pairs skipped (already complete)"), ("FAILED", "Pairs failed")))
