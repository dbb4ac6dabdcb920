"""Areas where the two images disagree: the MSI shows something the HSI does not (another date, a
cloud, a moved object).

The blind estimate fits ``(Z*K)↓s = P·Y`` over the whole scene, so a changed area pulls K and P
wherever the rest of the scene leaves them free: a sixteenth of a training crop from another scene
drops the kernel's correlation with the truth from 0.99 to 0.62 on average (docs/pair_changes.md),
and the fusion then loses to bicubic upsampling everywhere (the guard writes the upsampled HSI). Under the right K and P a changed block stands out by
orders of magnitude (its residual is the difference of two scenes, the rest is noise and model
error), so the estimate is repeated without the blocks that stand out, a few rounds, each round's
K and P reading the residual more truly; when the first estimate was pulled so far that the rest of
the scene stands out too, the search starts from the quarter of the scene whose own estimate
explains the scene best. The result is kept only when it explains the remaining LR pixels clearly
better than the first estimate did (a kernel wider than the scene allows also leaves high-residual
blocks, at its edges; without them the estimate gets worse, not better).

Where the change was found the fused image has no MSI to follow: the fusion writes the upsampled
HSI there (core/rendering.py blends the two over one LR pixel).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
import torch
from scipy.ndimage import binary_dilation, binary_opening, uniform_filter

from .errors import InvalidInputError
from .estimation import footprint_valid
from .observations import NormalizedPair
from .operators import blur_downsample

#: side of the blocks the residual is judged on [LR pixels], in groups of 2 x 2 blocks: a change of
#: 4 x 4 LR pixels or more is found, a bright edge is not (the clouds of docs/pair_changes.md, a
#: fifth of a 23-pixel airborne crop across, were missed with blocks of 4 in the first trials)
BLOCK = 2
#: blocks whose residual exceeds this multiple of the scene's median are left out of the next
#: estimate: none of the 160 matching pairs of docs/guard.md (15-40 dB, realistic pairs, stripes,
#: broad blurs, rank-deficient cameras) is changed (San Diego's realistic 10-band pair runs two
#: rounds that MIN_FIT_GAIN rejects: 1.09); changed blocks stand orders of magnitude above
EXCLUDE_LEVEL = 4.0
#: ... and exceed this share of the block's signal (the larger of ``|(Z*K)↓s|²`` and ``|P·Y|²``): a
#: model error grows with the signal (an MSI's own MTF or curve on a bright object over a dark
#: background: at most 0.004 on the training scenes' realistic pairs), a change is of the signal's
#: order (0.01-0.9 on changed training blocks, mostly above 0.1)
CHANGE_SHARE = 0.01
#: an excluded LR pixel whose residual (3 x 3 mean) under the final estimate exceeds this multiple of
#: the kept pixels' median is written as upsampled HSI (kept blocks of matching areas read at most
#: 3, except on one scene with a diffraction pattern: up to 60-900 when its estimate is off)
CHANGE_LEVEL = 10.0
#: the repeated estimate must explain the kept blocks at least this much better than the first: the
#: changed pairs of docs/pair_changes.md read 2.9-7 450, a 35 px blur on a 32-pixel training crop
#: 0.0-0.2 in the first trials
MIN_FIT_GAIN = 2.0
#: more than this share of the blocks standing out in the first estimate: the search starts from the
#: quarter of the scene that explains it best (a changed quarter of balloons flagged 0.32 of it and
#: was found only so; a sixteenth or a cloud flag less and are found from the first estimate)
SEED_SHARE = 1.0 / 8.0
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


def lr_residual(pair: NormalizedPair, kernel: np.ndarray, srf_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Z*K)↓s − P·Y`` squared and summed over the MSI bands, per LR pixel, and the larger of the
    two sides' squared norms there (the signal a change would be measured against; float64)."""
    with torch.no_grad():
        z_lr = blur_downsample(torch.from_numpy(pair.z), torch.as_tensor(kernel, dtype=torch.float32), pair.scale)
        p_y = torch.einsum("mb,bhw->mhw", torch.as_tensor(srf_n, dtype=torch.float32), torch.from_numpy(pair.y))
        res = ((z_lr - p_y) ** 2).sum(0).double().numpy()
        signal = torch.maximum((z_lr ** 2).sum(0), (p_y ** 2).sum(0)).double().numpy()
    return res, signal


def block_means(res: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The mean of ``res`` over ``valid`` LR pixels per block of BLOCK x BLOCK; NaN where a block has none."""
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


def block_residuals(pair: NormalizedPair, kernel: np.ndarray, srf_n: np.ndarray,
                    valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lr_residual`'s residual and signal averaged per block (:func:`block_means`)."""
    res, signal = lr_residual(pair, kernel, srf_n)
    return block_means(res, valid), block_means(signal, valid)


def _to_lr(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A block mask on the LR grid."""
    return np.repeat(np.repeat(blocks, BLOCK, 0), BLOCK, 1)[: shape[0], : shape[1]]


def _standing_out(r: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Blocks whose residual exceeds EXCLUDE_LEVEL times the scene's median and CHANGE_SHARE of their
    signal, in groups of at least 2 x 2 (an opening: a lone bright edge is no change), grown by one
    block (a change's fringe is half in, half out)."""
    ok = np.isfinite(r)
    level = np.median(r[ok])
    if not level > 0:
        return np.zeros(r.shape, bool)
    high = (np.where(ok, r, level) > EXCLUDE_LEVEL * level) & (np.nan_to_num(r) > CHANGE_SHARE * np.nan_to_num(signal))
    high = binary_opening(high, np.ones((2, 2), bool))
    return binary_dilation(high, iterations=1) & ok


def _cleanest_quadrant(pair: NormalizedPair, first, r_first: np.ndarray, estimate: Callable[[NormalizedPair], object],
                       valid: np.ndarray):
    """Of ``first`` and K and P estimated on each quarter of the scene alone, the one that explains most
    of the scene best (lowest median block residual): a change that pulled the whole-scene estimate
    far enough flags the rest too, while a quarter clear of it gives a clean start."""
    best, best_level = first, float(np.nanmedian(r_first))
    h, w = valid.shape
    for rows in (slice(0, h // 2), slice(h // 2, h)):
        for cols in (slice(0, w // 2), slice(w // 2, w)):
            part = np.zeros_like(pair.hsi_valid)
            part[rows, cols] = True
            try:
                deg = estimate(replace(pair, hsi_valid=pair.hsi_valid & part))
            except InvalidInputError:
                continue
            level = float(np.nanmedian(block_residuals(pair, deg.kernel, deg.diagnostics.srf_normalized_units,
                                                       valid)[0]))
            if level < best_level:
                best, best_level = deg, level
    return best


def exclude_changes(pair: NormalizedPair, first, estimate: Callable[[NormalizedPair], object],
                    report: Optional[Callable[[float, str], None]] = None) -> tuple[object, PairChanges]:
    """``first`` (a Degradation of ``pair``) or, when changed areas pulled it, K and P estimated again
    by ``estimate`` without them, and what was found; residuals are read on the valid HSI pixels whose
    MSI footprint is valid. ``report(fraction, message)`` hears of each new estimate."""
    valid = footprint_valid(pair, first.kernel.shape[0])
    shape = valid.shape
    if min(shape) < 4 * BLOCK:
        return first, PairChanges()
    r_first, s_first = block_residuals(pair, first.kernel, first.diagnostics.srf_normalized_units, valid)
    if not np.isfinite(r_first).any():
        return first, PairChanges()
    standing = _standing_out(r_first, s_first)
    if not standing.any():
        return first, PairChanges()
    # four more estimates: only where so much stands out that the first estimate may be pulled far
    deg = _cleanest_quadrant(pair, first, r_first, estimate, valid) if standing.mean() > SEED_SHARE else first
    out, rounds = np.zeros(r_first.shape, bool), 0
    n_valid = max(int(valid.sum()), 1)
    for rounds in range(1, ROUNDS + 1):
        r, sig = (r_first, s_first) if deg is first else block_residuals(pair, deg.kernel,
                                                                         deg.diagnostics.srf_normalized_units, valid)
        # the excluded area only grows: a badly pulled first estimate flags part of the change and part
        # of the rest, the next one more of the change; what is excluded wrongly costs only samples
        flagged = out | _standing_out(r, sig)
        if (flagged == out).all():
            rounds -= 1
            break
        out = flagged
        keep = pair.hsi_valid & ~_to_lr(out, shape)
        excluded = float(1 - (keep & valid).sum() / n_valid)
        if excluded > MAX_CHANGED:
            return first, PairChanges(excluded=excluded, rounds=rounds)
        if report is not None:
            report(0.0, f"{100 * excluded:.1f} % of the scene fits far worse than the rest (changed?): kernel and "
                        f"response estimated without it ({rounds}/{ROUNDS})")
        try:
            deg = estimate(replace(pair, hsi_valid=keep))
        except InvalidInputError:
            return first, PairChanges(excluded=excluded, rounds=rounds)
    if not out.any():
        return first, PairChanges()
    res, _ = lr_residual(pair, deg.kernel, deg.diagnostics.srf_normalized_units)
    r_final = block_means(res, valid)
    kept = ~out & np.isfinite(r_final)
    gain = float(np.nanmean(r_first[kept]) / max(np.nanmean(r_final[kept]), 1e-300))
    if not gain >= MIN_FIT_GAIN:
        return first, PairChanges(excluded=excluded, fit_gain=gain, rounds=rounds)
    # LR pixels (3 x 3 mean) within the excluded blocks, grown by one pixel: a cloud's glow is not the whole block
    smooth = uniform_filter(np.where(valid, res, 0.0), size=3, mode="nearest")
    level = CHANGE_LEVEL * np.median(smooth[valid & keep])
    mask = binary_dilation(smooth > level, iterations=1) & ~keep & valid
    return deg, PairChanges(excluded=excluded, changed=float(mask.sum() / n_valid), fit_gain=gain,
                            rounds=rounds, applied=True, excluded_mask=~keep & pair.hsi_valid, mask=mask)
