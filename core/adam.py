"""Adam, written out: the per-scene fitting's optimizer without ``torch.optim``.

``torch.optim.Adam``'s first construction in a process imports ``torch._dynamo`` (about a second
in a plain Python, more inside QGIS, where loading extension modules is slower), which every
fusion through qgis_process pays. The update is the textbook one (Kingma & Ba, as torch.optim
computes it, no weight decay, no amsgrad), a few tensor operations per parameter.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch


class Adam:
    """Adam over ``params`` with learning rate ``lr`` (``zero_grad`` / ``step`` as torch.optim)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.steps = 0
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - b1 ** self.steps)
        root_correction = math.sqrt(1 - b2 ** self.steps)
        for p, m, v in zip(self.params, self.first, self.second):
            if p.grad is None:
                continue
            g = p.grad
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / root_correction).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)
