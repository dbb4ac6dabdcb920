"""How the algorithms' raster outputs look when QGIS loads them: a colour composite chosen from the
bands' wavelengths (``core/display.py``: true colour from the bands nearest 640 / 550 / 470 nm, else
a false colour), each band stretched over its 2-98 % cumulative cut, as EnMAP-Box shows spectral
rasters. QGIS's default (bands 1-2-3, violet and blue for a hyperspectral image) is kept for rasters
without wavelengths.

:func:`attach_colour_renderer` asks QGIS to run :class:`ColourCompositePostProcessor` on an output
when (and only when) the dialog, the batch dialog or ``processing.runAndLoadResults`` loads it.
"""
from collections import deque

from qgis.core import (
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterMinMaxOrigin,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..core.display import colour_composite
from .compat import ACCURACY_ESTIMATED, EXTENT_WHOLE_RASTER, LIMITS_CUMULATIVE_CUT, STRETCH_TO_MINMAX

#: cumulative cut of the stretch (fractions of the pixels below the minimum and the maximum)
CUT = (0.02, 0.98)
#: pixels sampled for the stretch (QGIS's own "estimated" statistics sample as many)
SAMPLE_SIZE = 250_000


def raster_wavelengths(layer):
    """The wavelengths (nm) of a GDAL raster layer's bands, or None (unknown, or not a file)."""
    try:
        from ..core import io

        return io.raster_info(layer.source().split("|")[0]).wavelengths_nm
    except Exception:  # noqa: BLE001 - a layer we cannot read keeps QGIS's renderer
        return None


def apply_colour_renderer(layer, wavelengths_nm=None):
    """Give ``layer`` a multiband colour renderer from its wavelengths; returns the composite, or None
    when the layer has no wavelengths (or fewer than three bands) and keeps its renderer."""
    wl = raster_wavelengths(layer) if wavelengths_nm is None else wavelengths_nm
    if wl is None or layer.bandCount() < 3:
        return None
    composite = colour_composite(layer.bandCount(), wl)
    provider = layer.dataProvider()
    red, green, blue = composite.band_numbers
    renderer = QgsMultiBandColorRenderer(provider, red, green, blue)
    setters = (renderer.setRedContrastEnhancement, renderer.setGreenContrastEnhancement,
               renderer.setBlueContrastEnhancement)
    for band, setter in zip((red, green, blue), setters):
        lo, hi = provider.cumulativeCut(band, CUT[0], CUT[1], layer.extent(), SAMPLE_SIZE)
        enhancement = QgsContrastEnhancement(provider.dataType(band))
        enhancement.setContrastEnhancementAlgorithm(STRETCH_TO_MINMAX)
        enhancement.setMinimumValue(lo)
        enhancement.setMaximumValue(hi if hi > lo else lo + 1e-12)
        setter(enhancement)
    origin = QgsRasterMinMaxOrigin()
    origin.setLimits(LIMITS_CUMULATIVE_CUT)
    origin.setCumulativeCutLower(CUT[0])
    origin.setCumulativeCutUpper(CUT[1])
    origin.setExtent(EXTENT_WHOLE_RASTER)
    origin.setStatAccuracy(ACCURACY_ESTIMATED)
    renderer.setMinMaxOrigin(origin)
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return composite


class ColourCompositePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Runs :func:`apply_colour_renderer` on a raster output once QGIS has loaded it."""

    #: QGIS holds a post-processor by a C++ pointer: the Python objects are kept alive here until
    #: long after QGIS used them (a bounded history, so a long session does not grow it)
    _alive = deque(maxlen=256)

    @classmethod
    def create(cls):
        instance = cls()
        cls._alive.append(instance)
        return instance

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS naming)
        if not isinstance(layer, QgsRasterLayer):
            return
        composite = apply_colour_renderer(layer)
        if composite is not None and feedback is not None:
            feedback.pushInfo(QCoreApplication.translate(
                "ColourCompositePostProcessor", "{}: shown in {} (bands {}, {}, {})").format(
                    layer.name(), composite.name, *composite.band_numbers))


def attach_colour_renderer(context, output):
    """Ask for the colour renderer on ``output`` (a raster path) if the run loads it on completion."""
    if output and context.willLoadLayerOnCompletion(output):
        context.layerToLoadOnCompletionDetails(output).setPostProcessor(ColourCompositePostProcessor.create())
        return True
    return False
