"""Meta-learned initial weights of the reconstruction network (issue 4).

Placeholder until trained weights ship: ``load_meta_weights`` leaves the network as it is.
"""
from __future__ import annotations

from torch import nn


def load_meta_weights(net: nn.Module) -> bool:
    """Load meta-learned weights into ``net`` when a matching file exists; True if loaded."""
    return False
