"""The pre-trained backbone: ONNX/torch parity, fallbacks with a warning, never a crash.

Uses small synthetic tensors (no shared data); the parity test exports a freshly initialized
network (with a non-zero last layer) to a temporary ONNX file, and also checks the shipped model
when models/backbone.onnx is present.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import backbone
from hsi_blind_fusion.core.backbone import BandNet, backbone_estimate, band_features, export_onnx
from hsi_blind_fusion.core.kernels import gaussian_kernel

ort = pytest.importorskip("onnxruntime")


def _inputs(bands=12, msi=4, size=32, scale=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, bands, size + 4, size + 4, generator=g), 5, 1)[0]
    k = torch.from_numpy(gaussian_kernel(7, 1.2)).float()
    p = torch.rand(msi, bands, generator=g)
    p = p / p.sum(1, keepdim=True) * 1.3
    from hsi_blind_fusion.core.operators import blur_downsample, project
    return blur_downsample(x, k, scale), project(x, p), k, p, scale


def _random_net(seed=0):
    torch.manual_seed(seed)
    net = BandNet()
    torch.nn.init.normal_(net.tail.weight, 0, 0.05)
    return net.eval()


def test_onnx_matches_torch(tmp_path):
    net = _random_net()
    path = tmp_path / "b.onnx"
    export_onnx(net, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y, z, k, p, s = _inputs()
    f, _, _ = band_features(y, z, k, p, s)
    for feats in (f, f[:3, :, :20, :28]):          # dynamic bands / height / width
        with torch.no_grad():
            ref = net(feats).numpy()
        got = sess.run(None, {"features": feats.numpy()})[0]
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


def test_shipped_onnx_matches_shipped_torch():
    if not (backbone.ONNX_FILE.exists() and backbone.TORCH_FILE.exists()):
        pytest.skip("no shipped backbone in models/")
    net = backbone.load_torch_model()
    sess = backbone.load_onnx_session()
    assert net is not None and sess is not None
    y, z, k, p, s = _inputs(bands=7, msi=3)
    f, _, _ = band_features(y, z, k, p, s)
    with torch.no_grad():
        ref = net(f).numpy()
    np.testing.assert_allclose(sess.run(None, {"features": f.numpy()})[0], ref, atol=1e-4, rtol=0)


def test_estimate_any_band_counts(tmp_path):
    net = _random_net(1)
    export_onnx(net, tmp_path / "b.onnx")
    torch.save({"config": {"width": 24}, "weights": net.state_dict()}, tmp_path / "b.pt")
    backbone.clear_cache()
    for bands, msi in ((31, 3), (50, 13), (5, 4)):
        y, z, k, p, s = _inputs(bands, msi)
        x = backbone_estimate(y, z, k, p, s, onnx_path=tmp_path / "b.onnx", torch_path=tmp_path / "b.pt")
        assert x is not None and x.shape == (bands, z.shape[1], z.shape[2]) and torch.isfinite(x).all()
    backbone.clear_cache()


def test_corrupt_onnx_falls_back_to_torch(tmp_path):
    net = _random_net(2)
    torch.save({"config": {"width": 24}, "weights": net.state_dict()}, tmp_path / "b.pt")
    (tmp_path / "bad.onnx").write_bytes(b"not an onnx file")
    export_onnx(net, tmp_path / "good.onnx")
    y, z, k, p, s = _inputs()
    backbone.clear_cache()
    with pytest.warns(UserWarning, match="not usable"):
        a = backbone_estimate(y, z, k, p, s, onnx_path=tmp_path / "bad.onnx", torch_path=tmp_path / "b.pt")
    b = backbone_estimate(y, z, k, p, s, onnx_path=tmp_path / "good.onnx", torch_path=tmp_path / "b.pt")
    assert a is not None and b is not None
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    backbone.clear_cache()


def test_missing_files_return_none_with_warning(tmp_path):
    y, z, k, p, s = _inputs()
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    backbone.clear_cache()
    for pt in (tmp_path / "missing.pt", tmp_path / "bad.pt"):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = backbone_estimate(y, z, k, p, s, onnx_path=tmp_path / "missing.onnx", torch_path=pt)
        assert out is None
        assert any("classical" in str(w.message) for w in rec)
    backbone.clear_cache()


def test_without_onnxruntime_uses_torch(tmp_path, monkeypatch):
    import builtins

    net = _random_net(3)
    torch.save({"config": {"width": 24}, "weights": net.state_dict()}, tmp_path / "b.pt")
    export_onnx(net, tmp_path / "b.onnx")
    real_import = builtins.__import__

    def fake_import(name, *a, **kw):
        if name == "onnxruntime":
            raise ImportError("no onnxruntime")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    backbone.clear_cache()
    y, z, k, p, s = _inputs()
    with pytest.warns(UserWarning, match="onnxruntime not available"):
        out = backbone_estimate(y, z, k, p, s, onnx_path=tmp_path / "b.onnx", torch_path=tmp_path / "b.pt")
    assert out is not None
    backbone.clear_cache()


def test_untrained_backbone_equals_classical():
    from hsi_blind_fusion.core.initial_estimate import regression_estimate

    y, z, k, p, s = _inputs()
    f, level, x_base = band_features(y, z, k, p, s)
    with torch.no_grad():
        out = x_base + BandNet()(f)[:, 0] * level
    # the classical start as fuse() builds it: MSI noise estimate capped through the response
    torch.testing.assert_close(out, regression_estimate(y, z, k, s, srf=p))
