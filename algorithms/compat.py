"""QGIS enum values that work from QGIS 3.22 (PyQt5) to QGIS 4 (PyQt6).

PyQt6 only knows scoped enums (``QgsProcessingParameterNumber.Type.Integer``), and QGIS 3.36
moved several processing enums into ``Qgis`` (``Qgis.ProcessingNumberParameterType.Integer``).
QGIS 3.22's PyQt5 bindings accept the scoped form too, so each value here is looked up as the
newest scoped name first, then the scoped name QGIS 3.22 has; the unscoped name is never needed.
"""
from qgis.core import (
    Qgis,
    QgsContrastEnhancement,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsRasterMinMaxOrigin,
)


def scoped(*candidates):
    """The first ``(owner, "Enum", "Value")`` that exists, as ``owner.Enum.Value``."""
    for owner, enum, value in candidates:
        scope = getattr(owner, enum, None)
        if scope is not None and hasattr(scope, value):
            return getattr(scope, value)
    raise AttributeError(f"none of {[f'{o.__name__}.{e}.{v}' for o, e, v in candidates]} exists")


NUMBER_INTEGER = scoped((Qgis, "ProcessingNumberParameterType", "Integer"),
                        (QgsProcessingParameterNumber, "Type", "Integer"))
NUMBER_DOUBLE = scoped((Qgis, "ProcessingNumberParameterType", "Double"),
                       (QgsProcessingParameterNumber, "Type", "Double"))
FILE_BEHAVIOR_FILE = scoped((Qgis, "ProcessingFileParameterBehavior", "File"),
                            (QgsProcessingParameterFile, "Behavior", "File"))
FLAG_ADVANCED = scoped((Qgis, "ProcessingParameterFlag", "Advanced"),
                       (QgsProcessingParameterDefinition, "Flag", "FlagAdvanced"))
STRETCH_TO_MINMAX = scoped((QgsContrastEnhancement, "ContrastEnhancementAlgorithm", "StretchToMinimumMaximum"))
LIMITS_CUMULATIVE_CUT = scoped((Qgis, "RasterRangeLimit", "CumulativeCut"),
                               (QgsRasterMinMaxOrigin, "Limits", "CumulativeCut"))
EXTENT_WHOLE_RASTER = scoped((Qgis, "RasterRangeExtent", "WholeRaster"),
                             (QgsRasterMinMaxOrigin, "Extent", "WholeRaster"))
ACCURACY_ESTIMATED = scoped((Qgis, "RasterRangeAccuracy", "Estimated"),
                            (QgsRasterMinMaxOrigin, "StatAccuracy", "Estimated"))
