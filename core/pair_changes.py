"""Areas where the two images disagree: the MSI shows something the HSI does not (another date, a
cloud, a moved object).

The blind estimate fits ``(Z*K)↓s = P·Y`` over the whole scene, so a changed area pulls K and P
wherever the rest of the scene leaves them free: a changed corner of 6 % of a CAVE crop drops the
kernel's correlation with the truth from 0.99 to 0.3-0.9 (docs/pair_changes.md), and the fusion
then loses to bicubic upsampling everywhere. Under the right K and P a changed block stands out by
orders of magnitude (its residual is the difference of two scenes, the rest is noise and model
error), so the estimate is repeated without the blocks that stand out, a few rounds, each round's
K and P reading the residual more truly. The result is kept only when it explains the remaining
LR pixels clearly better than the first estimate did (a kernel wider than the scene allows also
leaves high-residual blocks, at its edges; without them the estimate gets worse, not better).

Where the change was found the fused image has no MSI to follow: the fusion writes the upsampled
HSI there (core/rendering.py blends the two over one LR pixel).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
import torch
from scipy.ndimage import binary_dilation, median_filter

from .errors import InvalidInputError
from .estimation import footprint_valid
from .observations import NormalizedPair
from .operators import blur_downsample

#: side of the blocks the residual is judged on [LR pixels]: small enough for a cloud, large enough
#: that one bright edge is not a change
BLOCK = 4
#: a block (after a 3 x 3-block median, which leaves single edge blocks out) whose residual exceeds
#: this multiple of the scene's median is left out of the next estimate; matching training pairs
#: (40-20 dB) have none above it, changed blocks read 100-80 000 under the final estimate
EXCLUDE_LEVEL = 4.0
#: a block whose residual under the final estimate exceeds this multiple of the kept blocks' median
#: is written as upsampled HSI (kept blocks of matching areas read at most 3, except on one scene
#: with a diffraction pattern: up to 60-900 when its estimate is off)
CHANGE_LEVEL = 10.0
#: the repeated estimate must explain the kept blocks at least this much better than the first:
#: changed training pairs read 4-4 500, a blur wider than the scene allows 0.0-0.2
MIN_FIT_GAIN = 2.0
#: more than this share of the scene standing out is no local change but a mismatched pair (the guard's case)
MAX_CHANGED = 2.0 / 3.0
ROUNDS = 3


@dataclass
class PairChanges:
    """What the search for changed areas found (a summary, and the LR mask the fusion uses)."""

    #: share of the valid LR pixels left out of the final estimate
    excluded: float = 0.0
    #: share of the valid LR pixels written as upsampled HSI (0 when not applied)
    changed: float = 0.0
    #: the final estimate's residual gain on the kept blocks over the first estimate's
    fit_gain: float = 1.0
    #: estimates made without the excluded blocks
    rounds: int = 0
    #: the repeated estimate was kept
    applied: bool = False
    #: LR pixels (h, w) the final estimate left out; None when nothing was applied
    excluded_mask: Optional[np.ndarray] = None
    #: LR pixels (h, w) written as upsampled HSI; None when nothing was applied
    mask: Optional[np.ndarray] = None

    def estimation_pair(self, pair: NormalizedPair) -> NormalizedPair:
        """``pair`` as the later estimates (MSI linearization, the refit on the denoised MSI) read it:
        without the excluded pixels."""
        if self.excluded_mask is None:
            return pair
        return replace(pair, hsi_valid=pair.hsi_valid & ~self.excluded_mask)

    def summary(self) -> str:
        """One sentence for the log (empty when nothing stood out)."""
        if self.applied:
            return (f"{100 * self.changed:.1f} % of the scene differs between the two images (another date, "
                    "clouds, or a moved object?): the kernel and response were estimated without it, and the "
                    "upsampled HSI is written there")
        if self.rounds:
            return ("some areas fit the estimated degradation far worse than the rest, but estimating without "
                    "them did not help; they were kept (a blur wider than the scene can hold reads so too)")
        return ""


def block_residuals(pair: NormalizedPair, kernel: np.ndarray, srf_n: np.ndarray,
                    valid: np.ndarray) -> np.ndarray:
    """Mean squared ``(Z*K)↓s − P·Y`` (summed over MSI bands) per block of BLOCK x BLOCK LR pixels,
    over ``valid`` LR pixels; NaN where a block has none."""
    with torch.no_grad():
        z_lr = blur_downsample(torch.from_numpy(pair.z), torch.as_tensor(kernel, dtype=torch.float32),
                               pair.scale)
        p = torch.as_tensor(srf_n, dtype=torch.float32)
        res = ((z_lr - torch.einsum("mb,bhw->mhw", p, torch.from_numpy(pair.y))) ** 2).sum(0).double().numpy()
    h, w = res.shape
    bh, bw = -(-h // BLOCK), -(-w // BLOCK)
    total = np.zeros((bh * BLOCK, bw * BLOCK))
    count = np.zeros_like(total)
    total[:h, :w] = np.where(valid, res, 0.0)
    count[:h, :w] = valid
    total = total.reshape(bh, BLOCK, bw, BLOCK).sum((1, 3))
    count = count.reshape(bh, BLOCK, bw, BLOCK).sum((1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _to_lr(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A block mask on the LR grid."""
    return np.repeat(np.repeat(blocks, BLOCK, 0), BLOCK, 1)[: shape[0], : shape[1]]


def _standing_out(r: np.ndarray) -> np.ndarray:
    """Blocks whose 3 x 3-block median residual exceeds EXCLUDE_LEVEL times the scene's median,
    grown by one block (a change's fringe is half in, half out)."""
    ok = np.isfinite(r)
    level = np.median(r[ok])
    if not level > 0:
        return np.zeros(r.shape, bool)
    smooth = median_filter(np.where(ok, r, level), size=3, mode="nearest")
    return binary_dilation(smooth > EXCLUDE_LEVEL * level, iterations=1) & ok


def exclude_changes(pair: NormalizedPair, first, estimate: Callable[[NormalizedPair], object],
                    valid_lr: Optional[np.ndarray] = None) -> tuple[object, PairChanges]:
    """``first`` (a Degradation of ``pair``) or, when changed areas pulled it, K and P estimated again
    by ``estimate`` without them, and what was found. ``valid_lr``: the LR pixels the estimate may
    read (default: valid HSI pixels whose MSI footprint is valid)."""
    valid = footprint_valid(pair, first.kernel.shape[0]) if valid_lr is None else valid_lr
    shape = valid.shape
    if min(shape) < 4 * BLOCK:
        return first, PairChanges()
    r_first = block_residuals(pair, first.kernel, first.diagnostics.srf_normalized_units, valid)
    if not np.isfinite(r_first).any():
        return first, PairChanges()
    deg, out, rounds = first, np.zeros(r_first.shape, bool), 0
    n_valid = max(int(valid.sum()), 1)
    for rounds in range(1, ROUNDS + 1):
        r = r_first if deg is first else block_residuals(pair, deg.kernel, deg.diagnostics.srf_normalized_units, valid)
        flagged = _standing_out(r)
        if not flagged.any() or (flagged == out).all():
            rounds -= 1
            break
        out = flagged
        keep = pair.hsi_valid & ~_to_lr(out, shape)
        excluded = float(1 - (keep & valid).sum() / n_valid)
        if excluded > MAX_CHANGED:
            return first, PairChanges(excluded=excluded, rounds=rounds)
        try:
            deg = estimate(replace(pair, hsi_valid=keep))
        except InvalidInputError:
            return first, PairChanges(excluded=excluded, rounds=rounds)
    if not out.any():
        return first, PairChanges()
    r_final = block_residuals(pair, deg.kernel, deg.diagnostics.srf_normalized_units, valid)
    kept = ~out & np.isfinite(r_final)
    gain = float(np.nanmean(r_first[kept]) / max(np.nanmean(r_final[kept]), 1e-300))
    if not gain >= MIN_FIT_GAIN:
        return first, PairChanges(excluded=excluded, fit_gain=gain, rounds=rounds)
    changed_blocks = binary_dilation(np.nan_to_num(r_final, nan=0.0) > CHANGE_LEVEL * np.median(r_final[kept]),
                                     iterations=1)
    mask = _to_lr(changed_blocks, shape) & valid
    return deg, PairChanges(excluded=excluded, changed=float(mask.sum() / n_valid), fit_gain=gain,
                            rounds=rounds, applied=True, excluded_mask=~keep & pair.hsi_valid, mask=mask)
