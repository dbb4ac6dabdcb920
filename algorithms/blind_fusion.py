"""hsifusion:blindfusion — blind fusion of an LR hyperspectral and an HR multispectral raster."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class BlindFusionAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.FUSION
    #: matplotlib draws the report; onnxruntime is optional (only the non-default backbone start uses
    #: it, and it falls back to the torch weights with a warning)
    REQUIRES = ("torch", "rasterio", "scipy", "matplotlib")
    HSI, MSI, SCALE, SRF, MSI_SENSOR, HSI_SENSOR = "HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR"
    DEGRADATION, OUTER_ITERATIONS, INNER_ITERATIONS = "DEGRADATION", "OUTER_ITERATIONS", "INNER_ITERATIONS"
    TILE_SIZE, MSI_DENOISING, DEVICE, SEED, COG = "TILE_SIZE", "MSI_DENOISING", "DEVICE", "SEED", "COG"
    OUTPUT, OUTPUT_DEGRADATION, REPORT = "OUTPUT", "OUTPUT_DEGRADATION", "REPORT"
