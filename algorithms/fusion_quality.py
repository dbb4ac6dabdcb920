"""hsifusion:fusionquality — RMSE, PSNR, SAM, SSIM and ERGAS of a fused image against a reference;
without one, QNR, D_lambda, D_s and the consistency residuals against the HSI and MSI."""
from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class FusionQualityAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.QUALITY
    REQUIRES = ("torch", "rasterio", "scipy", "skimage")   # scikit-image: SSIM
    FUSED, REFERENCE, SCALE, OUTPUT_CSV = "FUSED", "REFERENCE", "SCALE", "OUTPUT_CSV"
    HSI, MSI, DEGRADATION = "HSI", "MSI", "DEGRADATION"
    RMSE, PSNR, SAM, SSIM, ERGAS = "RMSE", "PSNR", "SAM", "SSIM", "ERGAS"
    QNR, D_LAMBDA, D_S, HSI_RESIDUAL, MSI_RESIDUAL = "QNR", "D_LAMBDA", "D_S", "HSI_RESIDUAL", "MSI_RESIDUAL"
