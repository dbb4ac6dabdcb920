"""hsi_blind_fusion: QGIS Processing plugin for blind fusion of hyperspectral and multispectral images.

Importing this package needs neither QGIS nor torch: QGIS is only imported inside
:func:`classFactory` (called by QGIS) and the numerical core lives in :mod:`hsi_blind_fusion.core`.
"""

__version__ = "0.1.0"


def classFactory(iface):  # noqa: N802 (QGIS naming)
    """QGIS entry point: return the plugin object."""
    from .plugin import HsiBlindFusionPlugin

    return HsiBlindFusionPlugin(iface)
