"""hsifusion:blindfusion — blind fusion of an LR hyperspectral and an HR multispectral raster."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class BlindFusionAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.FUSION
    #: matplotlib draws the report; onnxruntime is optional (only the non-default backbone start uses
    #: it, and it falls back to the torch weights with a warning)
    REQUIRES = ("torch", "rasterio", "scipy", "matplotlib")
    HSI, MSI, MSI2, SCALE, SRF = "HSI", "MSI", "MSI2", "SCALE", "SRF"
    MSI_SENSOR, HSI_SENSOR, DEGRADATION = "MSI_SENSOR", "HSI_SENSOR", "DEGRADATION"
    OUTER_ITERATIONS, INNER_ITERATIONS, TILE_SIZE = "OUTER_ITERATIONS", "INNER_ITERATIONS", "TILE_SIZE"
    MSI_DENOISING, HSI_CLEANING, STOP_WHEN_CONVERGED = "MSI_DENOISING", "HSI_CLEANING", "STOP_WHEN_CONVERGED"
    KERNEL_SIZE, MSI_MTF, MSI_LINEARIZATION = "KERNEL_SIZE", "MSI_MTF", "MSI_LINEARIZATION"
    CHANGED_AREAS, BAND_DETAIL, CHROMATIC_BLUR = "CHANGED_AREAS", "BAND_DETAIL", "CHROMATIC_BLUR"
    OUTPUT_GRID, DEVICE, SEED, COG = "OUTPUT_GRID", "DEVICE", "SEED", "COG"
    OUTPUT, OUTPUT_DEGRADATION, REPORT = "OUTPUT", "OUTPUT_DEGRADATION", "REPORT"
