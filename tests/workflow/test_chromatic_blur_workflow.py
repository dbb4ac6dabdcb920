"""Chromatic blur in the workflow: the log, the report and the GeoTIFF's metadata say which groups
of bands got their own kernel (its parameter: test_start_parameters.py)."""
from dataclasses import replace

import numpy as np
import rasterio
import torch

from hsi_blind_fusion.core.chromatic_blur import warp_kernel
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.operators import blur_downsample
from hsi_blind_fusion.core.simulation import simulate
from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion
from helpers.feedback import Recording


def test_own_kernels_are_logged_reported_and_tagged(tmp_path):
    s = make_scene(size=128, scale=4, bands=40, snr_db=None, seed=0)
    per = [warp_kernel(gaussian_kernel(13, 1.8), (1.5 * d, 0.0, 0.25 * d, 0.25 * d)) for d in np.linspace(-1, 1, 40)]
    y = np.stack([blur_downsample(torch.from_numpy(s.truth[b : b + 1]), torch.from_numpy(per[b].astype(np.float32)),
                                  4).numpy()[0] for b in range(40)])
    z = simulate(s.truth, np.mean(per, 0), s.srf, 4, snr_db=40.0, seed=0)[1]
    paths = write_scene(replace(s, hsi=y.astype(np.float32), msi=z), str(tmp_path / "scene"))
    fb = Recording()
    out = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                   report=str(tmp_path / "r.html"), outer_iterations=0, device="cpu"), fb)
    assert out.result.diagnostics.band_kernels is not None
    assert [m for m in fb.infos + fb.warnings if "chromatic blur: " in m]
    assert "Chromatic blur (a kernel per group of bands" in (tmp_path / "r.html").read_text(encoding="utf-8")
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert ds.tags()["FUSION_CHROMATIC_BLUR"].startswith("own kernels for bands 1-")
