"""The QGIS plugin object: registers the Processing provider (desktop and qgis_process)."""
from qgis.core import QgsApplication


class HsiBlindFusionPlugin:
    """Registers :class:`provider.HsiFusionProvider`; ``initProcessing`` alone serves qgis_process."""

    def __init__(self, iface=None):
        self.iface = iface
        self.provider = None

    def initProcessing(self):  # noqa: N802 (QGIS naming)
        from .provider.provider import HsiFusionProvider

        if self.provider is None:
            self.provider = HsiFusionProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
