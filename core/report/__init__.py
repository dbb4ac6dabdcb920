"""HTML run reports with matplotlib (Agg) figures embedded as PNG (QGIS-free).

A report holds the settings, timings, device, warnings and these figures (embedded as base64 PNG,
so the page is one self-contained file that QGIS's results viewer and any browser show):

- the estimated blur kernel beside its starting point;
- the estimated spectral responses against wavelength (or HSI band) beside the starting ones;
- colour previews of the upsampled HSI, the MSI and the fused image (true colour when wavelengths
  are known, else evenly spaced bands; 2-98 % percentile stretch; downsampled to a few hundred pixels);
- per-band consistency residuals: the fused image re-degraded with the estimated kernel and response
  against each input (``(X*K)↓s`` vs the HSI, ``msi_gain · P·X`` vs the MSI), in the images' units;
  for a degradation alone, ``(Z*K)↓s`` against ``msi_gain · P·Y``;
- the loss curves.
"""
from .figures import PREVIEW_SIDE, RGB_NM, kernel_figure, preview_figure, rgb_bands, srf_figure
from .page import build_report, write_report

__all__ = ["PREVIEW_SIDE", "RGB_NM", "build_report", "kernel_figure", "preview_figure", "rgb_bands", "srf_figure",
           "write_report"]
