"""hsifusion:estimatedegradation — the blur kernel and spectral response of a sensor pair."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class EstimateDegradationAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.ESTIMATION
    REQUIRES = ("torch", "rasterio", "scipy", "matplotlib")   # matplotlib: the report
    HSI, MSI, SCALE, SRF, MSI_SENSOR, HSI_SENSOR = "HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR"
    DEVICE, SEED, OUTPUT, REPORT = "DEVICE", "SEED", "OUTPUT", "REPORT"
    KERNEL_SIZE, MSI_MTF, MSI_DENOISING = "KERNEL_SIZE", "MSI_MTF", "MSI_DENOISING"
    MSI_LINEARIZATION, CHANGED_AREAS = "MSI_LINEARIZATION", "CHANGED_AREAS"
