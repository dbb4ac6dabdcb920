"""Cleaning of the LR-HSI before the starting image is built: stripes and impulse outliers.

The classical start (``initial_estimate.py``) takes the LR-HSI's local offsets and back-projects
its LR residual into the HR image, so whatever Y carries that the MSI does not explain goes into
the result. White noise is mostly kept out by the residual's signal projector; structured noise is
not: per-band column offsets of a pushbroom sensor ("stripes") and dead or saturated pixels are
band-specific, spatially structured, and pass.

Both are told apart from the scene by what they do not share: the scene's spectra lie in a
low-dimensional subspace common to all bands, a stripe or an impulse belongs to one band. Every
band is predicted from the *other* bands (leave-one-band-out fit in a spectral subspace); the
prediction carries the scene but none of the band's own defects, and the residual holds them.

- Subspace: the median spectrum plus principal directions of the noise-whitened cube, those
  concentrated on a single band left out (a band's own defect is not scene); each band is
  predicted from as many of them as predict it best on held-out columns, at most as many as
  predict all bands best (cross-validation over alternate column pairs: a direction fitted to
  column stripes does not carry over to other columns). The first passes take the directions
  from spatial differences that cancel offsets (mixed second differences, then vertical ones),
  later passes from the destriped values themselves, which also see scene
  structure that runs along the columns.
- Stripes: a band's column offsets are robust column locations of its residual. Detector offsets
  are independent from column to column (a white profile across columns), scene residue is
  smooth: frequencies of the profile far above its white level are shrunk to it. Noise and
  localized scene residue also leave column means, so the profiles of separate segments of the
  columns (top, bottom, ...) must agree significantly; the agreed share (Wiener) is removed.
  A band's stripes echo in the residuals of the bands predicted from it, so which bands are
  striped is decided from all of them together (a greedy joint fit: the echo of an edge band's
  stripes in its neighbour is not taken for stripes of the neighbour's own). Rows likewise.
- Impulses: values whose residual is far out and isolated in space and spectrum, outside the
  range of their spatial neighbours and a spike between their spectral neighbours (real content
  of an LR image has passed through the sensor's blur and rarely jumps in one band only). They
  get no weight in their pixel's fit and are replaced by the leave-one-out prediction. The first
  pass looks for impulses only, so they are known before stripes are estimated.

The passes repeat, each band's prediction improving as the other bands are cleaned; a band's
removed stripes count as extra noise in the fits of the next pass (some of them may be left).
Everything is LR-sized: a few spectral projections, eigen-decompositions and medians per pass.

In the fusion (:func:`clean_pair`, ``FusionSettings.hsi_cleaning``) the normalized LR-HSI is cleaned
before the degradation estimate, block by block when large; "auto" removes only findings a clean
cube's false alarms do not reach (:func:`limits`), "on" all of them.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .observations import NormalizedPair
from .results import HsiCleaning

_MAD = 1.4826          # median absolute deviation -> standard deviation (Gaussian)
#: (basis from, stripes estimated?) per pass; passes beyond the list repeat its last entry
_SCHEDULE = (("mixed", False), ("mixed", True), ("vertical", True), ("values", True))
#: the first stripe estimate, on the weakest basis, must be this much more significant
_FIRST_STRIPES_Z = 3.0
#: share of a band's removed stripe variance counted as extra noise in the next pass's fits
_STRIPE_DOUBT = 0.3
#: ridge of the joint fit that picks the striped bands, relative to its Gram matrix's mean diagonal:
#: adjacent striped bands are nearly collinear and unregularized they fit scene residue (swept on
#: the training scenes: docs/stripe_draws.md)
_JOINT_RIDGE = 0.03


def clean_hsi(y, valid=None, *, destripe: bool = True, outliers: bool = True, denoise: bool = False,
              passes: int = 7, stripe_z: float = 4.0, white: float = 5.0, outlier_threshold: float = 7.0,
              spectral_contrast: float = 4.0, max_rank: int = 32, min_stripe_to_noise: float = 0.0,
              min_outliers: float = 0.0, check: Optional[Callable[[], None]] = None):
    """Remove column/row stripes and impulse outliers from an LR-HSI ``(bands, h, w)`` whose bands
    are in spectral order (NumPy array or torch tensor).

    ``valid`` ``(h, w)`` marks usable pixels (False and non-finite pixels are left as they are and
    ignored by every estimate). ``stripe_z``: significance (standard errors) a band's stripes need;
    ``white``: how far above a stripe profile's white level a spatial frequency counts as scene;
    ``outlier_threshold``: robust standard deviations an impulse's residual needs;
    ``denoise``: also shrink each band's part outside the spectral subspace toward it (off by
    default: it helps scenes with many bands, hurts CAVE's 31; see benchmarks/hsi_noise.py).
    ``min_stripe_to_noise``: a band's stripes are removed only when the RMS of its offsets is at
    least this many noise stds (weaker ones are left); ``min_outliers``: impulses are replaced only
    when at least this many were found (fewer are left). Both 0: everything found is removed.

    Returns ``(cleaned, info)``: the cleaned cube (same type, dtype and shape as ``y``) and a dict
    saying what was found: ``striped_bands`` (bands with column or row offsets removed),
    ``stripe_to_noise`` (RMS of the removed offsets over the band's noise std, mean over those
    bands), ``outliers_replaced`` (band-pixel values replaced), ``rank`` (spectral subspace
    dimension), ``noise_std`` (per-band white-noise std of the leave-one-out residual, input units),
    per band ``band_stripe_to_noise`` (0 where none was found) and ``band_outliers`` (as found, before
    the two limits), and what the limits left: ``stripe_bands_left``, ``outliers_left``.
    ``check()`` is called between the steps of each pass (it raises to cancel).
    """
    check = check or (lambda: None)
    as_numpy = isinstance(y, np.ndarray)
    src = torch.as_tensor(y)
    cube = src.to(torch.float64)
    bands, h, w = cube.shape
    ok = torch.isfinite(cube).all(0)
    if valid is not None:
        ok &= torch.as_tensor(valid, dtype=torch.bool, device=cube.device)
    info = {"striped_bands": 0, "stripe_to_noise": 0.0, "outliers_replaced": 0, "rank": 0, "noise_std": [],
            "band_stripe_to_noise": [0.0] * int(src.shape[0]), "band_outliers": [0] * int(src.shape[0]),
            "stripe_bands_left": 0, "outliers_left": 0}
    if bands < 4 or h < 4 or w < 4 or int(ok.sum()) < 16:
        return (y.copy() if as_numpy else src.clone()), info
    raw = torch.where(ok[None], cube, torch.zeros((), dtype=cube.dtype))
    col = torch.zeros((bands, w), dtype=cube.dtype)
    row = torch.zeros((bands, h), dtype=cube.dtype)
    bad = torch.zeros((bands, h, w), dtype=torch.bool)
    sigma = _mixed_difference_sigma(raw, ok[None])
    loo = raw
    first_stripes = True
    for p in range(passes):
        mode, stripes = _SCHEDULE[min(p, len(_SCHEDULE) - 1)]
        cur = torch.where(bad, loo, raw - col[:, None, :] - row[:, :, None])
        scale = (sigma ** 2 + _STRIPE_DOUBT * (col.pow(2).mean(1) + row.pow(2).mean(1))).sqrt()
        check()
        basis, ranks = _spectral_basis(cur, ok, scale, mode, max_rank)
        check()
        loo = _predict(cur, ok, bad, scale, basis, ranks)
        resid = raw - loo                                    # what only band b holds (plus noise)
        use = ok[None] & ~bad
        sigma = _mixed_difference_sigma(resid, use)
        if destripe and stripes:
            z = stripe_z * (_FIRST_STRIPES_Z if first_stripes else 1.0)
            first_stripes = False
            mix = _loo_operator(basis, ranks)
            new_col = _offsets(resid, use, z, white, mix, col, scale)
            row = _offsets((resid - new_col[:, None, :]).transpose(1, 2), use.transpose(1, 2), z, white, mix, row, scale)
            col = new_col
        if outliers:
            check()
            offsets = col[:, None, :] + row[:, :, None]
            bad = _impulses(resid - offsets, raw - offsets, ok, sigma, outlier_threshold, spectral_contrast)
    ratio = (col.pow(2).mean(1) + row.pow(2).mean(1)).sqrt() / sigma
    info["band_stripe_to_noise"] = ratio.tolist()
    info["band_outliers"] = bad.sum((1, 2)).tolist()
    col, row, bad = _keep_significant(col, row, bad, ratio, min_stripe_to_noise, min_outliers, info)
    cleaned = torch.where(bad, loo, raw - col[:, None, :] - row[:, :, None])
    if denoise:
        cleaned = _project(cleaned, ok, scale, basis[:, : int(ranks.median())])
    cleaned = torch.where(ok[None], cleaned, cube)
    striped = (col.abs().sum(1) > 0) | (row.abs().sum(1) > 0)
    info["striped_bands"] = int(striped.sum())
    if info["striped_bands"]:
        info["stripe_to_noise"] = float(ratio[striped].mean())
    info["outliers_replaced"] = int(bad.sum())
    info["rank"] = basis.shape[1]
    info["noise_std"] = sigma.tolist()
    out = cleaned.to(src.dtype)
    return (out.numpy() if as_numpy else out), info


def _keep_significant(col: torch.Tensor, row: torch.Tensor, bad: torch.Tensor, ratio: torch.Tensor,
                      min_ratio: float, min_outliers: float, info: dict) -> tuple:
    """The offsets and impulses to remove: bands whose offsets are weaker than ``min_ratio`` noise
    stds keep their values, and no impulse is replaced when fewer than ``min_outliers`` were found
    (what is left is counted in ``info``)."""
    found = (col.abs().sum(1) > 0) | (row.abs().sum(1) > 0)
    weak = found & (ratio < min_ratio)
    info["stripe_bands_left"] = int(weak.sum())
    if info["stripe_bands_left"]:
        col, row = col * ~weak[:, None], row * ~weak[:, None]
    if 0 < int(bad.sum()) < min_outliers:
        info["outliers_left"] = int(bad.sum())
        bad = torch.zeros_like(bad)
    return col, row, bad


def _nan_where(t: torch.Tensor, use: torch.Tensor) -> torch.Tensor:
    return torch.where(use.expand_as(t), t, torch.full_like(t, float("nan")))


def _mixed_difference_sigma(t: torch.Tensor, use: torch.Tensor) -> torch.Tensor:
    """Per-band white-noise std from the mixed second difference ``t[i,j] - t[i+1,j] - t[i,j+1] +
    t[i+1,j+1]`` (std 2σ for white noise), which cancels column and row offsets; robust (MAD)."""
    d = t[:, 1:, 1:] - t[:, :-1, 1:] - t[:, 1:, :-1] + t[:, :-1, :-1]
    u = use[:, 1:, 1:] & use[:, :-1, 1:] & use[:, 1:, :-1] & use[:, :-1, :-1]
    med = torch.nanmedian(_thin(_nan_where(d.abs(), u)), dim=1).values
    return (torch.nan_to_num(med, nan=0.0) * _MAD / 2).clamp_min(1e-12)


def _robust_std(t: torch.Tensor, use: torch.Tensor) -> torch.Tensor:
    """Per-band robust (MAD) standard deviation of ``t`` ``(bands, ...)`` where ``use``."""
    flat = _thin(_nan_where(t, use))
    med = torch.nanmedian(flat, dim=1, keepdim=True).values
    return (torch.nanmedian((flat - med).abs(), dim=1).values * _MAD).nan_to_num(0.0).clamp_min(1e-12)


def _median(t: torch.Tensor, dim: int) -> torch.Tensor:
    """NaN-ignoring median along ``dim`` (the plain median, twice as fast, when nothing is missing)."""
    return (torch.nanmedian(t, dim=dim) if torch.isnan(t).any() else torch.median(t, dim=dim)).values


def _thin(t: torch.Tensor, most: int = 1 << 13) -> torch.Tensor:
    """``t`` ``(bands, ...)`` flattened per band to at most about ``most`` evenly spread values
    (robust scale estimates need no more; medians of whole large cubes are slow)."""
    flat = t.reshape(t.shape[0], -1)
    return flat[:, :: max(1, flat.shape[1] // most)]


def _spectral_basis(cur: torch.Tensor, ok: torch.Tensor, scale: torch.Tensor, mode: str, max_rank: int,
                    max_pixels: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal ``(bands, k)`` basis of the spectra whitened by ``scale`` (the median spectrum
    plus principal directions, :func:`_directions`) and each band's rank ``(bands,)``: how many of
    its leading vectors predict that band, left out, best on held-out pixels, at most as many as
    predict all bands best.

    The ranks are chosen by two-fold cross-validation over alternate pairs of columns: the basis
    of one fold predicts, band by band and leaving the band out, the other fold's pixels. Judged on
    the pixels it was estimated from, a direction fitted to their noise, or to one band's column
    stripes, would look useful. Per band: a band with content of its own (a spectrum's edge) reaches
    a leverage near 1 long before the others stop gaining, and one rank for all, stopped there, left
    the others' scene residue in their column means, where it reads as stripes (docs/stripe_draws.md)."""
    bands, h, w = cur.shape
    wcur = cur / scale[:, None, None]
    q = _directions(wcur, ok, mode, max_rank)
    one = torch.ones(bands, dtype=torch.long)
    if q.shape[1] <= 1:
        return q, one
    fold = ((torch.arange(w) // 2) % 2 == 0)[None, :].expand(h, w)
    press = torch.zeros((q.shape[1], bands), dtype=wcur.dtype)
    for part in (fold, ~fold):
        qf = _directions(wcur, ok & part, mode, q.shape[1] - 1)
        held = (ok & ~part).reshape(-1).nonzero().reshape(-1)
        if held.numel() > max_pixels:
            held = held[torch.linspace(0, held.numel() - 1, max_pixels).long()]
        errors = _press(qf, wcur.reshape(bands, -1)[:, held])
        press[: errors.shape[0]] += errors
        press[errors.shape[0] :] = math.inf
    # each band at most the rank all bands predict best with (a band past its leverage limit counts
    # with its own best there): lower only where its own prediction needs it
    best = press.min(dim=0).values
    common = int(torch.argmin(torch.where(torch.isfinite(press), press, best[None]).sum(1))) + 1
    ranks = torch.minimum(torch.argmin(press, dim=0) + 1, torch.tensor(common))
    ranks = torch.where(torch.isfinite(press[0]), ranks, one)
    return q[:, : int(ranks.max())], ranks


def _directions(wcur: torch.Tensor, pixels: torch.Tensor, mode: str, max_rank: int,
                concentration: float = 0.7, most: int = 1 << 15) -> torch.Tensor:
    """The median spectrum of ``pixels`` and the principal directions of ``mode``: "mixed" second
    differences (cancel column and row offsets), "vertical" first differences (cancel column
    offsets) or "values" (centred spectra), from at most about ``most`` evenly spread samples;
    directions with more than ``concentration`` of their energy in one band are left out.
    Orthonormalized, the median spectrum first."""
    bands = wcur.shape[0]
    if mode == "values":
        x = _thin(wcur.reshape(bands, -1)[:, pixels.reshape(-1)], most)
        x = x - x.median(dim=1, keepdim=True).values
    else:
        if mode == "mixed":
            corners = ((slice(1, None), slice(1, None)), (slice(None, -1), slice(1, None)),
                       (slice(1, None), slice(None, -1)), (slice(None, -1), slice(None, -1)))
            signs = (0.5, -0.5, -0.5, 0.5)           # white noise keeps its variance
        else:
            corners = ((slice(1, None), slice(None)), (slice(None, -1), slice(None)))
            signs = (math.sqrt(0.5), -math.sqrt(0.5))
        d = sum(sg * wcur[:, r, c] for sg, (r, c) in zip(signs, corners))
        u = pixels[corners[0]]
        for r, c in corners[1:]:
            u = u & pixels[r, c]
        x = _thin(d.reshape(bands, -1)[:, u.reshape(-1)], most)
    if x.shape[1]:
        # samples with a band far out of line with its spectral neighbours hold an impulse, not scene
        a = x.abs() / (_thin(x.abs()).median(dim=1, keepdim=True).values * _MAD).clamp_min(1e-12)
        far = (a > 8).any(0).nonzero().reshape(-1)
        if far.numel():
            af = a[:, far]
            spike = ((af > 8) & (af > 4 * _Order(_spectral_neighbours(af, 3)).trimmed_mean())).any(0)
            keep = torch.ones(x.shape[1], dtype=torch.bool)
            keep[far[spike]] = False
            x = x[:, keep]
    mean = _thin(wcur.reshape(bands, -1)[:, pixels.reshape(-1)], most)
    mean = mean.median(dim=1).values if mean.shape[1] else torch.ones(bands, dtype=wcur.dtype)
    if x.shape[1] < 8:
        return (mean / mean.norm().clamp_min(1e-30))[:, None]
    _, vectors = torch.linalg.eigh(x @ x.T / x.shape[1])
    vectors = vectors.flip(1)
    vectors = vectors[:, vectors.pow(2).max(0).values <= concentration]
    top = max(0, min(max_rank, bands - 2, x.shape[1] // 4, vectors.shape[1]))
    q, _ = torch.linalg.qr(torch.cat([mean[:, None], vectors[:, :top]], dim=1))
    return q


def _leave_one_out_residuals(q: torch.Tensor, wy: torch.Tensor):
    """For k = 1.. the leave-one-band-out residuals ``(bands, n)`` of ``wy`` with the nested bases
    ``q[:, :k]`` (``y_b - fit_b`` over ``1 - h_b``, capped at 10 noise stds: a missed impulse weighs
    like any other badly predicted value) and where a band's leverage ``h_b`` nears 1 (no prediction)."""
    coef = q.T @ wy
    fit = torch.zeros_like(wy)
    lev = torch.zeros((wy.shape[0], 1), dtype=wy.dtype)
    for k in range(q.shape[1]):
        fit += q[:, k : k + 1] * coef[k : k + 1]
        lev += q[:, k : k + 1] ** 2
        yield ((wy - fit) / (1 - lev).clamp_min(0.1)).clamp(-10.0, 10.0), lev[:, 0] >= 0.9


def _press(q: torch.Tensor, wy: torch.Tensor) -> torch.Tensor:
    """Leave-one-band-out squared prediction error ``(k, bands)`` of ``wy`` ``(bands, n)`` with the
    nested bases ``q[:, :k]``, k = 1..; infinite where a band's leverage nears 1."""
    if wy.shape[1] == 0:
        return torch.zeros((0, wy.shape[0]), dtype=wy.dtype)
    out = [torch.where(high, math.inf, r.pow(2).sum(1)) for r, high in _leave_one_out_residuals(q, wy)]
    return torch.stack(out) if out else torch.zeros((0, wy.shape[0]), dtype=wy.dtype)


def _predict(cur: torch.Tensor, ok: torch.Tensor, bad: torch.Tensor, sigma: torch.Tensor,
             basis: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Every band's leave-one-band-out prediction ``(bands, h, w)`` in input units: each pixel's
    spectrum fitted without that band in the band's own leading ``ranks[b]`` basis vectors. Exact
    from the leverage for a least-squares fit (``y_b - (y_b - fit_b) / (1 - h_b)``); pixels with
    flagged bands are fitted without them, in the vectors most bands use."""
    bands, h, w = cur.shape
    wy = (cur / sigma[:, None, None]).reshape(bands, -1)
    own, lev = _own_vectors(basis, ranks)
    fit = own @ (basis.T @ wy)
    loo = wy - (wy - fit) / (1 - lev).clamp_min(0.1)
    flat_bad = bad.reshape(bands, -1)
    idx = (flat_bad.any(0) & ok.reshape(-1)).nonzero().reshape(-1)
    if idx.numel():
        b = basis[:, : int(ranks.median())]
        weight = (~flat_bad[:, idx]).to(wy.dtype)
        part = wy[:, idx]
        gram = torch.einsum("bk,bn,bl->nkl", b, weight, b)
        gram = gram + 1e-3 * torch.eye(b.shape[1], dtype=wy.dtype)
        inv = torch.linalg.inv(gram)
        coef = torch.einsum("nkl,bl,bn->kn", inv, b, weight * part)
        f = b @ coef
        hat = weight * torch.einsum("bk,nkl,bl->bn", b, inv, b)
        loo[:, idx] = part - (part - f) / (1 - hat.clamp_max(0.9))
        loo[:, idx] = torch.where(weight > 0, loo[:, idx], f)
    return (loo * sigma[:, None]).reshape(bands, h, w)


def _offsets(resid: torch.Tensor, use: torch.Tensor, z: float, white: float, mix: Optional[torch.Tensor] = None,
             prev: Optional[torch.Tensor] = None, scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Per-band column offsets ``(bands, w)`` of a residual ``(bands, h, w)``.

    Robust column locations, centred. Detector offsets are independent from column to column, so
    their profile is white across columns, while scene residue is smooth (its power sits in the
    low spatial frequencies): frequency components with more than ``white`` times the profile's
    white level (the median power over frequencies) are shrunk to that level. The result is kept
    where the profiles of separate column segments (top, bottom, ...) agree significantly (``z``
    standard errors; noise does not agree, residue of localized scene structure seldom does) and
    shrunk by the share of its variance the segments agree on (Wiener).

    With ``mix`` (the leave-one-out residual operator of :func:`_loo_operator`, in units of
    ``scale``) and ``prev`` (the offsets removed before ``resid`` was predicted), only the bands
    that all bands' profiles together say are striped keep theirs (:func:`_striped_bands`): one
    band's stripes also enter its neighbours' predictions, and band by band read as stripes there."""
    bands, h, w = resid.shape
    if h < 6 or w < 4:
        return torch.zeros((bands, w), dtype=resid.dtype)
    segments = max(2, min(4, h // 8))
    masked = _nan_where(resid, use)
    median = _median(masked, dim=1)
    spread = _robust_std(masked - median[:, None, :], use)
    edges = [round(i * h / segments) for i in range(segments + 1)]
    parts = [_column_location(masked[:, a:b], spread) for a, b in zip(edges[:-1], edges[1:])]
    full = _column_location(masked, spread, median)
    both = torch.stack([torch.isfinite(p) for p in parts]).all(0) & torch.isfinite(full)
    cols = both.sum(1, keepdim=True).to(resid.dtype).clamp_min(1)

    def centred(t: torch.Tensor) -> torch.Tensor:
        t = torch.where(both, t, torch.zeros_like(t))
        return (t - t.sum(1, keepdim=True) / cols) * both

    own = _significant(centred(full), [centred(p) for p in parts], both, z, white)[0]
    if mix is None:
        return own
    # column-constant shifts pass through column locations unchanged: the profiles the residual of
    # the raw cube would have, whitened
    shift = (mix - torch.eye(bands, dtype=mix.dtype)) @ (prev / scale[:, None])
    full = centred(full / scale[:, None] + shift)
    parts = [centred(p / scale[:, None] + shift) for p in parts]
    return own * _striped_bands(full, parts, both, mix, z, white)[:, None]


def _striped_bands(full: torch.Tensor, parts: list, both: torch.Tensor, mix: torch.Tensor, z: float,
                   white: float) -> torch.Tensor:
    """Which bands hold stripes ``(bands,)``, judged from all bands at once: the whitened column
    profiles of the raw cube's leave-one-out residual show stripes ``C`` as ``mix @ C``, a band's
    own stripes and their echo in the bands predicted from it. Greedy: the band whose stripes alone
    would explain most of what the profiles agree on joins the set, the set's stripes are fitted
    together (ridge least squares over every band's profile), and again, while a band's stripes are
    significant. Of two nearly collinear bands the echo of one in the other looks as significant
    as stripes of its own (band by band they swap or share them); the stripes of the true one also
    explain its echo, so it goes first, and the echo is gone."""
    bands = full.shape[0]
    chosen = torch.zeros(bands, dtype=torch.bool)
    striped = torch.zeros(bands, dtype=torch.bool)
    norms = mix.pow(2).sum(0)                                    # ||mix[:, b]||²
    fitted, fitted_parts = torch.zeros_like(full), [torch.zeros_like(p) for p in parts]
    while True:
        left, left_parts = full - fitted, [p - f for p, f in zip(parts, fitted_parts)]

        def alone(t: torch.Tensor) -> torch.Tensor:             # each band's stripes fitted alone
            return (mix.T @ t) / norms.clamp_min(1e-30)[:, None] * both

        candidate, score = _significant(alone(left), [alone(p) for p in left_parts], both, z, white)
        gain = torch.where((score > 1) & ~chosen, candidate.pow(2).sum(1) * norms, torch.zeros_like(norms))
        if float(gain.max()) <= 0:
            return striped
        chosen[int(torch.argmax(gain))] = True
        idx = chosen.nonzero().reshape(-1)
        a = mix[:, idx]
        gram = a.T @ a
        ridge = _JOINT_RIDGE * float(gram.diagonal().mean()) * torch.eye(idx.numel(), dtype=a.dtype)
        solve = torch.linalg.solve(gram + ridge, a.T)                      # |S| x bands

        def joint(t: torch.Tensor) -> torch.Tensor:
            out = torch.zeros_like(t)
            out[idx] = solve @ t
            return out * both

        joint_full, joint_parts = joint(full), [joint(p) for p in parts]
        fitted, fitted_parts = mix @ joint_full, [mix @ p for p in joint_parts]
        striped = _significant(joint_full, joint_parts, both, z, white)[1] > 1


def _significant(full: torch.Tensor, parts: list, both: torch.Tensor, z: float,
                 white: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred column profile ``full`` ``(bands, w)`` shaped to a white profile, where the
    segments' profiles ``parts`` agree significantly, shrunk by their agreement (see :func:`_offsets`),
    zero elsewhere; and per band how significant the agreement is (above 1: kept)."""
    w = full.shape[1]
    cols = both.sum(1).to(full.dtype).clamp_min(1)
    spectrum = torch.fft.rfft(full, dim=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    level = power[:, 1:].median(dim=1, keepdim=True).values / math.log(2)   # white level (median of exponential)
    gain_f = torch.where(power > white * level, (white * level / power.clamp_min(1e-300)).sqrt(), torch.ones_like(power))
    gain_f[:, 0] = 0

    def shaped(t: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(torch.fft.rfft(t, dim=1) * gain_f, n=w, dim=1) * both

    full = shaped(full)
    parts = [shaped(p) for p in parts]
    segments = len(parts)
    shared, scatter, pairs = torch.zeros_like(cols), torch.zeros_like(cols), 0
    for i in range(segments):
        for j in range(i + 1, segments):
            shared += (parts[i] * parts[j]).sum(1) / cols
            scatter += (parts[i] - parts[j]).pow(2).sum(1) / cols / 2
            pairs += 1
    shared, scatter = shared / pairs, scatter / pairs
    # without stripes, a pair's mean product is zero with standard error (its segments' variance,
    # here what they do not share) / sqrt(columns)
    error = scatter / cols.sqrt()
    total = full.pow(2).sum(1) / cols
    gain = (shared / total.clamp_min(1e-30)).clamp(0, 1)
    score = torch.where(both.sum(1) >= 4, shared / (z * error).clamp_min(1e-300), torch.zeros_like(shared))
    return full * torch.where(score > 1, gain, torch.zeros_like(gain))[:, None], score


def _loo_operator(basis: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """The ``(bands, bands)`` matrix that maps whitened spectra to their leave-one-band-out
    residuals in :func:`_predict`: ``(I - own basisᵀ)`` over ``1 - h_b`` row by row (unit diagonal:
    a band's own value enters its residual once; off the diagonal, minus the weights the other bands
    predict it with)."""
    own, lev = _own_vectors(basis, ranks)
    return (torch.eye(basis.shape[0], dtype=basis.dtype) - own @ basis.T) / (1 - lev).clamp_min(0.1)


def _own_vectors(basis: torch.Tensor, ranks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each band's row of ``basis`` cut to its own leading ``ranks[b]`` vectors, and its leverage
    ``(bands, 1)`` (the share of the band a fit in those vectors explains of itself)."""
    own = basis * (torch.arange(basis.shape[1])[None, :] < ranks[:, None])
    return own, (own ** 2).sum(1, keepdim=True)


def _column_location(masked: torch.Tensor, spread: torch.Tensor, median: torch.Tensor | None = None) -> torch.Tensor:
    """Column locations of a NaN-masked ``(bands, rows, w)`` block (NaN where a column has no
    value): one Huber step from the median (deviations clipped at 2.5 ``spread``, the band's robust
    standard deviation about its column medians), nearly as efficient as the mean on Gaussian
    noise (the median's variance is π/2 times larger) and as robust as the median."""
    med = _median(masked, dim=1) if median is None else median
    dev = masked - med[:, None, :]
    lim = 2.5 * spread[:, None, None]
    return med + torch.nanmean(torch.maximum(torch.minimum(dev, lim), -lim), dim=1)


def _impulses(e: torch.Tensor, values: torch.Tensor, ok: torch.Tensor, sigma: torch.Tensor,
              threshold: float, contrast: float, margin: float = 3.0) -> torch.Tensor:
    """Band-pixel values whose residual ``e`` is far out (``threshold`` robust standard deviations)
    and isolated in space (against the 8 neighbours' residuals) and in the spectrum (``contrast``
    times the 6 nearest bands'), whose value lies outside the range of its 8 neighbours' (the
    extreme one left out) by ``margin`` noise standard deviations (real content of an LR image has
    passed through the sensor's blur, which spreads it over neighbouring pixels), and which is a
    spike in the spectrum too (a step between bands, e.g. a specular highlight, is none)."""
    iso = e - _Order(_neighbours(e, ok), second=False).trimmed_mean()
    a = (iso / _robust_std(iso, ok[None])[:, None, None]).abs()
    found = ok[None] & (a > threshold)
    at = found.nonzero(as_tuple=True)
    if not at[0].numel():
        return found
    # the remaining tests only where the first holds (few places): gathered, not whole cubes
    keep = a[at] > contrast * _Order(_gather(a, at, [(db, 0, 0) for db in (-3, -2, -1, 1, 2, 3)]),
                                     second=False).trimmed_mean()
    ring = [(0, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    okv = torch.where(ok[None], values, torch.full((), float("nan"), dtype=values.dtype))
    limit = (margin * sigma)[at[0]]
    keep &= _Order(_gather(okv, at, ring)).outside(values[at], limit)
    keep &= _spectral_spike(values, margin * sigma[:, None, None])[at]
    found[at] = keep
    return found


def _gather(t: torch.Tensor, at: tuple, offsets: list):
    """``t`` ``(bands, h, w)`` at the positions ``at`` shifted by each ``(band, row, column)``
    offset in turn (NaN outside the cube)."""
    size = t.shape
    for off in offsets:
        idx = [i + o for i, o in zip(at, off)]
        inside = torch.ones_like(idx[0], dtype=torch.bool)
        for i, n in zip(idx, size):
            inside &= (i >= 0) & (i < n)
        idx = [i.clamp(0, n - 1) for i, n in zip(idx, size)]
        yield torch.where(inside, t[tuple(idx)], torch.full((), float("nan"), dtype=t.dtype))


def _neighbours(t: torch.Tensor, ok: torch.Tensor):
    """``t`` ``(bands, h, w)`` shifted to each of the 8 neighbours in turn; NaN outside the image
    or at invalid pixels."""
    h, w = t.shape[1:]
    padded = F.pad(t, (1, 1, 1, 1), value=float("nan"))
    okp = F.pad(ok, (1, 1, 1, 1), value=False)
    nan = torch.full((), float("nan"), dtype=t.dtype)
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) != (1, 1):
                yield torch.where(okp[dy : dy + h, dx : dx + w], padded[:, dy : dy + h, dx : dx + w], nan)


def _spectral_neighbours(a: torch.Tensor, reach: int):
    """``a`` ``(bands, ...)`` shifted to each of the ``2 reach`` nearest bands in turn (NaN past the ends)."""
    bands = a.shape[0]
    nan = torch.full((reach,) + tuple(a.shape[1:]), float("nan"), dtype=a.dtype)
    padded = torch.cat([nan, a, nan])
    for i in range(2 * reach + 1):
        if i != reach:
            yield padded[i : i + bands]


class _Order:
    """Order statistics over a stream of equally shaped tensors (NaN = missing), kept as running
    sums and the two smallest and two largest values: no stack of the neighbours in memory."""

    def __init__(self, stream, second: bool = True):
        self.count = self.total = None
        for t in stream:
            have = ~torch.isnan(t)
            lo_t = torch.where(have, t, torch.full((), math.inf, dtype=t.dtype))
            hi_t = torch.where(have, t, torch.full((), -math.inf, dtype=t.dtype))
            if self.count is None:
                self.count, self.total = have.to(torch.int32), torch.where(have, t, torch.zeros((), dtype=t.dtype))
                self.lo1, self.hi1 = lo_t, hi_t
                self.lo2 = torch.full_like(t, math.inf)
                self.hi2 = torch.full_like(t, -math.inf)
                continue
            self.count = self.count + have
            self.total = self.total + torch.where(have, t, torch.zeros((), dtype=t.dtype))
            if second:
                self.lo2 = torch.minimum(self.lo2, torch.maximum(self.lo1, lo_t))
                self.hi2 = torch.maximum(self.hi2, torch.minimum(self.hi1, hi_t))
            self.lo1 = torch.minimum(self.lo1, lo_t)
            self.hi1 = torch.maximum(self.hi1, hi_t)

    def trimmed_mean(self) -> torch.Tensor:
        """The mean without the largest and the smallest value (0 with fewer than 3 values)."""
        mean = (self.total - self.hi1 - self.lo1) / (self.count - 2).clamp_min(1)
        return torch.where(self.count >= 3, mean, torch.zeros((), dtype=mean.dtype))

    def outside(self, values: torch.Tensor, margin: torch.Tensor) -> torch.Tensor:
        """Where ``values`` lie beyond the second smallest or the second largest by more than ``margin``."""
        return torch.maximum(self.lo2 - values, values - self.hi2) > margin


def _spectral_spike(values: torch.Tensor, margin: torch.Tensor) -> torch.Tensor:
    """Where a band's value stands above (below) both spectral sides by ``margin``: above the
    smaller (below the larger) of the two nearest bands on each side, so a neighbouring band hit
    by the same defect does not hide it. A monotone step between bands is no spike. The first and
    last bands, with one side only, must stand out of that side's trend: beyond the nearest band
    by twice its difference to the next, plus the margin."""
    bands = values.shape[0]
    pad = F.pad(values.permute(1, 2, 0), (2, 2), value=float("nan")).permute(2, 0, 1)
    before2, before1 = pad[0:bands], pad[1 : bands + 1]
    after1, after2 = pad[3 : bands + 3], pad[4 : bands + 4]
    up = torch.fmax(torch.fmin(before1, before2), torch.fmin(after1, after2))      # NaN-ignoring
    down = torch.fmin(torch.fmax(before1, before2), torch.fmax(after1, after2))
    two_sided = (values > up + margin) | (values < down - margin)
    near = torch.where(torch.isnan(before1), after1, before1)
    nxt = torch.where(torch.isnan(before1), after2, before2)
    one_sided = (values - near).abs() > 2 * (near - nxt).abs() + margin
    has_before, has_after = ~torch.isnan(before1), ~torch.isnan(after1)
    return torch.where(has_before & has_after, two_sided, one_sided & ~torch.isnan(nxt))


def _project(cube: torch.Tensor, ok: torch.Tensor, sigma: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Subspace denoising: each band's part outside the spectral subspace, shrunk by the share of
    it that is not noise (Wiener, per band: a projection residual of white noise has variance
    ``(1 - h_b) σ_b²``); bands whose residual is mostly scene keep it."""
    bands = cube.shape[0]
    wy = (cube / sigma[:, None, None]).reshape(bands, -1)
    fit = basis @ (basis.T @ wy)
    r = wy - fit
    lev = (basis ** 2).sum(1)
    var = r[:, ok.reshape(-1)].pow(2).mean(1)
    gain = (1 - (1 - lev) / var.clamp_min(1e-12)).clamp(0, 1)
    return (fit + gain[:, None] * r).reshape(cube.shape) * sigma[:, None, None]


# -- in the fusion ----------------------------------------------------------------------------------

#: "auto" (docs/hsi_noise.md): a band's stripes are removed when their RMS reaches this many noise
#: stds (training scenes: a clean cube's false alarms stay below it, nearly all added stripes pass) ...
AUTO_MIN_STRIPE_TO_NOISE = 0.6
#: ... and impulses are replaced when at least this many were found, and this share of the valid
#: values (a clean training cube had a few false alarms at most)
AUTO_MIN_OUTLIERS = 10
AUTO_MIN_OUTLIER_SHARE = 1e-4


#: LR values (bands x pixels) cleaned at once; larger HSIs are cleaned block by block, so the
#: cleaning's working memory (float64 cubes, docs/hsi_noise.md) stays bounded. A fixed figure, not
#: the free memory: the same input must give the same result on any machine.
BLOCK_VALUES = 1 << 22
#: the smallest block side [LR pixels]: column offsets need rows to agree on, the profile's
#: whiteness test needs columns
MIN_BLOCK = 64


def limits(mode: str, values: int) -> dict:
    """``clean_hsi``'s limits for ``mode`` ("on": none; "auto": only what a clean cube's false
    alarms do not reach), ``values`` being the valid band-pixel values it sees. A false alarm only
    moves values by about the noise, but "auto" must not change a clean HSI at all."""
    if mode == "on":
        return {"min_stripe_to_noise": 0.0, "min_outliers": 0.0}
    return {"min_stripe_to_noise": AUTO_MIN_STRIPE_TO_NOISE,
            "min_outliers": max(AUTO_MIN_OUTLIERS, AUTO_MIN_OUTLIER_SHARE * values)}


def blocks(bands: int, h: int, w: int, most_values: int = BLOCK_VALUES) -> list[tuple[slice, slice]]:
    """LR windows that cover ``(h, w)`` with at most about ``most_values`` band-pixel values each
    (one window when the whole cube fits): equal square-ish blocks of at least MIN_BLOCK pixels a
    side. Offsets of a pushbroom sensor do not change along a column, so a block's estimate only has
    fewer rows to go on."""
    most = max(MIN_BLOCK * MIN_BLOCK, most_values // max(bands, 1))
    if h * w <= most:
        return [(slice(0, h), slice(0, w))]
    side = max(MIN_BLOCK, int(math.sqrt(most)))
    rows, cols = (max(1, min(math.ceil(n / side), n // MIN_BLOCK)) for n in (h, w))
    r = [round(i * h / rows) for i in range(rows + 1)]
    c = [round(j * w / cols) for j in range(cols + 1)]
    return [(slice(r[i], r[i + 1]), slice(c[j], c[j + 1])) for i in range(rows) for j in range(cols)]


def clean_blocks(y: np.ndarray, valid: np.ndarray, mode: str, most_values: int = BLOCK_VALUES,
                 check: Optional[Callable[[], None]] = None) -> tuple[np.ndarray, dict]:
    """:func:`clean_hsi` on each of :func:`blocks` with the limits of ``mode`` (per block), and what
    it found over all of them: bands counted once, values summed. With "auto" and several blocks,
    the block with the most valid pixels is looked at first, and when it holds no stripes or impulses
    worth removing the cube is returned as it is (``blocks_looked_at`` 1 of ``blocks``)."""
    out = y.copy()
    floor = limits(mode, 0)["min_stripe_to_noise"]
    striped, weak, ratios = set(), set(), []
    total = {"outliers_replaced": 0, "outliers_left": 0}
    windows = _probe_first(blocks(*y.shape, most_values), valid)
    for i, (rows, cols) in enumerate(windows):
        ok = valid[rows, cols]
        part, info = clean_hsi(y[:, rows, cols], ok, check=check, **limits(mode, y.shape[0] * int(ok.sum())))
        out[:, rows, cols] = part
        found = {b: r for b, r in enumerate(info["band_stripe_to_noise"]) if r > 0}
        striped.update(b for b, r in found.items() if r >= floor)
        weak.update(b for b, r in found.items() if r < floor)
        ratios += [r for r in found.values() if r >= floor]
        for k in total:
            total[k] += info[k]
        if i == 0 and mode == "auto" and len(windows) > 1 and not striped and not total["outliers_replaced"]:
            # a sensor's stripes run down whole columns and its dead pixels are scattered, so a
            # block without either speaks for the cube: the others are not worth their seconds
            return y, dict(total, striped_bands=0, stripe_to_noise=0.0, stripe_bands_left=len(weak),
                           blocks_looked_at=1, blocks=len(windows))
    return out, dict(total, striped_bands=len(striped), stripe_to_noise=float(np.mean(ratios)) if ratios else 0.0,
                     stripe_bands_left=len(weak - striped), blocks_looked_at=len(windows), blocks=len(windows))


def _probe_first(windows: list[tuple[slice, slice]], valid: np.ndarray) -> list[tuple[slice, slice]]:
    """``windows`` with the one holding the most valid pixels first (the probe of "auto")."""
    counts = [int(valid[r, c].sum()) for r, c in windows]
    first = int(np.argmax(counts)) if counts else 0
    return windows[first:first + 1] + windows[:first] + windows[first + 1:]


def clean_pair(pair: NormalizedPair, mode: str, check: Optional[Callable[[], None]] = None,
               most_values: int = BLOCK_VALUES) -> tuple[NormalizedPair, Optional[HsiCleaning]]:
    """The pair with its LR-HSI cleaned as ``mode`` ("auto", "on", "off") says, and what the
    cleaning found (None when off); block by block beyond ``most_values`` band-pixel values.

    Only pixels valid in every band are cleaned and looked at (``pair.hsi_valid``); those valid in
    some bands only keep their values, and every mask stays as it is. Everything downstream (the
    degradation estimate, the start, the fitting, the guard, the tiles) reads ``pair.y``, so it all
    sees the same HSI."""
    if mode == "off":
        return pair, None
    t = time.perf_counter()
    y, info = clean_blocks(pair.y, pair.hsi_valid, mode, most_values, check)
    applied = bool(info["striped_bands"] or info["outliers_replaced"])
    report = HsiCleaning(mode=mode, applied=applied, striped_bands=info["striped_bands"],
                         stripe_to_noise=info["stripe_to_noise"], outliers_replaced=info["outliers_replaced"],
                         stripe_bands_left=info["stripe_bands_left"], outliers_left=info["outliers_left"],
                         bands=int(pair.y.shape[0]), seconds=time.perf_counter() - t)
    return (replace(pair, y=y) if applied else pair), report
