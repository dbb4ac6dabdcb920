"""The observation model as differentiable torch operators.

``blur_downsample`` is ``(X * K)↓s``: a true 2-D convolution with the kernel centred, reflect
padding at the image border, then every ``scale``-th pixel starting at ``scale // 2``. It is
computed as one strided convolution, so only the kept pixels are evaluated.
``project`` is ``P·X``: the spectral response applied to every pixel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def blur_downsample(x: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """``(bands, H, W)`` -> ``(bands, H // scale, W // scale)`` with kernel ``(k, k)``, k odd."""
    bands, height, width = x.shape
    k = kernel.shape[-1]
    p = k // 2
    off = scale // 2
    xp = _pad(x[:, None], p)
    xp = xp[:, :, off:, off:]
    w = torch.flip(kernel, dims=(-2, -1)).reshape(1, 1, k, k).to(x.dtype)
    out = F.conv2d(xp, w, stride=scale)[:, 0]
    return out[:, : height // scale, : width // scale]


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``(bands, H, W)`` blurred at full resolution (same border handling as ``blur_downsample``)."""
    k = kernel.shape[-1]
    w = torch.flip(kernel, dims=(-2, -1)).reshape(1, 1, k, k).to(x.dtype).expand(x.shape[0], 1, k, k)
    # one depthwise convolution (bands as channels): no im2col buffer, ~5x less memory and time
    # than bands as a batch at full resolution
    return F.conv2d(_pad(x[None], k // 2), w, groups=x.shape[0])[0]


def project(x: torch.Tensor, srf: torch.Tensor) -> torch.Tensor:
    """Spectral projection ``P·X``: ``(hsi_bands, H, W)`` -> ``(msi_bands, H, W)``."""
    return torch.einsum("mc,chw->mhw", srf.to(x.dtype), x)


def upsample(y: torch.Tensor, scale: int, height: int, width: int) -> torch.Tensor:
    """Bicubic interpolation of ``(bands, h, w)`` onto the HR grid, respecting where the LR samples
    sit (HR pixel ``i * scale + scale // 2``); borders are held constant.

    Computed as a polyphase filter (each of the ``scale`` output phases is a 4-tap filter of the
    LR samples; columns first, on the few LR rows): the same values as ``grid_sample`` bicubic
    (cubic convolution, a = -0.75, border padding) to float rounding, at a fraction of its cost."""
    bands, h, w = y.shape
    s = int(scale)
    a = s - s // 2                     # polyphase output index of HR pixel 0
    if height + a > (h + 1) * s or width + a > (w + 1) * s:
        return _upsample_grid(y, s, height, width)
    taps = _phase_taps(s, y.dtype, y.device)                          # (s phases, 4 taps)
    yp = F.pad(y[:, None], (2, 2, 2, 2), mode="replicate")             # (bands, 1, h+4, w+4)
    t = F.conv2d(yp, taps.view(s, 1, 1, 4))                            # (bands, s, h+4, w+1)
    t = t.permute(0, 2, 3, 1).reshape(bands, 1, h + 4, (w + 1) * s)[..., a : a + width]
    t = F.conv2d(t, taps.view(s, 1, 4, 1))                             # (bands, s, h+1, width)
    return t.permute(0, 2, 1, 3).reshape(bands, (h + 1) * s, width)[:, a : a + height]


def interpolation_matrix(n_lr: int, scale: int, n_hr: int, dtype: torch.dtype = torch.float32,
                         device: torch.device | None = None) -> torch.Tensor:
    """``(n_hr, n_lr)``: :func:`upsample` along one axis as a matrix (the four cubic weights of each
    HR sample, border replication folded in), so ``M_r @ y @ M_cᵀ == upsample(y)``. Dense: used on
    strips a few LR rows high, where one matrix product beats the polyphase convolutions."""
    s = int(scale)
    taps = _phase_taps(s, torch.float64, torch.device("cpu"))
    q = torch.arange(n_hr) - s // 2
    base, phase = torch.div(q, s, rounding_mode="floor"), torch.remainder(q, s)
    m = torch.zeros((n_hr, n_lr), dtype=torch.float64)
    rows = torch.arange(n_hr)
    for k in range(4):
        m.index_put_((rows, (base - 1 + k).clamp(0, n_lr - 1)), taps[phase, k], accumulate=True)
    return m.to(dtype=dtype, device=device)


def lr_rows_read(row0: int, row1: int, scale: int, n_lr: int) -> slice:
    """The LR rows HR rows ``row0 .. row1 - 1`` of :func:`upsample` read (its four cubic taps)."""
    s = int(scale)
    return slice(max(0, (row0 - s // 2) // s - 1), min(n_lr, (row1 - 1 - s // 2) // s + 3))


def _phase_taps(scale: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Cubic-convolution weights (a = -0.75) of the 4 LR neighbours for each output phase."""
    d = (torch.arange(scale, dtype=torch.float64)[:, None] / scale + 1 - torch.arange(4, dtype=torch.float64)[None]).abs()
    a = -0.75
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d))).to(dtype=dtype, device=device)


def _upsample_grid(y: torch.Tensor, scale: int, height: int, width: int) -> torch.Tensor:
    """The same interpolation by ``grid_sample`` (any output size)."""
    h, w = y.shape[-2:]
    dev, dt = y.device, y.dtype
    rows = (torch.arange(height, device=dev, dtype=dt) - scale // 2) / scale
    cols = (torch.arange(width, device=dev, dtype=dt) - scale // 2) / scale
    gy = 2 * rows / max(h - 1, 1) - 1
    gx = 2 * cols / max(w - 1, 1) - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
    out = F.grid_sample(y[None], grid, mode="bicubic", padding_mode="border", align_corners=True)
    return out[0]


def _pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Reflect padding, falling back to replicate where the image is too small to reflect."""
    if p == 0:
        return x
    if x.shape[-1] > p and x.shape[-2] > p:
        return F.pad(x, (p, p, p, p), mode="reflect")
    return F.pad(x, (p, p, p, p), mode="replicate")
