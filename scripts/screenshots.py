#!/usr/bin/env python3
"""Screenshots of the real QGIS desktop: each algorithm's dialog, one run from a dialog, and its output
on the map canvas.

Starts ``/usr/bin/qgis`` under Xvfb (``xvfb-run``) with a temporary profile in which the plugin, unpacked
from the zip that ``make zip`` builds, is installed and enabled. A startup script (``--code``) loads a
small synthetic scene, opens each algorithm's dialog (``AlgorithmDialog``), checks that every parameter
has a widget whose label carries its help (tooltip), grabs the dialog (``QWidget.grab()``) into
``docs/screenshots/<alg>.png`` (8-bit palette PNG, small), then presses Run in the ``blindfusion``
dialog (``runAlgorithm()``: the checks, the background task, then the loading of the output with its
post-processor, as a user's click does), waits for the fused raster in the project, checks its
renderer (true colour: the bands nearest 640 / 550 / 470 nm) and grabs the map canvas into
``docs/screenshots/fused_true_colour.png``. QGIS exits by itself; this script prints what was checked
and exits non-zero when something failed.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep]

Slow (a QGIS start, about a minute); not part of ``make test``. Needs xvfb (scripts/setup.sh installs it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
ALGS = ("blindfusion", "estimatedegradation", "simulateobservations", "fusionquality")

STARTUP = r'''
import json, os, sys, traceback
from qgis.PyQt.QtCore import QTimer, Qt
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtWidgets import QApplication
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.utils import iface

CFG = json.load(open(os.environ["HSIFUSION_SHOT_CONFIG"]))
STATUS = {"dialogs": {}, "run": None, "canvas": None, "errors": [], "plugin_file": None}


def save_status():
    with open(CFG["status"], "w") as fh:
        json.dump(STATUS, fh, indent=1)


def wait(ms):
    from qgis.PyQt.QtCore import QEventLoop
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(widget, path, dither=Qt.ImageConversionFlag.ThresholdDither):
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_Indexed8,
                                                 dither | Qt.ImageConversionFlag.AutoColor)
    img.save(path, "PNG")


def project_layer(source):
    for layer in QgsProject.instance().mapLayers().values():
        if layer.source().split("|")[0] == source:
            return layer
    return None


def check_dialog(alg_id, dlg):
    panel = dlg.mainWidget()
    wrappers = getattr(panel, "wrappers", {})
    alg = dlg.algorithm()
    info = {"parameters": [], "missing_widget": [], "missing_help": []}
    for p in alg.parameterDefinitions():
        info["parameters"].append(p.name())
        w = wrappers.get(p.name())
        if w is None:
            if not p.isDestination():
                info["missing_widget"].append(p.name())
            continue
        label = w.wrappedLabel() if hasattr(w, "wrappedLabel") else None
        if label is None and hasattr(w, "wrappedWidget"):
            label = w.wrappedWidget()      # a check box carries its own label (and tooltip)
        tip = label.toolTip() if label is not None else ""
        words = p.help().split()[:4]
        if not all(x in tip for x in words):
            info["missing_help"].append(p.name())
    from qgis.PyQt.QtWidgets import QTextBrowser
    browser = dlg.findChild(QTextBrowser, "textShortHelp")
    text = browser.toPlainText() if browser is not None else ""
    info["help_panel"] = alg.shortHelpString().split("\n")[0][:60] in text
    return info


def set_value(dlg, name, value):
    w = dlg.mainWidget().wrappers[name]
    from processing.tools import dataobjects
    w.setParameterValue(value, dataobjects.createContext())


def main():
    try:
        import processing
        from processing.gui.AlgorithmDialog import AlgorithmDialog
        import hsi_blind_fusion
        STATUS["plugin_file"] = hsi_blind_fusion.__file__
        reg = QgsApplication.processingRegistry()
        hsi = QgsRasterLayer(CFG["hsi"], "hsi (20 bands, 32x32)")
        msi = QgsRasterLayer(CFG["msi"], "msi (8 bands, 128x128)")
        QgsProject.instance().addMapLayers([msi, hsi])
        iface.mapCanvas().setExtent(msi.extent())
        wait(500)
        for alg_id in CFG["algs"]:
            alg = reg.algorithmById("hsifusion:" + alg_id)
            if alg is None:
                STATUS["errors"].append("algorithm not found: " + alg_id)
                continue
            dlg = AlgorithmDialog(alg.create(), parent=iface.mainWindow())
            dlg.resize(1100, 780)
            try:
                if alg_id in ("blindfusion", "estimatedegradation"):
                    set_value(dlg, "HSI", hsi)
                    set_value(dlg, "MSI", msi)
                elif alg_id == "simulateobservations":
                    set_value(dlg, "INPUT", CFG["truth"])
                elif alg_id == "fusionquality":
                    set_value(dlg, "REFERENCE", CFG["truth"])
            except Exception:
                STATUS["errors"].append(alg_id + ": " + traceback.format_exc())
            dlg.show()
            wait(1500)
            info = check_dialog(alg_id, dlg)
            grab(dlg, os.path.join(CFG["out"], alg_id + ".png"))
            info["screenshot"] = os.path.join(CFG["out"], alg_id + ".png")
            if alg_id == "blindfusion":
                set_value(dlg, "OUTER_ITERATIONS", 2)
                set_value(dlg, "INNER_ITERATIONS", 2)
                set_value(dlg, "OUTPUT", CFG["fused"])
                set_value(dlg, "REPORT", CFG["report"])
                params = dlg.createProcessingParameters()  # the dialog's values (getParameterValues in later QGIS)
                info["run_parameters"] = {k: str(v) for k, v in params.items()}
                dlg.runAlgorithm()                          # the Run button: checks, task, loading, post-processor
                fused = None
                for _ in range(CFG.get("run_timeout_s", 300) * 2):
                    fused = project_layer(CFG["fused"])
                    if fused is not None and fused.renderer() is not None and \
                            fused.renderer().type() == "multibandcolor":
                        break
                    wait(500)
                STATUS["run"] = {"OUTPUT": CFG["fused"], "REPORT": CFG["report"],
                                 "fused_valid": bool(fused and fused.isValid()),
                                 "fused_bands": fused.bandCount() if fused else 0}
                if fused is not None:
                    r = fused.renderer()
                    bands = [r.redBand(), r.greenBand(), r.blueBand()] if r.type() == "multibandcolor" else []
                    STATUS["canvas"] = {"renderer": r.type(), "bands": bands}
                    for layer in QgsProject.instance().mapLayers().values():
                        node = QgsProject.instance().layerTreeRoot().findLayer(layer.id())
                        if node is not None:
                            node.setItemVisibilityChecked(layer.id() == fused.id())
                    canvas = iface.mapCanvas()
                    canvas.setExtent(fused.extent())
                    canvas.refreshAllLayers()
                    wait(3000)
                    path = os.path.join(CFG["out"], "fused_true_colour.png")
                    grab(canvas, path, Qt.ImageConversionFlag.DiffuseDither)
                    STATUS["canvas"]["screenshot"] = path
            STATUS["dialogs"][alg_id] = info
            dlg.close()
            wait(300)
    except Exception:
        STATUS["errors"].append(traceback.format_exc())
    save_status()
    QgsProject.instance().setDirty(False)
    os._exit(0)


QTimer.singleShot(CFG.get("start_delay_ms", 4000), main)
'''


def install_profile(profiles: str, plugin_zip: str) -> str:
    prof = os.path.join(profiles, "profiles", "default")
    plugins = os.path.join(prof, "python", "plugins")
    os.makedirs(plugins, exist_ok=True)
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)
    os.makedirs(os.path.join(prof, "QGIS"), exist_ok=True)
    with open(os.path.join(prof, "QGIS", "QGIS3.ini"), "w") as fh:
        fh.write(textwrap.dedent("""\
            [PythonPlugins]
            hsi_blind_fusion=true
            processing=true

            [qgis]
            checkVersion=false
            showTips322=false
            allowVersionCheck=false

            [core]
            NewsFeed\\httpsfeedqgisorg\\disabled=true
            """))
    with open(os.path.join(profiles, "profiles", "profiles.ini"), "w") as fh:
        fh.write("[core]\ndefaultProfile=default\n")
    return plugins


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshots"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--timeout", type=int, default=420)
    args = ap.parse_args(argv)
    if shutil.which("xvfb-run") is None or not os.path.exists("/usr/bin/qgis"):
        print("screenshots: needs xvfb-run and /usr/bin/qgis (run scripts/setup.sh)")
        return 2
    import build_zip
    from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene

    tmp = tempfile.mkdtemp(prefix="hsifusion-shots-")
    os.makedirs(args.out, exist_ok=True)
    plugin_zip = build_zip.build(os.path.join(tmp, "dist"))
    plugins = install_profile(os.path.join(tmp, "profiles"), plugin_zip)
    scene = write_scene(make_scene(size=128, scale=4, bands=20, snr_db=40.0, seed=0), os.path.join(tmp, "scene"))
    cfg = {"hsi": scene["hsi"], "msi": scene["msi"], "truth": scene["truth"], "algs": list(ALGS),
           "out": os.path.abspath(args.out), "status": os.path.join(tmp, "status.json"),
           "fused": os.path.join(tmp, "fused.tif"), "report": os.path.join(tmp, "report.html")}
    with open(os.path.join(tmp, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    startup = os.path.join(tmp, "startup.py")
    with open(startup, "w") as fh:
        fh.write(STARTUP)
    env = {k: v for k, v in os.environ.items() if k not in ("QGIS_PLUGINPATH", "QGIS_CUSTOM_CONFIG_PATH",
                                                            "PYTHONPATH", "QT_QPA_PLATFORM")}
    # torch & co. come from the checkout's .venv (QGIS's embedded Python finds it through PATH).
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["HSIFUSION_SHOT_CONFIG"] = os.path.join(tmp, "config.json")
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "2")
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x1000x24", "/usr/bin/qgis", "--profiles-path",
           os.path.join(tmp, "profiles"), "--profile", "default", "--nologo", "--noversioncheck", "--skipbadlayers",
           "--code", startup]
    print("screenshots:", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
        log = proc.stdout[-4000:] + proc.stderr[-4000:]
    except subprocess.TimeoutExpired as exc:
        log = f"QGIS did not exit within {args.timeout} s\n{exc.stdout or ''}{exc.stderr or ''}"
    ok = True
    if not os.path.exists(cfg["status"]):
        print("screenshots: no status written by QGIS\n" + log)
        return 1
    status = json.load(open(cfg["status"]))
    if status["errors"]:
        ok = False
        print("errors:\n" + "\n".join(status["errors"]))
    if not (status.get("plugin_file") or "").startswith(plugins):
        ok = False
        print(f"the plugin was not loaded from the installed zip: {status.get('plugin_file')}")
    for alg in ALGS:
        d = status["dialogs"].get(alg)
        if d is None:
            ok = False
            print(f"{alg}: no dialog")
            continue
        size = os.path.getsize(d["screenshot"]) if os.path.exists(d["screenshot"]) else 0
        problems = [f"no widget: {d['missing_widget']}"] if d["missing_widget"] else []
        problems += [f"no help tooltip: {d['missing_help']}"] if d["missing_help"] else []
        problems += ["help panel without the algorithm's help"] if not d.get("help_panel") else []
        problems += ["no screenshot"] if size == 0 else []
        ok &= not problems
        print(f"{alg}: {len(d['parameters'])} parameters, screenshot {size // 1024} KiB"
              + (f"; PROBLEMS: {'; '.join(problems)}" if problems else "; widgets and help OK"))
    run = status.get("run")
    if not run or not os.path.exists(run.get("OUTPUT", "")) or not run.get("fused_valid"):
        ok = False
        print(f"run from the dialog failed: {run}")
    else:
        print(f"run from the dialog: {run['OUTPUT']} ({run['fused_bands']} bands), "
              f"report {os.path.getsize(run['REPORT']) // 1024} KiB")
        from hsi_blind_fusion.core import io
        from hsi_blind_fusion.core.display import colour_composite

        canvas = status.get("canvas") or {}
        wl = io.raster_info(run["OUTPUT"]).wavelengths_nm
        expected = list(colour_composite(len(wl), wl).band_numbers)
        shown = canvas.get("bands")
        if canvas.get("renderer") != "multibandcolor" or shown != expected or not canvas.get("screenshot"):
            ok = False
            print(f"fused raster on the canvas: renderer {canvas.get('renderer')}, bands {shown}, expected {expected}")
        else:
            print(f"fused raster on the canvas in true colour: bands {shown} "
                  f"({', '.join(f'{wl[b - 1]:.0f} nm' for b in shown)}), screenshot "
                  f"{os.path.getsize(canvas['screenshot']) // 1024} KiB")
    if args.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("screenshots:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
