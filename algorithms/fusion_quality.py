"""hsifusion:fusionquality — RMSE, PSNR, SAM, SSIM and ERGAS of a fused image against a reference."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class FusionQualityAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.QUALITY
    REFERENCE, FUSED, SCALE, OUTPUT_CSV = "REFERENCE", "FUSED", "SCALE", "OUTPUT_CSV"
    RMSE, PSNR, SAM, SSIM, ERGAS = "RMSE", "PSNR", "SAM", "SSIM", "ERGAS"
