"""The report's figures, as base64 PNG (matplotlib, Agg backend)."""
from __future__ import annotations

import base64
import io
from typing import Optional, Sequence

import numpy as np

from ..display import COMPOSITES, colour_composite, finite_wavelengths

#: largest side of the colour previews (pixels); previews are strided down to it.
PREVIEW_SIDE = 256
#: wavelengths (nm) of the red, green and blue channels of true-colour previews.
RGB_NM = COMPOSITES[0][1]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------------------------
# Kernel, responses, losses
# ----------------------------------------------------------------------------------------------

def kernel_figure(kernel: np.ndarray, initial: Optional[np.ndarray] = None) -> str:
    """PNG (base64) of the estimated kernel beside the starting one (same colour scale)."""
    plt = _pyplot()
    panels = [("estimated kernel", np.asarray(kernel))]
    if initial is not None:
        panels.append(("starting kernel", np.asarray(initial)))
    vmax = max(float(np.nanmax(k)) for _, k in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (title, k) in zip(axes[0], panels):
        im = ax.imshow(k, cmap="viridis", interpolation="nearest", vmin=0, vmax=vmax)
        ax.set_title(f"{title} ({k.shape[0]}x{k.shape[1]})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def srf_figure(srf: np.ndarray, initial: Optional[np.ndarray] = None,
               hsi_wavelengths_nm: Optional[Sequence[float]] = None,
               msi_names: Optional[Sequence[str]] = None) -> str:
    """PNG (base64): the estimated responses against wavelength (or HSI band) beside the starting
    ones (same axes)."""
    plt = _pyplot()
    p = np.asarray(srf)
    wl = finite_wavelengths(hsi_wavelengths_nm, p.shape[1])
    x = wl if wl is not None else np.arange(1, p.shape[1] + 1)
    order = np.argsort(x)
    panels = [("estimated responses", p)] + ([("starting responses", np.asarray(initial))]
                                             if initial is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.2), squeeze=False, sharey=True)
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for ax, (title, q) in zip(axes[0], panels):
        for i, row in enumerate(q):
            name = msi_names[i] if msi_names is not None and i < len(msi_names) else f"band {i + 1}"
            ax.plot(x[order], row[order], color=colors[i % 10], label=name)
        ax.set_xlabel("wavelength (nm)" if wl is not None else "HSI band")
        ax.set_title(title, fontsize=9)
    axes[0][0].set_ylabel("weight (rows sum to 1)")
    axes[0][0].legend(fontsize=7, ncol=2)
    return _png(fig)


def loss_figure(losses: dict) -> Optional[str]:
    curves = {k: np.asarray(v, dtype=float) for k, v in (losses or {}).items()
              if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 1}
    if not curves:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 2.8), squeeze=False)
    for ax, (name, v) in zip(axes[0], curves.items()):
        (ax.semilogy if np.all(v > 0) else ax.plot)(np.arange(1, v.size + 1), v)
        ax.set_xlabel("iteration")
        ax.set_title(name, fontsize=9)
    return _png(fig)


# ----------------------------------------------------------------------------------------------
# Colour previews
# ----------------------------------------------------------------------------------------------

def rgb_bands(n_bands: int, wavelengths_nm=None) -> list:
    """Indices of the red, green, blue channels, as the map canvas shows the raster
    (:func:`core.display.colour_composite`: true colour, else a false colour, else evenly spaced bands)."""
    return list(colour_composite(n_bands, wavelengths_nm).bands)


def _stride(h: int, w: int, side: int = PREVIEW_SIDE) -> int:
    return max(1, int(np.ceil(max(h, w) / side)))


def _stretch(rgb: np.ndarray, ref: Optional[np.ndarray] = None) -> np.ndarray:
    """(3, h, w) -> (h, w, 3) in [0, 1], 2-98 % per channel (limits from ``ref`` when given)."""
    src = rgb if ref is None else ref
    out = np.empty(rgb.shape[1:] + (3,), dtype=np.float32)
    for c in range(3):
        v = src[c][np.isfinite(src[c])]
        lo, hi = (np.percentile(v, [2, 98]) if v.size else (0.0, 1.0))
        hi = hi if hi > lo else lo + 1.0
        out[..., c] = np.clip((rgb[c] - lo) / (hi - lo), 0, 1)
    out[~np.isfinite(out)] = 0.0
    return out


def _upsample_nearest_to(a: np.ndarray, shape: tuple) -> np.ndarray:
    """(c, h, w) resampled (bilinear) onto ``shape`` = (H', W') by pixel centres."""
    c, h, w = a.shape
    H, W = shape
    ys = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    a = np.where(np.isfinite(a), a, np.nan)
    top = a[:, y0][:, :, x0] * (1 - fx) + a[:, y0][:, :, x1] * fx
    bot = a[:, y1][:, :, x0] * (1 - fx) + a[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bot * fy


def changed_figure(hsi: np.ndarray, msi: np.ndarray, changed: np.ndarray, hsi_wavelengths_nm=None,
                   msi_wavelengths_nm=None) -> str:
    """PNG (base64): the upsampled HSI and the MSI in colour, the areas where they disagree (``changed``:
    LR pixels written as upsampled HSI, core/pair_changes.py) tinted red on both."""
    plt = _pyplot()
    H, W = msi.shape[1:]
    s = _stride(H, W)
    msi_bands = rgb_bands(msi.shape[0], finite_wavelengths(msi_wavelengths_nm, msi.shape[0]))
    msi_rgb = np.asarray(msi[msi_bands][:, ::s, ::s], dtype=np.float32)
    shape = msi_rgb.shape[1:]
    hsi_rgb = _upsample_nearest_to(np.asarray(hsi[rgb_bands(hsi.shape[0], hsi_wavelengths_nm)], dtype=np.float32),
                                   shape)
    mask = _upsample_nearest_to(np.asarray(changed, dtype=np.float32)[None], shape)[0] > 0.5
    fig, axes = plt.subplots(1, 2, figsize=(6.6, 3.5), squeeze=False)
    for ax, (title, rgb) in zip(axes[0], (("HSI (upsampled)", hsi_rgb), ("MSI", msi_rgb))):
        im = _stretch(rgb)
        im[mask] = 0.5 * im[mask] + 0.5 * np.array([1.0, 0.0, 0.0], dtype=np.float32)
        ax.imshow(im, interpolation="nearest")
        ax.set_title(f"{title}\nred: written as upsampled HSI", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


def preview_figure(hsi: np.ndarray, msi: np.ndarray, fused=None,
                   hsi_wavelengths_nm=None, msi_wavelengths_nm=None, srf: Optional[np.ndarray] = None) -> str:
    """PNG (base64): colour previews of the upsampled HSI, the MSI and (when given) the fused image.
    HSI and fused share bands and stretch; the MSI's bands come from its wavelengths, else from the
    responses' centres (``srf`` at the HSI wavelengths), else evenly spaced. ``fused`` is an array
    on the MSI grid, or a written raster read back decimated (an object with a
    ``decimated(bands, out_shape)`` method, ``core/io/rows.py``), so the preview costs a few hundred
    pixels a side whatever the output's size."""
    plt = _pyplot()
    H, W = msi.shape[1:]
    s = _stride(H, W)
    hb = rgb_bands(hsi.shape[0], hsi_wavelengths_nm)
    mwl = finite_wavelengths(msi_wavelengths_nm, msi.shape[0])
    hwl = finite_wavelengths(hsi_wavelengths_nm, hsi.shape[0])
    if mwl is None and hwl is not None and srf is not None and np.asarray(srf).shape == (msi.shape[0], hsi.shape[0]):
        p = np.asarray(srf, dtype=float)
        mwl = (p @ hwl) / np.maximum(p.sum(1), 1e-12)
    mb = rgb_bands(msi.shape[0], mwl)
    msi_rgb = np.asarray(msi[mb][:, ::s, ::s], dtype=np.float32)
    shape = msi_rgb.shape[1:]
    hsi_rgb = _upsample_nearest_to(np.asarray(hsi[hb], dtype=np.float32), shape)
    panels = [("HSI (upsampled)", None), ("MSI", _stretch(msi_rgb))]
    ref = hsi_rgb
    if fused is not None:
        if hasattr(fused, "decimated"):
            fused_rgb = np.asarray(fused.decimated(hb, shape), dtype=np.float32)
        else:
            fused_rgb = np.asarray(fused[hb][:, ::s, ::s], dtype=np.float32)
        ref = fused_rgb
        panels.append(("fused", _stretch(fused_rgb, ref)))
    panels[0] = ("HSI (upsampled)", _stretch(hsi_rgb, ref))

    def label(bands, wl):
        return ", ".join(f"{wl[b]:.0f} nm" if wl is not None else f"b{b + 1}" for b in bands)

    subtitles = [label(hb, hwl), label(mb, finite_wavelengths(msi_wavelengths_nm, msi.shape[0])), label(hb, hwl)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.5), squeeze=False)
    for ax, (title, im), sub in zip(axes[0], panels, subtitles):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(f"{title}\nR,G,B = {sub}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


def residual_figure(res: dict, hsi_wavelengths_nm=None, msi_names=None) -> str:
    plt = _pyplot()
    panels = []
    if res.get("hsi") is not None:
        panels.append("hsi")
    panels.append("msi")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.0), squeeze=False)
    for ax, key in zip(axes[0], panels):
        rel = res[key][1]
        if key == "hsi":
            wl = finite_wavelengths(hsi_wavelengths_nm, rel.size)
            x = wl if wl is not None else np.arange(1, rel.size + 1)
            o = np.argsort(x)
            ax.plot(x[o], rel[o], marker=".", ms=3)
            ax.set_xlabel("wavelength (nm)" if wl is not None else "HSI band")
            ax.set_title("HSI vs (X*K)↓s", fontsize=9)
        else:
            names = [msi_names[i] if msi_names is not None and i < len(msi_names) else f"{i + 1}"
                     for i in range(rel.size)]
            ax.bar(np.arange(rel.size), rel, color="tab:orange")
            ax.set_xticks(np.arange(rel.size))
            ax.set_xticklabels([n[:10] for n in names], rotation=45, ha="right", fontsize=7)
            ax.set_title("MSI vs gain·P·X" if res["kind"] == "fused" else "(Z*K)↓s vs gain·P·Y", fontsize=9)
        ax.set_ylabel("RMSE / mean |value| (%)")
        ax.set_ylim(bottom=0)
    return _png(fig)
