#!/usr/bin/env python3
"""Build the graphical model ``tests/data/estimate_then_fuse.model3`` with the QGIS API:
estimatedegradation -> (its JSON as DEGRADATION) -> blindfusion. Run with the Makefile's environment."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bootstrap import ROOT, ensure_package  # noqa: E402


def build(path):
    from qgis.core import (
        QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource as Src, QgsProcessingModelOutput, QgsProcessingModelParameter,
        QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
    )
    from qgis.PyQt.QtCore import QPointF

    m = QgsProcessingModelAlgorithm("Estimate degradation then fuse", "HSI blind fusion", "estimate_then_fuse")
    params = [
        QgsProcessingParameterRasterLayer("HSI", "Low-resolution hyperspectral image"),
        QgsProcessingParameterRasterLayer("MSI", "High-resolution multispectral image"),
        QgsProcessingParameterNumber("OUTER_ITERATIONS", "Outer iterations", QgsProcessingParameterNumber.Integer, 40, False, 1),
        QgsProcessingParameterNumber("INNER_ITERATIONS", "Inner iterations", QgsProcessingParameterNumber.Integer, 10, False, 1),
    ]
    for i, p in enumerate(params):
        mp = QgsProcessingModelParameter(p.name())
        mp.setPosition(QPointF(120 + 180 * i, 60))
        m.addModelParameter(p, mp)

    est = QgsProcessingModelChildAlgorithm("hsifusion:estimatedegradation")
    est.setChildId("estimate")
    est.setDescription("Estimate sensor degradation")
    est.setPosition(QPointF(200, 200))
    est.addParameterSources("HSI", [Src.fromModelParameter("HSI")])
    est.addParameterSources("MSI", [Src.fromModelParameter("MSI")])
    est.addParameterSources("SCALE", [Src.fromStaticValue(0)])
    est.addParameterSources("DEVICE", [Src.fromStaticValue("auto")])
    est.addParameterSources("SEED", [Src.fromStaticValue(0)])
    o1 = QgsProcessingModelOutput("DEGRADATION", "Estimated degradation (JSON)")
    o1.setChildId("estimate")
    o1.setChildOutputName("OUTPUT")
    o1.setPosition(QPointF(200, 300))
    est.setModelOutputs({"DEGRADATION": o1})
    m.addChildAlgorithm(est)

    fuse = QgsProcessingModelChildAlgorithm("hsifusion:blindfusion")
    fuse.setChildId("fuse")
    fuse.setDescription("Blind HSI-MSI fusion")
    fuse.setPosition(QPointF(450, 380))
    fuse.addParameterSources("HSI", [Src.fromModelParameter("HSI")])
    fuse.addParameterSources("MSI", [Src.fromModelParameter("MSI")])
    fuse.addParameterSources("DEGRADATION", [Src.fromChildOutput("estimate", "OUTPUT")])
    fuse.addParameterSources("OUTER_ITERATIONS", [Src.fromModelParameter("OUTER_ITERATIONS")])
    fuse.addParameterSources("INNER_ITERATIONS", [Src.fromModelParameter("INNER_ITERATIONS")])
    for name, value in (("SCALE", 0), ("DEVICE", "auto"), ("SEED", 0)):
        fuse.addParameterSources(name, [Src.fromStaticValue(value)])
    o2 = QgsProcessingModelOutput("FUSED", "Fused hyperspectral image")
    o2.setChildId("fuse")
    o2.setChildOutputName("OUTPUT")
    o2.setPosition(QPointF(450, 480))
    fuse.setModelOutputs({"FUSED": o2})
    m.addChildAlgorithm(fuse)
    m.updateDestinationParameters()
    m.setHelpContent({"ALG_DESC": "Estimates the blur kernel and spectral response, then fuses starting from them."})
    if not m.toFile(path):
        raise SystemExit(f"could not write {path}")
    return m


def main():
    ensure_package()
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from hsi_blind_fusion.provider.provider import HsiFusionProvider

    QgsApplication.processingRegistry().addProvider(HsiFusionProvider())
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "estimate_then_fuse.model3")
    m = build(path)
    print(path, [p.name() for p in m.parameterDefinitions()])


if __name__ == "__main__":
    main()
