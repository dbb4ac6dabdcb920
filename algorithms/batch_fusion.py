"""hsifusion:batchfusion — many HSI/MSI pairs from a manifest or a folder, one after another in
QGIS or as tasks on a Dask cluster (core/workflow/batch.py).

Inside QGIS no worker process is ever started (QGIS's Python executable is the QGIS binary:
workers would be copies of QGIS): without a scheduler address the pairs run in this QGIS one
after another; with one, each pair is a task on that cluster's workers and QGIS only waits,
shows the progress and cancels the futures on Cancel.
"""
from qgis.PyQt.QtCore import QCoreApplication

from ..core.workflow import specs
from .base import HsiFusionAlgorithm


class BatchFusionAlgorithm(HsiFusionAlgorithm):
    SPEC = specs.BATCH
    REQUIRES = ("torch", "rasterio", "scipy", "matplotlib", "distributed")
    CANCEL_MESSAGE = ("The batch was cancelled: the pairs finished before the cancel are complete (see "
                      "batch_summary.csv in the output folder); run it again to fuse the others.")
    MANIFEST, FOLDER, SCHEDULER, OUTPUT_FOLDER = "MANIFEST", "FOLDER", "SCHEDULER", "OUTPUT_FOLDER"
    SCALE, SRF, MSI_SENSOR, HSI_SENSOR, DEGRADATION = "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR", "DEGRADATION"
    OUTER_ITERATIONS, INNER_ITERATIONS, TILE_SIZE = "OUTER_ITERATIONS", "INNER_ITERATIONS", "TILE_SIZE"
    MSI_DENOISING, STOP_WHEN_CONVERGED, OUTPUT_GRID = "MSI_DENOISING", "STOP_WHEN_CONVERGED", "OUTPUT_GRID"
    KERNEL_SIZE, HSI_CLEANING, MSI_MTF = "KERNEL_SIZE", "HSI_CLEANING", "MSI_MTF"
    MSI_LINEARIZATION, CHANGED_AREAS, BAND_DETAIL = "MSI_LINEARIZATION", "CHANGED_AREAS", "BAND_DETAIL"
    CHROMATIC_BLUR = "CHROMATIC_BLUR"
    DEVICE, SEED, COG = "DEVICE", "SEED", "COG"
    DONE, SKIPPED, FAILED = "DONE", "SKIPPED", "FAILED"

    def checkParameterValues(self, parameters, context):  # noqa: N802
        given = [n for n in (self.MANIFEST, self.FOLDER) if parameters.get(n) not in (None, "")]
        if len(given) == 2:
            # the one translation context of the plugin (base.TR_CONTEXT), literal for pylupdate5
            return False, QCoreApplication.translate(
                "HsiFusionAlgorithm", "Give either a manifest (MANIFEST) or a folder of pairs (FOLDER), not both.")
        if not given:
            return False, QCoreApplication.translate(
                "HsiFusionAlgorithm", "Give a manifest (MANIFEST) or a folder of pairs (FOLDER).")
        return super().checkParameterValues(parameters, context)
