"""Meta-learned initial weights of the reconstruction network.

``models/meta_init.pt`` holds a state dict of ``ReconstructionNet(dims=10, width=32, depth=3)``
learned by first-order MAML over fusion tasks with different scenes, kernels, scales, responses
and noise (``training/train_meta.py``). The network's input is ``4·dims`` subspace channels
whatever the band counts, so the same weights serve any sensor pair. A network of another shape,
or a missing/corrupt file, keeps its own initialization (with a warning where a file exists but
does not fit).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

META_FILE = Path(__file__).resolve().parents[1] / "models" / "meta_init.pt"
_CACHE: dict = {}


def _load(path: Path):
    key = str(path)
    if key not in _CACHE:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            _CACHE[key] = state["weights"] if isinstance(state, dict) and "weights" in state else state
        except FileNotFoundError:
            _CACHE[key] = None
        except Exception as exc:
            warnings.warn(f"meta-learned weights {path} not usable ({exc.__class__.__name__}: {exc}); "
                          "the network keeps its default initialization", stacklevel=3)
            _CACHE[key] = None
    return _CACHE[key]


def load_meta_weights(net: nn.Module, path: Path | str | None = None) -> bool:
    """Load meta-learned weights into ``net`` when a matching file exists; True if loaded."""
    weights = _load(Path(path) if path is not None else META_FILE)
    if weights is None:
        return False
    own = net.state_dict()
    mismatch = [k for k in own if k not in weights or tuple(weights[k].shape) != tuple(own[k].shape)]
    extra = [k for k in weights if k not in own]
    if mismatch or extra:
        warnings.warn(f"meta-learned weights do not fit this network ({len(mismatch)} missing/mismatched, "
                      f"{len(extra)} unexpected tensors, e.g. {(mismatch + extra)[:2]}); default initialization kept",
                      stacklevel=2)
        return False
    device = next(net.parameters()).device
    net.load_state_dict({k: v.to(device=device, dtype=own[k].dtype) for k, v in weights.items()})
    return True


def clear_cache() -> None:
    _CACHE.clear()
