"""hsifusion:fusionquality — RMSE, PSNR, SAM, SSIM and ERGAS of a fused image against a reference."""
import numpy as np
from qgis.core import QgsProcessingException

from .base import HsiFusionAlgorithm

METRICS = ("RMSE", "PSNR", "SAM", "SSIM", "ERGAS")


class FusionQualityAlgorithm(HsiFusionAlgorithm):
    NAME = "fusionquality"
    DISPLAY = "Fusion quality"
    GROUP = "Tools"
    GROUP_ID = "tools"
    HELP = (
        "Scores a fused hyperspectral image against a reference of the same grid and bands.\n\n"
        "Inputs\n"
        "- REFERENCE: the true high-resolution hyperspectral image; FUSED: the image to score, same size and "
        "bands.\n"
        "- SCALE: the HSI/MSI pixel-size ratio of the fusion, for ERGAS (0 skips ERGAS).\n\n"
        "Outputs\n"
        "- RMSE (image units), PSNR (dB, peak = reference maximum), SAM (mean spectral angle, degrees), SSIM "
        "(mean over bands), ERGAS: numeric outputs, usable in graphical models.\n"
        "- OUTPUT_CSV (optional): the metrics as CSV.\n\n"
        "Tips\n"
        "- Pixels that are nodata in either raster are left out.\n\n"
        "Limits\n"
        "- Needs a reference: on real data without one, look at the consistency residuals of the fusion report "
        "instead.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_raster("REFERENCE", "Reference (truth) image", "The true high-resolution hyperspectral image.")
        self.add_raster("FUSED", "Fused image", "The image to score, on the reference's grid.")
        self.add_int("SCALE", "Scale factor (for ERGAS; 0 = skip ERGAS)", 0, 0, 64,
                     "HSI/MSI pixel-size ratio of the fusion; ERGAS is not computed when 0.", optional=True)
        self.add_file_dest("OUTPUT_CSV", "Metrics (CSV)", "CSV files (*.csv)", "Optional: the metrics as CSV.")
        for m, d in zip(METRICS, ("RMSE", "PSNR (dB)", "SAM (degrees)", "SSIM", "ERGAS")):
            self.add_number_output(m, d)

    def process(self, parameters, context, feedback):
        from ..core import metrics, raster_io

        ref_path = self.raster_path(parameters, "REFERENCE", context)
        fus_path = self.raster_path(parameters, "FUSED", context)
        scale = self.parameterAsInt(parameters, "SCALE", context) if parameters.get("SCALE") is not None else 0
        out_csv = self.optional_output(parameters, "OUTPUT_CSV", context)
        self.check_outputs([(out_csv, (".csv", ".txt"), "output OUTPUT_CSV")], (ref_path, fus_path))
        ri, fi = raster_io.raster_info(ref_path), raster_io.raster_info(fus_path)
        if (ri.count, ri.height, ri.width) != (fi.count, fi.height, fi.width):
            raise QgsProcessingException(self.tr(
                f"the reference ({ri.count} bands, {ri.width}x{ri.height}) and the fused image ({fi.count} bands, "
                f"{fi.width}x{fi.height}) differ: they must have the same bands and grid"))
        if ri.georeferenced and fi.georeferenced and not ri.transform.almost_equals(fi.transform):
            feedback.pushWarning(self.tr("the reference and fused rasters have different geotransforms; "
                                         "compared pixel by pixel"))
        ref = raster_io.read_raster(ref_path, info=ri)
        fus = raster_io.read_raster(fus_path, info=fi)
        valid = ref.valid & fus.valid
        if not valid.any():
            raise QgsProcessingException(self.tr("no pixel is valid in both rasters"))
        r, f = ref.data, fus.data
        if not valid.all():
            feedback.pushInfo(self.tr(f"{int((~valid).sum())} nodata pixels left out"))
            rows, cols = np.where(valid)
            r = r[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1].copy()
            f = f[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1].copy()
            v = valid[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            f[:, ~v] = r[:, ~v]  # holes inside the box count as perfect (noted in the help)
            rv, fv = ref.data[:, valid][:, None, :], fus.data[:, valid][:, None, :]
        else:
            rv, fv = r, f
        res = {
            "RMSE": metrics.rmse(rv, fv),
            "PSNR": metrics.psnr(rv, fv),
            "SAM": metrics.sam(rv, fv),
            "SSIM": metrics.ssim(r, f),
            "ERGAS": metrics.ergas(rv, fv, scale) if scale and scale > 0 else None,
        }
        for k, v in res.items():
            feedback.pushInfo(f"{k}: {'n/a' if v is None else f'{v:.6g}'}")
        if out_csv:
            from ..core.raster_io import write_text_atomic

            lines = ["metric,value"] + [f"{k},{'' if v is None else repr(float(v))}" for k, v in res.items()]
            if feedback.isCanceled():
                self.raise_cancelled()
            write_text_atomic(self.stage(out_csv), "\n".join(lines) + "\n")
            self.commit_outputs(feedback)
        res["OUTPUT_CSV"] = out_csv
        return res
