"""How much of the MSI's detail each HSI band should take, tested one level down.

The classical start gives every HSI band the MSI's detail through its local regression slopes.
That holds for bands the MSI sees; a band outside its responses (the red bands under a blue-only
camera, a NIR band under an RGB MSI with similar visible colours) gets detail of another
wavelength, which is wrong wherever the scene's colours vary: a one-band blue camera made the
fusion of CAVE balloons worse than bicubic upsampling, through its red bands (docs/guard.md).

The test is Wald's protocol on the LR grid: the HSI is degraded once more by a factor 2, the same
local regression fitted there and applied to the (LR) MSI predicts the HSI; per band, the
detail the prediction adds to the upsampled degraded HSI is regressed on the detail that is
really there. The slope (over :data:`FULL_DETAIL_READING`, clipped to [0, 1]) is the share of the
MSI's detail the band takes at full resolution (the least-squares scalar for the detail). Bands
the MSI explains read about 1 and keep their fusion unchanged; a band whose detail comes from
elsewhere reads near 0 and is built mostly from the upsampled HSI. docs/band_detail.md measures it.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from .kernels import gaussian_kernel
from .operators import blur_downsample, upsample

#: the factor of the test's extra degradation (LR pixels), and its Gaussian blur (sigma, LR pixels)
TEST_FACTOR = 2
TEST_SIGMA = 1.0
#: LR pixels at the border left out of the test (the upsampling's and regression's edge effects)
BORDER = 2
#: the test needs at least this many LR pixels per side (degraded: half of it)
MIN_SIDE = 12
#: and reads at most a centred window of this side (LR pixels): one share per band needs no more,
#: and the whole LR grid of a 4096² x8 scene with 100 bands took 3 s
MAX_SIDE = 256
#: a reading at or above this is taken as all of the detail: bands the MSI explains read 0.94-1.0
#: (the test's own scatter), and on a realistic pair (an MSI blurrier than its pixels) the full
#: resolution wants more detail than the test says, so shrinking by the raw reading lost there
#: (docs/band_detail.md)
FULL_DETAIL_READING = 0.95


def band_detail_weights(y: torch.Tensor, z_lr: torch.Tensor, fit: Callable[..., torch.Tensor],
                        valid: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
    """Per band, the share ``(bands,)`` in [0, 1] of the MSI's detail the band should take; None
    when the scene is too small to test (every band takes all of it).

    ``y`` (bands, h, w) and ``z_lr`` (msi bands, h, w): the HSI and the MSI blurred and
    downsampled to the HSI's grid; ``fit(y_r, z_lr, kernel, factor, valid_r)`` the classical
    estimate of ``y`` from the degraded HSI ``y_r`` and ``z_lr`` (the same regression as at full
    resolution, without this test)."""
    bands, h, w = y.shape
    if min(h, w) < MIN_SIDE:
        return None
    r = TEST_FACTOR
    r0, c0 = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
    hc, wc = min(h, MAX_SIDE) // r * r, min(w, MAX_SIDE) // r * r   # the degraded grid tiles the LR one
    y, z_lr = y[:, r0 : r0 + hc, c0 : c0 + wc], z_lr[:, r0 : r0 + hc, c0 : c0 + wc]
    if valid is not None:
        valid = valid[r0 : r0 + hc, c0 : c0 + wc]
    kernel = torch.from_numpy(gaussian_kernel(4 * r + 1, TEST_SIGMA)).to(y.dtype).to(y.device)
    ok = torch.ones((hc, wc), dtype=torch.bool, device=y.device) if valid is None else valid.bool()
    valid_r = None
    if valid is not None:   # a degraded pixel is valid when all it reads is
        valid_r = blur_downsample(ok[None].to(y.dtype), kernel, r)[0] > 1 - 1e-6
        ok = ok & (upsample(valid_r[None].to(y.dtype), r, hc, wc)[0] > 1 - 1e-6)
    y_r = blur_downsample(torch.where(ok, y, torch.zeros((), dtype=y.dtype, device=y.device)), kernel, r)
    predicted = fit(y_r, z_lr, kernel, r, valid_r)
    base = upsample(y_r, r, hc, wc)
    inner = torch.zeros_like(ok)
    inner[BORDER : hc - BORDER, BORDER : wc - BORDER] = True
    use = (ok & inner).reshape(-1)
    if int(use.sum()) < 16:
        return None
    truth = (y - base).reshape(bands, -1)[:, use].double()
    added = (predicted - base).reshape(bands, -1)[:, use].double()
    reading = (truth * added).sum(1) / (added * added).sum(1).clamp_min(1e-30)
    return (reading / FULL_DETAIL_READING).clamp(0.0, 1.0).to(y.dtype)


def shrink_detail_(coef: torch.Tensor, offset: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> None:
    """In place: the local regression maps of a band take ``weights[band]`` of the MSI's detail,
    the rest of the band comes from its own upsampled values: ``coef ← w·coef``,
    ``offset ← w·offset + (1 − w)·y`` (the maps are upsampled linearly, so the HR estimate
    becomes ``w·regression + (1 − w)·upsampled HSI`` before the back-projections)."""
    w = weights.to(coef.dtype)[:, None, None]
    coef.mul_(w[None])
    offset.mul_(w).add_((1 - w) * y)


#: bands below this share are named in the log (they are built mostly from the upsampled HSI)
NAMED_BELOW = 0.5


def summary(weights: Optional[torch.Tensor]) -> str:
    """A log line when some bands take less than half of the MSI's detail ("" otherwise)."""
    if weights is None:
        return ""
    low = [i for i, w in enumerate(weights.tolist()) if w < NAMED_BELOW]
    if not low:
        return ""
    return (f"per-band detail: {len(low)} of {len(weights)} HSI bands take less than half of the MSI's detail "
            f"(the MSI hardly sees them; bands {_ranges(low)}, least share {float(weights.min()):.2f}): they are "
            "built mostly from the upsampled HSI")


def _ranges(indices: list[int]) -> str:
    """1-based band numbers as runs: "3-7, 12"."""
    runs, start = [], indices[0]
    for prev, cur in zip(indices, indices[1:] + [None]):
        if cur != prev + 1:
            runs.append(f"{start + 1}" if start == prev else f"{start + 1}-{prev + 1}")
            start = cur
    return ", ".join(runs)
