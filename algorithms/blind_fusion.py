"""hsifusion:blindfusion — blind fusion of an LR hyperspectral and an HR multispectral raster."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class BlindFusionAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.FUSION
    REQUIRES = ("torch", "onnxruntime", "rasterio", "scipy")
    HSI, MSI, SCALE, SRF, MSI_SENSOR, HSI_SENSOR = "HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR"
    DEGRADATION, OUTER_ITERATIONS, INNER_ITERATIONS = "DEGRADATION", "OUTER_ITERATIONS", "INNER_ITERATIONS"
    TILE_SIZE, MSI_DENOISING, DEVICE, SEED = "TILE_SIZE", "MSI_DENOISING", "DEVICE", "SEED"
    OUTPUT, OUTPUT_DEGRADATION, REPORT = "OUTPUT", "OUTPUT_DEGRADATION", "REPORT"
