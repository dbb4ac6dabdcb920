"""The provider and the algorithms' declared parameters and outputs."""
import json
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


IDS = ["hsifusion:blindfusion", "hsifusion:estimatedegradation", "hsifusion:simulateobservations",
       "hsifusion:fusionquality", "hsifusion:batchfusion"]


def run(alg, params):
    import processing

    return processing.run(alg, params)


def wavelengths(path):
    from hsi_blind_fusion.core import io

    return io.raster_info(path).wavelengths_nm


def test_provider_and_parameters():
    from qgis.core import QgsApplication

    reg = QgsApplication.processingRegistry()
    prov = reg.providerById("hsifusion")
    assert prov.name() == "HSI blind fusion"
    assert sorted(a.id() for a in prov.algorithms()) == sorted(IDS)
    names = lambda i: [p.name() for p in reg.algorithmById(i).parameterDefinitions()]  # noqa: E731
    assert names("hsifusion:blindfusion") == ["HSI", "MSI", "MSI2", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR",
                                              "DEGRADATION", "KERNEL_SIZE", "OUTER_ITERATIONS", "INNER_ITERATIONS", "TILE_SIZE",
                                              "MSI_DENOISING", "HSI_CLEANING", "MSI_LINEARIZATION", "CHANGED_AREAS", "BAND_DETAIL", "CHROMATIC_BLUR", "MSI_MTF", "STOP_WHEN_CONVERGED", "OUTPUT_GRID", "DEVICE",
                                              "SEED", "COG",
                                              "OUTPUT",
                                              "OUTPUT_DEGRADATION", "REPORT"]
    assert names("hsifusion:estimatedegradation") == ["HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR",
                                                      "KERNEL_SIZE", "MSI_LINEARIZATION", "CHANGED_AREAS", "MSI_MTF", "MSI_DENOISING", "DEVICE", "SEED", "OUTPUT",
                                                      "REPORT"]
    assert set(names("hsifusion:simulateobservations")) == {
        "INPUT", "KERNEL_SIZE", "KERNEL_SIGMA", "KERNEL_FILE", "SRF", "SCALE", "SNR_DB", "SEED", "OUTPUT_HSI",
        "OUTPUT_MSI"}
    assert names("hsifusion:fusionquality") == ["FUSED", "REFERENCE", "SCALE", "HSI", "MSI", "DEGRADATION",
                                                "OUTPUT_CSV"]
    for i in IDS:
        alg = reg.algorithmById(i)
        assert alg.shortHelpString() and alg.helpUrl().startswith("https://")
        assert all(p.help() for p in alg.parameterDefinitions()), i
    outs = [o.name() for o in reg.algorithmById("hsifusion:fusionquality").outputDefinitions()]
    assert set(outs) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS", "QNR", "D_LAMBDA", "D_S", "HSI_RESIDUAL",
                         "MSI_RESIDUAL", "OUTPUT_CSV"}
    assert prov.supportedOutputRasterLayerExtensions() == ["tif", "bsq", "bil", "bip"]


@pytest.mark.parametrize("text,expected", [
    ("pansharpening", {"blindfusion", "fusionquality"}), ("EnMAP", {"blindfusion", "estimatedegradation"}),
    ("Sentinel-2", {"blindfusion", "estimatedegradation"}), ("QNR", {"fusionquality"}),
    ("hyperspectral", {"blindfusion", "estimatedegradation", "simulateobservations"}),
])
def test_toolbox_search_finds_the_algorithms(text, expected):
    """The Processing toolbox's own filter (QgsProcessingToolboxProxyModel: display name, id, tags,
    short description) finds our algorithms for the words users type."""
    from qgis.core import QgsApplication
    from qgis.gui import QgsProcessingToolboxProxyModel
    from qgis.PyQt.QtCore import QModelIndex

    model = QgsProcessingToolboxProxyModel(None, QgsApplication.processingRegistry())
    model.setFilterString(text)

    def shown(parent=QModelIndex()):
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            alg = model.toolboxModel().algorithmForIndex(model.mapToSource(index))
            if alg is not None and alg.provider().id() == "hsifusion":
                yield alg.name()
            yield from shown(index)

    assert set(shown()) >= expected


def test_class_constants_are_the_declared_parameters():
    """Each algorithm names its parameters as class constants, exactly those its tool declares."""
    from qgis.core import QgsApplication

    for alg in QgsApplication.processingRegistry().providerById("hsifusion").algorithms():
        cls = type(alg)
        declared = {p.name for p in cls.SPEC.parameters} | {n for n, _ in cls.SPEC.numbers}
        constants = {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str) and k == v}
        assert constants == declared, (alg.id(), constants ^ declared)
        assert alg.tags() and alg.shortDescription()
