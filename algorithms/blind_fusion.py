"""hsifusion:blindfusion — blind fusion of an LR hyperspectral and an HR multispectral raster."""
import time

from qgis.core import QgsProcessingMultiStepFeedback

from .base import CoreProgress, HsiFusionAlgorithm

SRF_HELP = ("Optional CSV with the starting spectral response: either a table with one row per MSI band and one "
            "column per HSI band (a header row and a label column are allowed), or response curves: first column "
            "wavelength in nm, then one column per MSI band (the HSI must then carry wavelengths). The estimation "
            "refines it. Without it, MSI_SENSOR gives the starting response (or none: estimated from the data alone).")
TILE_HELP = ("Side, in MSI pixels, of the tiles the fused image is computed and written in. 0 picks it from the "
             "available memory. Tiles are computed with a margin, so the result does not depend on it (no seams); "
             "smaller tiles use less memory, larger ones are slightly faster.")
DENOISE_HELP = ("Strength of the non-local means applied to the MSI before it guides the reconstruction (the "
                "MSI's noise would otherwise go into every fused band; its level is estimated from the data). "
                "0 turns it off, e.g. for an MSI that is already denoised; higher values smooth more.")
SCALE_HELP = ("Ratio of HSI to MSI pixel size (an integer). 0 derives it from the pixel sizes; a non-zero value "
              "must agree with them.")


class BlindFusionAlgorithm(HsiFusionAlgorithm):
    NAME = "blindfusion"
    DISPLAY = "Blind HSI-MSI fusion"
    REQUIRES = ("torch", "onnxruntime", "rasterio", "scipy")
    HELP = (
        "Fuses a low-resolution hyperspectral image (HSI) with a high-resolution multispectral image (MSI) of the "
        "same scene into a hyperspectral image at the MSI's resolution. The blur kernel of the HSI (relative to the "
        "MSI grid) and the spectral response of the MSI bands are estimated from the two images (blind fusion), "
        "then the fused image is reconstructed.\n\n"
        "Inputs\n"
        "- HSI and MSI rasters (GeoTIFF, ENVI, ...) in the same CRS, the HSI pixel an integer multiple of the MSI "
        "pixel, grids aligned (HSI pixel edges on MSI pixel edges). Only the common area is processed; nodata "
        "pixels are left out.\n"
        "- Optional starting points: a response CSV (SRF), a sensor preset (MSI_SENSOR, detected automatically "
        "from wavelength metadata), or a degradation JSON from 'Estimate sensor degradation'.\n\n"
        "Outputs\n"
        "- OUTPUT: float32 GeoTIFF on the MSI grid, one band per HSI band (HSI band names and wavelengths).\n"
        "- OUTPUT_DEGRADATION (optional): the estimated kernel and response as JSON.\n"
        "- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour "
        "previews, per-band consistency residuals, loss curves, settings, timings and the device.\n\n"
        "Tips\n"
        "- Start with fewer outer iterations (e.g. 10) to check the setup, then use the default 40.\n"
        "- Give MSI_SENSOR (or let 'auto' detect it) when the MSI is Sentinel-2, Landsat 8/9 or an RGB camera: "
        "the response estimate starts closer to the truth.\n"
        "- DEVICE=cuda needs an NVIDIA GPU and a CUDA build of torch.\n\n"
        "Large scenes\n"
        "- The fused image is computed tile by tile and written window by window, never held whole in memory; each "
        "tile is computed with a margin covering every local step, so tiles meet without seams (identical to an "
        "untiled run). TILE_SIZE sets the tile side (0 = from the available memory).\n\n"
        "Limits\n"
        "- The inputs (HSI and MSI of the common area) are held in memory: about 3 times their float32 size.\n"
        "- One kernel and one response for the whole scene; the inputs must be co-registered and acquired close "
        "in time.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_raster("HSI", "Low-resolution hyperspectral image (HSI)",
                        "The hyperspectral raster: many bands, coarse pixels.")
        self.add_raster("MSI", "High-resolution multispectral image (MSI)",
                        "The multispectral raster: fewer bands than the HSI, fine pixels. The output uses its grid.")
        self.add_int("SCALE", "Scale factor (0 = from pixel sizes)", 0, 0, 64, SCALE_HELP)
        self.add_file("SRF", "Starting spectral response (CSV)", "CSV files (*.csv *.txt)", SRF_HELP)
        self.add_sensor_params()
        self.add_file("DEGRADATION", "Starting degradation (JSON from 'Estimate sensor degradation')",
                      "JSON files (*.json)",
                      "Optional kernel and response estimated earlier; the fusion starts from them.")
        self.add_int("OUTER_ITERATIONS", "Outer iterations", 40, 1, 10000,
                     "Alternations between the image and the degradation estimates.")
        self.add_int("INNER_ITERATIONS", "Inner iterations", 10, 1, 10000,
                     "Gradient steps per outer iteration.", advanced=True)
        self.add_int("TILE_SIZE", "Tile size (MSI pixels, 0 = automatic)", 0, 0, 16384, TILE_HELP, advanced=True)
        self.add_double("MSI_DENOISING", "MSI denoising strength (0 = off)", 0.85, 0.0, 5.0, DENOISE_HELP,
                        advanced=True)
        self.add_device_param()
        self.add_seed_param()
        self.add_raster_dest("OUTPUT", "Fused hyperspectral image",
                             "Float32 GeoTIFF on the MSI grid, one band per HSI band.")
        self.add_file_dest("OUTPUT_DEGRADATION", "Estimated degradation (JSON)", "JSON files (*.json)",
                           "Optional: the estimated kernel and response, reusable as DEGRADATION.")
        self.add_file_dest("REPORT", "Report (HTML)", "HTML files (*.html)",
                           "Optional: an HTML page (figures embedded) with the kernel and responses beside their starting "
                           "points, colour previews, per-band residuals, losses, settings, timings and device. QGIS "
                           "opens it in the results viewer.")

    def process(self, parameters, context, feedback):
        from ..core import pipeline

        multi = QgsProcessingMultiStepFeedback(5, feedback)
        multi.setCurrentStep(0)
        multi.setProgressText(self.tr("Reading and checking the inputs"))
        hsi = self.raster_path(parameters, "HSI", context)
        msi = self.raster_path(parameters, "MSI", context)
        scale = self.parameterAsInt(parameters, "SCALE", context)
        srf = self.optional_file(parameters, "SRF", context)
        deg = self.optional_file(parameters, "DEGRADATION", context)
        outer = self.parameterAsInt(parameters, "OUTER_ITERATIONS", context)
        inner = self.parameterAsInt(parameters, "INNER_ITERATIONS", context)
        device = self.device(parameters, context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        tile = self.parameterAsInt(parameters, "TILE_SIZE", context) if parameters.get("TILE_SIZE") is not None else 0
        denoise = (self.parameterAsDouble(parameters, "MSI_DENOISING", context)
                   if parameters.get("MSI_DENOISING") is not None else None)   # None: the core's default
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        out_deg = self.optional_output(parameters, "OUTPUT_DEGRADATION", context)
        report = self.optional_output(parameters, "REPORT", context)

        self.check_outputs([(out, (".tif", ".tiff"), "output OUTPUT"),
                            (out_deg, (".json",), "output OUTPUT_DEGRADATION"),
                            (report, (".html", ".htm"), "output REPORT")], (hsi, msi, srf, deg))
        inputs = pipeline.load_inputs(hsi, msi, scale, srf, deg, cancel=feedback.isCanceled)
        self.push_warnings(feedback, inputs.warnings)
        srf_source = self.apply_sensor_presets(parameters, context, feedback, inputs)
        feedback.pushInfo(self.tr(
            f"HSI {inputs.pair.hsi.data.shape}, MSI {inputs.pair.msi.data.shape}, scale {inputs.scale}"))
        from ..core import raster_io

        raster_io.check_free_space({out: pipeline.fused_output_bytes(inputs), out_deg: 100_000,
                                    report: 2_000_000})
        if feedback.isCanceled():
            self.raise_cancelled()
        bridge = CoreProgress(multi, 1, 3)
        t0 = time.perf_counter()
        # The fused image goes window by window into the staged output file (renamed by commit_outputs).
        result = pipeline.run_fusion(inputs, outer, inner, device, seed, bridge.progress, bridge.cancel,
                                     output_path=self.stage(out), tile_size=tile, msi_denoising=denoise)
        fuse_s = time.perf_counter() - t0
        diag = getattr(result, "diagnostics", None) or {}
        feedback.pushInfo(self.tr(f"Fusion done in {fuse_s:.1f} s on {diag.get('device', device)} "
                                  f"(tiles of {diag.get('tile_size', '?')} pixels, written window by window)"))

        multi.setCurrentStep(4)
        multi.setProgressText(self.tr("Writing the outputs"))
        if out_deg:
            if feedback.isCanceled():
                self.raise_cancelled()
            pipeline.save_degradation(inputs, result, self.stage(out_deg))
        if report:
            if feedback.isCanceled():
                self.raise_cancelled()
            settings = {"HSI": hsi, "MSI": msi, "SRF": srf or "(none)", "starting response": srf_source,
                        "DEGRADATION": deg or "(none)",
                        "OUTER_ITERATIONS": outer, "INNER_ITERATIONS": inner, "TILE_SIZE": tile or "auto",
                        "MSI_DENOISING": "default" if denoise is None else denoise, "DEVICE": device, "SEED": seed}
            pipeline.save_report(inputs, result, self.stage(report), self.tr("Blind HSI-MSI fusion"), settings,
                                 {"read": inputs.read_seconds, "fusion (total)": fuse_s})
        self.commit_outputs(feedback)
        multi.setProgress(100)
        return {"OUTPUT": out, "OUTPUT_DEGRADATION": out_deg, "REPORT": report}
