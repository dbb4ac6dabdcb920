"""A translation made from the template (i18n/hsi_blind_fusion.ts) reaches the toolbox: the plugin
installs the .qm of QGIS's locale and the algorithms look their texts up in the template's context."""
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.usefixtures("qgis_app")


@pytest.mark.skipif(shutil.which("lrelease") is None, reason="lrelease not installed (qttools5-dev-tools)")
def test_a_translation_reaches_the_algorithms(tmp_path):
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QCoreApplication

    from hsi_blind_fusion.plugin import I18N, install_translator, translation_file

    ts = open(f"{I18N}/hsi_blind_fusion.ts", encoding="utf-8").read()
    for source, target in (("Blind HSI-MSI fusion", "Blinde HSI-MSI-Fusion"),
                           ("Unexpected error ({}): {}", "Unerwarteter Fehler ({}): {}")):
        old = f"<source>{source}</source>\n        <translation type=\"unfinished\"></translation>"
        assert old in ts, source
        ts = ts.replace(old, f"<source>{source}</source>\n        <translation>{target}</translation>")
    (tmp_path / "hsi_blind_fusion_de.ts").write_text(ts, encoding="utf-8")
    subprocess.run(["lrelease", str(tmp_path / "hsi_blind_fusion_de.ts")], check=True, capture_output=True)
    assert translation_file("de_DE", str(tmp_path)).endswith("hsi_blind_fusion_de.qm")
    assert translation_file("fr_FR", str(tmp_path)) is None
    translator = install_translator("de_DE", str(tmp_path))
    try:
        alg = QgsApplication.processingRegistry().algorithmById("hsifusion:blindfusion")
        assert alg.displayName() == "Blinde HSI-MSI-Fusion"
        assert alg.tr("Unexpected error ({}): {}").format("X", "y") == "Unerwarteter Fehler (X): y"
    finally:
        QCoreApplication.removeTranslator(translator)
    assert alg.displayName() == "Blind HSI-MSI fusion"
