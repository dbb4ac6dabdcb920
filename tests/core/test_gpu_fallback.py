"""GPU out-of-memory policy: retry with smaller tiles, then the CPU with a warning.

No GPU is needed: the policy takes the run as a callable, and these runs raise the same error
type torch raises when CUDA memory runs out."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core.devices import is_out_of_memory, run_with_gpu_fallback
from hsi_blind_fusion.core.observations import normalize_pair
from hsi_blind_fusion.core import FusionSettings
from hsi_blind_fusion.core.fusion import smaller_settings


def _oom() -> Exception:
    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    return oom("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_gpu_oom_retries_smaller_then_falls_back_to_cpu():
    calls, warned = [], []

    def run(dev, attempt):
        calls.append((dev.type, attempt))
        if dev.type == "cuda":
            raise _oom()
        return "done on cpu"

    assert run_with_gpu_fallback(run, torch.device("cuda"), warned.append) == "done on cpu"
    assert calls == [("cuda", 0), ("cuda", 1), ("cpu", 2)]
    assert "smaller tiles" in warned[0] and "CPU" in warned[1]


def test_second_gpu_attempt_can_succeed():
    calls = []

    def run(dev, attempt):
        calls.append(attempt)
        if attempt == 0:
            raise _oom()
        return attempt

    assert run_with_gpu_fallback(run, torch.device("cuda"), lambda m: None) == 1
    assert calls == [0, 1]


@pytest.mark.parametrize("device, error", [("cpu", _oom()), ("cuda", ValueError("bad input"))])
def test_other_errors_and_cpu_errors_pass_through(device, error):
    calls = []

    def run(dev, attempt):
        calls.append(attempt)
        raise error

    with pytest.raises(type(error)):
        run_with_gpu_fallback(run, torch.device(device), lambda m: None)
    assert calls == [0]


def test_out_of_memory_is_recognized():
    assert is_out_of_memory(_oom())
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_retry_settings_stream_with_half_tiles():
    rng = np.random.default_rng(0)
    pair = normalize_pair(rng.random((8, 16, 16)).astype(np.float32), rng.random((3, 64, 64)).astype(np.float32), 4)
    smaller = smaller_settings(FusionSettings(tile_size=256), pair, torch.device("cpu"))
    assert smaller.cache_limit_bytes == 0 and smaller.tile_size == 128
    assert smaller_settings(FusionSettings(), pair, torch.device("cpu")).tile_size % 4 == 0
