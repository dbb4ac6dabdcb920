"""The per-band detail test in the workflow: the report and the GeoTIFF's metadata give each band's
share of the MSI's detail (its parameter: test_start_parameters.py)."""
from dataclasses import replace

import numpy as np
import rasterio

from hsi_blind_fusion.core.responses import gaussian_srf
from hsi_blind_fusion.core.simulation import simulate
from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion
from helpers.feedback import Recording


def test_shares_are_reported_and_tagged(tmp_path):
    """A visible-only MSI (three bands, 450-650 nm) over an HSI whose near-infrared bands show the
    scene turned by 90 degrees."""
    s = make_scene(size=128, scale=4, bands=40, snr_db=None, seed=0)
    nir = s.wavelengths_nm > 700
    x = np.where(nir[:, None, None], np.rot90(s.truth, axes=(1, 2)), s.truth).astype(np.float32)
    srf = gaussian_srf(np.array([450.0, 550.0, 650.0]), [60.0, 60.0, 60.0], s.wavelengths_nm)
    y, z = simulate(x, s.kernel, srf, 4, snr_db=40.0, seed=0)
    paths = write_scene(replace(s, truth=x, hsi=y, msi=z, srf=srf, msi_band_names=["blue", "green", "red"],
                                msi_centres_nm=np.array([450.0, 550.0, 650.0])), str(tmp_path / "scene"))
    out = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                   report=str(tmp_path / "r.html"), outer_iterations=0, device="cpu"), Recording())
    shares = out.result.diagnostics.band_detail
    assert max(shares[i] for i in np.flatnonzero(nir)) < 0.85
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Per-band detail (the share of the MSI" in page and "the other " in page
    with rasterio.open(tmp_path / "f.tif") as ds:
        tag = ds.tags()["FUSION_BAND_DETAIL"]
    assert tag.startswith("share of the MSI's detail per band: ") and len(tag.split(": ")[1].split()) == 40
