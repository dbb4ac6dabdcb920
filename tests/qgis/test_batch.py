"""Batch: several HSI/MSI pairs fused in one QGIS session (as the batch dialog runs them)."""
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


def test_batch_of_pairs(make_pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    pairs = [make_pair(seed, size=48 if seed % 2 else 64) for seed in (11, 12, 13)]
    outputs = []
    for i, (s, paths) in enumerate(pairs):
        out = str(tmp_path / f"fused_{i}.tif")
        res = processing.run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu",
                                                           OUTPUT=out), context=context, feedback=feedback)
        outputs.append((s, paths, res["OUTPUT"]))
    for s, paths, out in outputs:
        with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
            assert f.crs == m.crs and f.transform == m.transform
            assert f.count == s.truth.shape[0] and (f.height, f.width) == s.truth.shape[1:]
        from hsi_blind_fusion.core import io

        np.testing.assert_allclose(io.raster_info(out).wavelengths_nm, s.wavelengths_nm, atol=0.01)
    assert len({o for _, _, o in outputs}) == 3 and all(os.path.exists(o) for _, _, o in outputs)
