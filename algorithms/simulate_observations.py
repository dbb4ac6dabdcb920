"""hsifusion:simulateobservations — an LR-HSI / HR-MSI pair simulated from an HR hyperspectral raster."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class SimulateObservationsAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.SIMULATION
    INPUT, KERNEL_SIZE, KERNEL_SIGMA, KERNEL_FILE = "INPUT", "KERNEL_SIZE", "KERNEL_SIGMA", "KERNEL_FILE"
    SRF, SCALE, SNR_DB, SEED = "SRF", "SCALE", "SNR_DB", "SEED"
    OUTPUT_HSI, OUTPUT_MSI = "OUTPUT_HSI", "OUTPUT_MSI"
