"""Processing provider ``hsifusion`` ("HSI blind fusion"): registers every algorithm, always.

Algorithms whose Python dependencies (torch, onnxruntime) are missing stay registered and say in
``canExecute()`` which package is missing and the exact command that installs it.
"""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .. import __version__

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class HsiFusionProvider(QgsProcessingProvider):
    def id(self):
        return "hsifusion"

    def name(self):
        return "HSI blind fusion"

    def longName(self):  # noqa: N802
        return f"HSI blind fusion {__version__}"

    def icon(self):
        return QIcon(ICON)

    def svgIconPath(self):  # noqa: N802
        return ICON

    def versionInfo(self):  # noqa: N802
        return __version__

    def supportedOutputRasterLayerExtensions(self):  # noqa: N802
        """GeoTIFF first (the default), then ENVI by its interleave (core/io/raster_formats.py)."""
        return ["tif", "bsq", "bil", "bip"]

    def loadAlgorithms(self):  # noqa: N802
        from ..algorithms import all_algorithms

        for alg in all_algorithms():
            self.addAlgorithm(alg)
