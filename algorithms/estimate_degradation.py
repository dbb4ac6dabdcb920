"""hsifusion:estimatedegradation — estimate the blur kernel and spectral response of a sensor pair."""
import time

from qgis.core import QgsProcessingMultiStepFeedback

from .base import CoreProgress, HsiFusionAlgorithm
from .blind_fusion import SCALE_HELP, SRF_HELP


class EstimateDegradationAlgorithm(HsiFusionAlgorithm):
    NAME = "estimatedegradation"
    DISPLAY = "Estimate sensor degradation"
    HELP = (
        "Estimates, from a low-resolution hyperspectral image (HSI) and a high-resolution multispectral image (MSI) "
        "of the same scene, the blur kernel of the HSI sensor (relative to the MSI grid) and the spectral response "
        "of the MSI bands, without fusing. Fast (seconds): useful to check a sensor pair or to reuse the estimate "
        "in several fusions.\n\n"
        "Inputs\n"
        "- HSI and MSI rasters, with the same requirements as 'Blind HSI-MSI fusion' (same CRS, integer pixel-size "
        "ratio, aligned grids).\n"
        "- Optional starting response: a CSV (SRF) or a sensor preset (MSI_SENSOR).\n\n"
        "Outputs\n"
        "- OUTPUT: a JSON file with scale, kernel, srf (rows = MSI bands, columns = HSI bands, rows summing to 1), "
        "msi_gain and the wavelengths; 'Blind HSI-MSI fusion' takes it as DEGRADATION (also in graphical "
        "models).\n"
        "- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour "
        "previews and the per-band residuals of the estimate.\n\n"
        "Tips\n"
        "- Compare the estimated responses with the sensor's published ones in the report: a response far from "
        "them often means misregistered inputs.\n\n"
        "Limits\n"
        "- One kernel and one response for the whole scene.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_raster("HSI", "Low-resolution hyperspectral image (HSI)", "The hyperspectral raster.")
        self.add_raster("MSI", "High-resolution multispectral image (MSI)", "The multispectral raster.")
        self.add_int("SCALE", "Scale factor (0 = from pixel sizes)", 0, 0, 64, SCALE_HELP)
        self.add_file("SRF", "Starting spectral response (CSV)", "CSV files (*.csv *.txt)", SRF_HELP)
        self.add_sensor_params()
        self.add_device_param()
        self.add_seed_param()
        self.add_file_dest("OUTPUT", "Estimated degradation (JSON)", "JSON files (*.json)",
                           "Kernel, response, scale and wavelengths as JSON.", optional=False)
        self.add_file_dest("REPORT", "Report (HTML)", "HTML files (*.html)",
                           "Optional: an HTML page (figures embedded) with the kernel and responses beside their starting "
                           "points, colour previews, per-band residuals, losses, settings, timings and device. QGIS "
                           "opens it in the results viewer.")

    def process(self, parameters, context, feedback):
        from ..core import pipeline

        multi = QgsProcessingMultiStepFeedback(3, feedback)
        multi.setCurrentStep(0)
        hsi = self.raster_path(parameters, "HSI", context)
        msi = self.raster_path(parameters, "MSI", context)
        scale = self.parameterAsInt(parameters, "SCALE", context)
        srf = self.optional_file(parameters, "SRF", context)
        device = self.device(parameters, context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        out = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        report = self.optional_output(parameters, "REPORT", context)

        self.check_outputs([(out, (".json",), "output OUTPUT"), (report, (".html", ".htm"), "output REPORT")],
                           (hsi, msi, srf))
        inputs = pipeline.load_inputs(hsi, msi, scale, srf, cancel=feedback.isCanceled)
        self.push_warnings(feedback, inputs.warnings)
        srf_source = self.apply_sensor_presets(parameters, context, feedback, inputs)
        from ..core import raster_io

        raster_io.check_free_space({out: 100_000, report: 2_000_000})
        if feedback.isCanceled():
            self.raise_cancelled()
        bridge = CoreProgress(multi, 1, 1)
        t0 = time.perf_counter()
        deg = pipeline.run_estimation(inputs, device, seed, bridge.progress, bridge.cancel)
        est_s = time.perf_counter() - t0
        multi.setCurrentStep(2)
        if feedback.isCanceled():
            self.raise_cancelled()
        pipeline.save_degradation(inputs, deg, self.stage(out))
        if report:
            settings = {"HSI": hsi, "MSI": msi, "SRF": srf or "(none)", "starting response": srf_source,
                        "DEVICE": device, "SEED": seed}
            pipeline.save_report(inputs, deg, self.stage(report), self.tr("Estimated sensor degradation"), settings,
                                 {"read": inputs.read_seconds, "estimation (total)": est_s})
        self.commit_outputs(feedback)
        multi.setProgress(100)
        return {"OUTPUT": out, "REPORT": report}
