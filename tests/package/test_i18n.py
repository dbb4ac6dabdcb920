"""Translations: tr() with placeholders (never f-strings), and a template i18n/hsi_blind_fusion.ts made
by pylupdate5 that holds every text the algorithms translate (``make translations``)."""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from helpers.paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import translations  # noqa: E402

GLUE = [os.path.join(ROOT, d, f) for d in ("algorithms", "provider") for f in os.listdir(os.path.join(ROOT, d))
        if f.endswith(".py")] + [os.path.join(ROOT, "plugin.py")]


def messages(ts_file):
    root = ET.parse(ts_file).getroot()
    return {(c.findtext("name"), m.findtext("source")) for c in root.iter("context") for m in c.iter("message")}


def test_no_formatted_string_is_translated():
    for path in GLUE:
        text = open(path, encoding="utf-8").read()
        bad = re.findall(r"""(?:\btr|translate)\((?:"[^"]*",\s*)?f["']""", text)
        assert not bad, (path, bad)
        assert not re.search(r"\btr\([^)\"']*\)\s*%", text), path          # nor %-formatting of a translation


def test_template_holds_every_text():
    got = messages(translations.TEMPLATE)
    for text in translations.spec_strings():
        assert (translations.CONTEXT, text) in got, text[:80]
    for path in GLUE:
        for literal in re.findall(r'self\.tr\(\s*"((?:[^"\\]|\\.)*)"\s*\)', open(path, encoding="utf-8").read()):
            assert (translations.CONTEXT, literal.encode().decode("unicode_escape")) in got, literal


@pytest.mark.skipif(shutil.which("pylupdate5") is None, reason="pylupdate5 not installed (pyqt5-dev-tools)")
def test_template_is_up_to_date(tmp_path, monkeypatch):
    monkeypatch.setattr(translations, "GENERATED", str(tmp_path / "tool_specs.py"))
    fresh = tmp_path / "fresh.ts"
    sources = [os.path.relpath(f, ROOT) for f in translations.sources()[:-1]]
    sources.append(translations.write_spec_sources(str(tmp_path / "tool_specs.py")))
    subprocess.run(["pylupdate5", "-noobsolete", *sources, "-ts", str(fresh)], cwd=ROOT, check=True,
                   capture_output=True)
    assert messages(fresh) == messages(translations.TEMPLATE), "run `make translations`"
