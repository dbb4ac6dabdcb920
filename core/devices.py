"""The compute device: its choice, reproducible seeding, out-of-memory fallback, and the memory
a run may take (host memory through psutil on Linux, Windows and macOS; GPU memory through torch)."""
from __future__ import annotations

import random
from typing import Callable, TypeVar

import numpy as np
import torch

from .errors import DeviceUnavailableError, InvalidInputError

T = TypeVar("T")


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when torch sees a GPU, else the CPU; ``"cuda"`` without a GPU is an error."""
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device '{name}' was requested but torch sees no CUDA GPU on this machine; "
                "choose 'auto' or 'cpu', or install a CUDA build of torch")
        index = name.partition(":")[2]
        if index:
            count = torch.cuda.device_count()
            if not index.isdigit() or int(index) >= count:
                raise DeviceUnavailableError(
                    f"device '{name}' was requested but torch sees {count} CUDA GPU(s): choose one of "
                    + ", ".join(f"cuda:{i}" for i in range(count)) + ", or 'cuda' or 'auto'")
        return torch.device(name)
    raise InvalidInputError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")


#: assumed free memory when the platform cannot tell (no psutil, no /proc/meminfo)
UNKNOWN_MEMORY_BYTES = 4 << 30


def available_memory() -> int:
    """Host memory available to this process now [bytes]."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return UNKNOWN_MEMORY_BYTES


def working_memory_budget(device: torch.device, cap_bytes: int = 1 << 30, share: int = 8) -> int:
    """Memory one unit of work (a tile, a batch of crops) may take: ``1/share`` of what is free,
    capped at ``cap_bytes``; on a GPU its free memory counts too."""
    budget = min(cap_bytes, available_memory() // share)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = min(budget, free // share)
    return int(budget)


def seed_everything(seed: int) -> None:
    """Same seed, same result on the CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def is_out_of_memory(error: BaseException) -> bool:
    """A GPU out-of-memory error (torch raises a ``RuntimeError`` subclass, older builds a plain one)."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(error, oom)) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower())


def run_with_gpu_fallback(run: Callable[[torch.device, int], T], device: torch.device,
                          warn: Callable[[str], None]) -> T:
    """``run(device, attempt)``; on GPU out-of-memory retry once on the GPU (attempt 1: the caller
    shrinks its tiles and caches), then on the CPU with a warning. CPU errors pass through."""
    attempts = [(device, 0), (device, 1), (torch.device("cpu"), 2)] if device.type == "cuda" else [(device, 0)]
    for i, (dev, attempt) in enumerate(attempts):
        try:
            return run(dev, attempt)
        except Exception as error:  # noqa: BLE001 - only out-of-memory on the GPU is retried
            if dev.type != "cuda" or not is_out_of_memory(error) or i == len(attempts) - 1:
                raise
            torch.cuda.empty_cache()
            nxt = attempts[i + 1][0]
            warn("the GPU ran out of memory; " + ("retrying with smaller tiles" if nxt.type == "cuda"
                                                  else "falling back to the CPU (slower)"))
    raise AssertionError("unreachable")
