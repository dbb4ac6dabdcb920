"""hsifusion:blindfusion — blind fusion of an LR hyperspectral and an HR multispectral raster."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class BlindFusionAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.FUSION
    REQUIRES = ("torch", "onnxruntime", "rasterio", "scipy")
    HSI, MSI, MSI2, SCALE, SRF = "HSI", "MSI", "MSI2", "SCALE", "SRF"
    MSI_SENSOR, HSI_SENSOR, DEGRADATION = "MSI_SENSOR", "HSI_SENSOR", "DEGRADATION"
    OUTER_ITERATIONS, INNER_ITERATIONS, TILE_SIZE = "OUTER_ITERATIONS", "INNER_ITERATIONS", "TILE_SIZE"
    MSI_DENOISING, OUTPUT_GRID, DEVICE, SEED = "MSI_DENOISING", "OUTPUT_GRID", "DEVICE", "SEED"
    OUTPUT, OUTPUT_DEGRADATION, REPORT = "OUTPUT", "OUTPUT_DEGRADATION", "REPORT"
