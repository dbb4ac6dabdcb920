"""hsifusion:estimatedegradation — estimate the blur kernel and spectral response of a sensor pair."""
import time

from qgis.core import QgsProcessingMultiStepFeedback

from .base import CoreProgress, HsiFusionAlgorithm
from .blind_fusion import SCALE_HELP, SRF_HELP


class EstimateDegradationAlgorithm(HsiFusionAlgorithm):
    NAME = "estimatedegradation"
    DISPLAY = "Estimate sensor degradation"
    HELP = (
        "Estimates, from an LR hyperspectral image (HSI) and an HR multispectral image (MSI) of the same scene, "
        "the blur kernel of the HSI sensor (relative to the MSI grid) and the spectral response of the MSI bands "
        "(rows = MSI bands, columns = HSI bands, rows summing to 1), without fusing.\n\n"
        "Output: a JSON file {\"scale\", \"kernel\", \"srf\", \"hsi_wavelengths_nm\", \"msi_wavelengths_nm\"} "
        "that 'Blind HSI-MSI fusion' accepts as DEGRADATION (also in graphical models), and an optional HTML "
        "report. Input requirements are those of the fusion.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_raster("HSI", "Low-resolution hyperspectral image (HSI)", "The hyperspectral raster.")
        self.add_raster("MSI", "High-resolution multispectral image (MSI)", "The multispectral raster.")
        self.add_int("SCALE", "Scale factor (0 = from pixel sizes)", 0, 0, 64, SCALE_HELP)
        self.add_file("SRF", "Starting spectral response (CSV)", "CSV files (*.csv *.txt)", SRF_HELP)
        self.add_device_param()
        self.add_seed_param()
        self.add_file_dest("OUTPUT", "Estimated degradation (JSON)", "JSON files (*.json)",
                           "Kernel, response, scale and wavelengths as JSON.", optional=False)
        self.add_file_dest("REPORT", "Report (HTML)", "HTML files (*.html)",
                           "Optional: an HTML page with the kernel and responses.")

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
            settings = {"HSI": hsi, "MSI": msi, "SRF": srf or "(estimated)", "DEVICE": device, "SEED": seed}
            pipeline.save_report(inputs, deg, self.stage(report), self.tr("Estimated sensor degradation"), settings,
                                 {"read": inputs.read_seconds, "estimation (total)": est_s})
        self.commit_outputs(feedback)
        multi.setProgress(100)
        return {"OUTPUT": out, "REPORT": report}
