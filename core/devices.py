"""Choice of the compute device and reproducible seeding."""
from __future__ import annotations

import random

import numpy as np
import torch

from .errors import DeviceUnavailableError, InvalidInputError


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when torch sees a GPU, else the CPU; ``"cuda"`` without a GPU is an error."""
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                "device 'cuda' was requested but torch sees no CUDA GPU on this machine; "
                "choose 'auto' or 'cpu', or install a CUDA build of torch")
        return torch.device(name)
    raise InvalidInputError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")


def seed_everything(seed: int) -> None:
    """Same seed, same result on the CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
