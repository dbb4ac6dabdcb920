"""K and P as learnable layers that stay physically valid whatever the optimizer does.

The kernel is a softmax over its support (non-negative, sums to 1); each response row is a
softmax over the HSI bands times a positive gain (non-negative, normalized shape, free scale
between the two images' units).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class KernelLayer(nn.Module):
    def __init__(self, kernel: np.ndarray):
        super().__init__()
        k = torch.as_tensor(kernel, dtype=torch.float32)
        self.size = k.shape[-1]
        self.logits = nn.Parameter(torch.log(k.clamp_min(1e-8 * float(k.max()))).reshape(-1))

    def forward(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=0).reshape(self.size, self.size)


class ResponseLayer(nn.Module):
    def __init__(self, srf: np.ndarray):
        """``srf`` in normalized units, rows not necessarily summing to 1 (their sums are the gains)."""
        super().__init__()
        p = torch.as_tensor(srf, dtype=torch.float32)
        gain = p.sum(dim=1)
        rows = p / gain[:, None]
        self.logits = nn.Parameter(torch.log(rows.clamp_min(1e-6 * float(rows.max()))))
        self.log_gain = nn.Parameter(torch.log(gain))

    def forward(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=1) * torch.exp(self.log_gain)[:, None]
