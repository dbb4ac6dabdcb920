"""Meta-learned weights of the reconstruction network: load, shape mismatch, missing/corrupt file."""
from __future__ import annotations

import warnings

import pytest
import torch

from hsi_blind_fusion.core import meta_init
from hsi_blind_fusion.core.meta_init import load_meta_weights
from hsi_blind_fusion.core.reconstruction_net import ReconstructionNet


@pytest.fixture(autouse=True)
def _fresh_cache():
    meta_init.clear_cache()
    yield
    meta_init.clear_cache()


def _saved(tmp_path, net):
    path = tmp_path / "meta.pt"
    torch.save({"config": {}, "weights": net.state_dict()}, path)
    return path


def test_loads_matching_weights(tmp_path):
    src = ReconstructionNet(10, 32, 3)
    for p in src.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    path = _saved(tmp_path, src)
    dst = ReconstructionNet(10, 32, 3)
    assert load_meta_weights(dst, path) is True
    for a, b in zip(src.parameters(), dst.parameters()):
        torch.testing.assert_close(a, b)


def test_shape_mismatch_returns_false_with_warning(tmp_path):
    path = _saved(tmp_path, ReconstructionNet(10, 32, 3))
    dst = ReconstructionNet(8, 32, 3)
    before = [p.clone() for p in dst.parameters()]
    with pytest.warns(UserWarning, match="do not fit"):
        assert load_meta_weights(dst, path) is False
    for a, b in zip(before, dst.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.warns(UserWarning, match="do not fit"):
        assert load_meta_weights(ReconstructionNet(10, 32, 4), path) is False


def test_missing_file_returns_false_silently(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_meta_weights(ReconstructionNet(10, 32, 3), tmp_path / "none.pt") is False


def test_corrupt_file_returns_false_with_warning(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="not usable"):
        assert load_meta_weights(ReconstructionNet(10, 32, 3), path) is False


def test_shipped_weights_fit_default_network():
    if not meta_init.META_FILE.exists():
        pytest.skip("no shipped meta-learned weights in models/")
    assert load_meta_weights(ReconstructionNet(10, 32, 3)) is True
