"""The QGIS plugin object: registers the Processing provider (desktop and qgis_process) and the
translation of QGIS's locale when ``i18n/`` has one (``make translations``)."""
import os

from qgis.core import QgsApplication

I18N = os.path.join(os.path.dirname(os.path.abspath(__file__)), "i18n")


def translation_file(locale, folder=I18N):
    """The compiled translation for ``locale`` (``de_DE`` or ``de``), or None."""
    locale = str(locale or "")
    for name in (locale, locale[:2]):
        path = os.path.join(folder, "hsi_blind_fusion_{}.qm".format(name))
        if name and os.path.isfile(path):
            return path
    return None


def install_translator(locale=None, folder=I18N):
    """Install the translator of ``locale`` (QGIS's user locale by default); returns it, or None."""
    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication, QTranslator

    if locale is None:
        locale = QgsSettings().value("locale/userLocale", "") or ""
    path = translation_file(locale, folder)
    if path is None:
        return None
    translator = QTranslator()
    if not translator.load(path):
        return None
    QCoreApplication.installTranslator(translator)
    return translator


class HsiBlindFusionPlugin:
    """Registers :class:`provider.HsiFusionProvider`; ``initProcessing`` alone serves qgis_process."""

    def __init__(self, iface=None):
        self.iface = iface
        self.provider = None
        self.translator = install_translator()

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
        if self.translator is not None:
            from qgis.PyQt.QtCore import QCoreApplication

            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
