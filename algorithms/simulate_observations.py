"""hsifusion:simulateobservations — an LR-HSI / HR-MSI pair simulated from an HR hyperspectral raster."""
import numpy as np
from qgis.core import QgsProcessingException

from .base import HsiFusionAlgorithm


class SimulateObservationsAlgorithm(HsiFusionAlgorithm):
    NAME = "simulateobservations"
    DISPLAY = "Simulate sensor observations"
    GROUP = "Tools"
    GROUP_ID = "tools"
    HELP = (
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
        "- White Gaussian noise only (SNR_DB per band); no striping, smile or misregistration.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_raster("INPUT", "High-resolution hyperspectral image", "The truth to degrade.")
        self.add_int("KERNEL_SIZE", "Gaussian kernel size (odd)", 9, 1, 101, "Width of the Gaussian blur kernel in pixels.")
        self.add_double("KERNEL_SIGMA", "Gaussian kernel sigma (pixels)", 1.8, 0.01, 100.0,
                        "Standard deviation of the Gaussian blur in input pixels.")
        self.add_file("KERNEL_FILE", "Kernel file (.npy, .csv, .txt)", "Kernel files (*.npy *.csv *.txt)",
                      "Optional: a 2-D kernel replacing the Gaussian.")
        self.add_file("SRF", "Spectral response (CSV)", "CSV files (*.csv *.txt)",
                      "Response table (MSI bands x HSI bands) or curves (wavelength + one column per MSI band). "
                      "Empty: Gaussian Sentinel-2 bands inside the input's wavelength range.")
        self.add_int("SCALE", "Scale factor", 4, 2, 64, "HSI pixel size / MSI pixel size.")
        self.add_double("SNR_DB", "Signal-to-noise ratio (dB, 0 = no noise)", 35.0, 0.0, 200.0,
                        "White Gaussian noise at this SNR per band; 0 adds none.")
        self.add_seed_param()
        self.add_raster_dest("OUTPUT_HSI", "Simulated LR hyperspectral image",
                             "Float32 GeoTIFF: SCALE times coarser, same origin, the input's bands and wavelengths.")
        self.add_raster_dest("OUTPUT_MSI", "Simulated HR multispectral image",
                             "Float32 GeoTIFF on the input grid, one band per response row.")

    def process(self, parameters, context, feedback):
        from affine import Affine

        from ..core import raster_io, simulate
        from ..core.kernels import gaussian_kernel
        from ..core.responses import gaussian_srf
        from ..core.synthetic_scene import SENTINEL2_BANDS

        path = self.raster_path(parameters, "INPUT", context)
        scale = self.parameterAsInt(parameters, "SCALE", context)
        snr = self.parameterAsDouble(parameters, "SNR_DB", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        kfile = self.optional_file(parameters, "KERNEL_FILE", context)
        srf_file = self.optional_file(parameters, "SRF", context)
        out_hsi = self.parameterAsOutputLayer(parameters, "OUTPUT_HSI", context)
        out_msi = self.parameterAsOutputLayer(parameters, "OUTPUT_MSI", context)

        self.check_outputs([(out_hsi, (".tif", ".tiff"), "output OUTPUT_HSI"),
                            (out_msi, (".tif", ".tiff"), "output OUTPUT_MSI")], (path, kfile, srf_file))
        info = raster_io.raster_info(path)
        h, w = (info.height // scale) * scale, (info.width // scale) * scale
        if h == 0 or w == 0:
            raise QgsProcessingException(self.tr(
                f"the input ({info.width}x{info.height}) is smaller than the scale {scale}"))
        if kfile:
            kernel = raster_io.read_kernel_file(kfile)
        else:
            size = self.parameterAsInt(parameters, "KERNEL_SIZE", context)
            if size % 2 == 0:
                size += 1
                feedback.pushInfo(self.tr(f"kernel size must be odd: using {size}"))
            kernel = gaussian_kernel(size, self.parameterAsDouble(parameters, "KERNEL_SIGMA", context))
        wl = info.wavelengths_nm
        msi_names = None
        if srf_file:
            from ..core.raster_io import _read_numeric_csv

            arr, header = _read_numeric_csv(srf_file)
            if arr.shape[1] == info.count:
                m = arr.shape[0]  # table, rows = MSI bands
            elif arr.shape[0] == info.count:
                m = arr.shape[1]  # transposed table
            else:
                m = arr.shape[1] - 1  # curves: wavelength + one column per MSI band
            srf = raster_io.read_srf_csv(srf_file, m, info.count, wl)
        else:
            if wl is None:
                raise QgsProcessingException(self.tr(
                    "the input has no wavelength metadata: give a spectral response CSV (SRF)"))
            bands = [b for b in SENTINEL2_BANDS if wl.min() <= b[1] <= wl.max()]
            if not bands:
                raise QgsProcessingException(self.tr(
                    f"no Sentinel-2 band lies within the input's wavelengths ({wl.min():.0f}-{wl.max():.0f} nm): "
                    "give a spectral response CSV (SRF)"))
            srf = gaussian_srf([b[1] for b in bands], [b[2] for b in bands], wl)
            msi_names = [f"{b[0]} ({b[1]:.0f} nm)" for b in bands]
        if srf.shape[0] >= info.count:
            raise QgsProcessingException(self.tr(
                f"the response has {srf.shape[0]} MSI bands for {info.count} input bands: an MSI needs fewer bands"))
        raster_io.check_free_space({out_hsi: raster_io.raster_output_bytes(info.count, h // scale, w // scale),
                                    out_msi: raster_io.raster_output_bytes(srf.shape[0], h, w)})
        feedback.setProgress(10)
        data = raster_io.read_raster(path, (0, 0, h, w), info)
        if feedback.isCanceled():
            self.raise_cancelled()
        lr, msi = simulate(data.data, kernel, srf, scale, snr_db=snr if snr > 0 else None, seed=seed)
        feedback.setProgress(70)
        lr_valid = data.valid.reshape(h // scale, scale, w // scale, scale).all(axis=(1, 3))
        hr_t = data.transform
        lr_t = hr_t * Affine.scale(scale)
        if feedback.isCanceled():
            self.raise_cancelled()
        raster_io.write_raster(self.stage(out_hsi), lr, lr_t, info.crs, valid=lr_valid, wavelengths_nm=wl,
                               descriptions=info.descriptions, cancel=feedback.isCanceled)
        msi_wl = (srf @ wl) if wl is not None else None
        raster_io.write_raster(self.stage(out_msi), msi, hr_t, info.crs, valid=data.valid, wavelengths_nm=msi_wl,
                               descriptions=msi_names, cancel=feedback.isCanceled)
        self.commit_outputs(feedback)
        feedback.setProgress(100)
        return {"OUTPUT_HSI": out_hsi, "OUTPUT_MSI": out_msi}
