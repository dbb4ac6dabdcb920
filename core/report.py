"""HTML run reports with matplotlib (Agg) figures embedded as PNG (QGIS-free).

A report holds the settings, timings, device, warnings and these figures (embedded as base64 PNG,
so the page is one self-contained file that QGIS's results viewer and any browser show):

- the estimated blur kernel beside its starting point;
- the estimated spectral responses against wavelength (or HSI band) beside the starting ones;
- colour previews of the upsampled HSI, the MSI and the fused image (true colour when wavelengths
  are known, else evenly spaced bands; 2-98 % percentile stretch; downsampled to a few hundred pixels);
- per-band consistency residuals: the fused image re-degraded with the estimated kernel and response
  against each input (``(X*K)↓s`` vs the HSI, ``msi_gain · P·X`` vs the MSI), in the images' units;
  for a degradation alone, ``(Z*K)↓s`` against ``msi_gain · P·Y``;
- the loss curves.
"""
from __future__ import annotations

import base64
import html
import io
import time
from typing import Optional, Sequence

import numpy as np

#: largest side of the colour previews (pixels); previews are strided down to it.
PREVIEW_SIDE = 256
#: wavelengths (nm) of the red, green and blue channels of true-colour previews.
RGB_NM = (640.0, 550.0, 460.0)


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


def _img(b64: str, alt: str) -> str:
    return f"<img src='data:image/png;base64,{b64}' alt='{html.escape(alt)}'>"


def _finite_wl(wl, n) -> Optional[np.ndarray]:
    if wl is None:
        return None
    a = np.asarray(wl, dtype=float).ravel()
    return a if a.size == n and np.all(np.isfinite(a)) else None


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
    wl = _finite_wl(hsi_wavelengths_nm, p.shape[1])
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
    """Indices of the red, green, blue channels: the bands nearest 640/550/460 nm when the
    wavelengths cover the visible range, else three evenly spaced bands (last, middle, first)."""
    if n_bands < 3:
        return [0] * 3 if n_bands == 1 else [n_bands - 1, 0, 0]
    wl = _finite_wl(wavelengths_nm, n_bands)
    if wl is not None and wl.min() <= RGB_NM[2] + 30 and wl.max() >= RGB_NM[0] - 30:
        idx = [int(np.argmin(np.abs(wl - t))) for t in RGB_NM]
        if len(set(idx)) == 3:
            return idx
    return [n_bands - 1, n_bands // 2, 0] if wl is None else list(np.argsort(wl)[[n_bands - 1, n_bands // 2, 0]])


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


def preview_figure(hsi: np.ndarray, msi: np.ndarray, fused: Optional[np.ndarray] = None,
                   hsi_wavelengths_nm=None, msi_wavelengths_nm=None, srf: Optional[np.ndarray] = None) -> str:
    """PNG (base64): colour previews of the upsampled HSI, the MSI and (when given) the fused image.
    HSI and fused share bands and stretch; the MSI's bands come from its wavelengths, else from the
    responses' centres (``srf`` at the HSI wavelengths), else evenly spaced."""
    plt = _pyplot()
    H, W = msi.shape[1:]
    s = _stride(H, W)
    hb = rgb_bands(hsi.shape[0], hsi_wavelengths_nm)
    mwl = _finite_wl(msi_wavelengths_nm, msi.shape[0])
    hwl = _finite_wl(hsi_wavelengths_nm, hsi.shape[0])
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
        fused_rgb = np.asarray(fused[hb][:, ::s, ::s], dtype=np.float32)
        ref = fused_rgb
        panels.append(("fused", _stretch(fused_rgb, ref)))
    panels[0] = ("HSI (upsampled)", _stretch(hsi_rgb, ref))

    def label(bands, wl):
        return ", ".join(f"{wl[b]:.0f} nm" if wl is not None else f"b{b + 1}" for b in bands)

    subtitles = [label(hb, hwl), label(mb, _finite_wl(msi_wavelengths_nm, msi.shape[0])), label(hb, hwl)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.5), squeeze=False)
    for ax, (title, im), sub in zip(axes[0], panels, subtitles):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(f"{title}\nR,G,B = {sub}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


# ----------------------------------------------------------------------------------------------
# Consistency residuals
# ----------------------------------------------------------------------------------------------

def _band_rmse(pred: np.ndarray, obs: np.ndarray, valid: Optional[np.ndarray] = None):
    """Per-band RMSE and RMSE relative to the band's mean absolute value (%), over finite, valid pixels."""
    ok = np.isfinite(pred).all(0) & np.isfinite(obs).all(0)
    if valid is not None and valid.shape == ok.shape:
        ok &= valid
    if not ok.any():
        nan = np.full(pred.shape[0], np.nan)
        return nan, nan
    d = pred[:, ok] - obs[:, ok]
    rmse = np.sqrt(np.mean(d.astype(np.float64) ** 2, axis=1))
    scale = np.mean(np.abs(obs[:, ok].astype(np.float64)), axis=1)
    return rmse, 100.0 * rmse / np.maximum(scale, 1e-12)


def consistency_residuals(hsi: np.ndarray, msi: np.ndarray, kernel: np.ndarray, srf: np.ndarray, scale: int,
                          msi_gain: Optional[np.ndarray] = None, fused: Optional[np.ndarray] = None,
                          hsi_valid: Optional[np.ndarray] = None, msi_valid: Optional[np.ndarray] = None) -> dict:
    """Per-band residuals of the observation model, in the images' units.

    With ``fused`` (X): ``hsi`` against ``(X*K)↓s`` (one value per HSI band) and ``msi`` against
    ``msi_gain · P·X`` (one per MSI band). Without it (a degradation alone): ``(Z*K)↓s`` against
    ``msi_gain · P·Y`` (one per MSI band, on the HSI grid).
    Returns ``{"hsi": (rmse, rel%) or None, "msi": (rmse, rel%), "kind": ...}``."""
    import torch

    from .operators import blur_downsample, project

    k = torch.as_tensor(np.asarray(kernel, dtype=np.float32))
    p = torch.as_tensor(np.asarray(srf, dtype=np.float32))
    gain = np.ones(p.shape[0]) if msi_gain is None else np.asarray(msi_gain, dtype=np.float64).ravel()
    g = torch.as_tensor(gain.astype(np.float32))[:, None, None]
    with torch.no_grad():
        if fused is not None:
            x = torch.as_tensor(np.nan_to_num(np.asarray(fused, dtype=np.float32)))
            y_hat = blur_downsample(x, k, int(scale)).numpy()
            h, w = min(y_hat.shape[1], hsi.shape[1]), min(y_hat.shape[2], hsi.shape[2])
            lr_ok = np.isfinite(np.asarray(fused)[:, int(scale) // 2::int(scale), int(scale) // 2::int(scale)]).all(0)
            lr_ok = lr_ok[:h, :w] & (hsi_valid[:h, :w] if hsi_valid is not None else True)
            res_h = _band_rmse(y_hat[:, :h, :w], np.asarray(hsi, dtype=np.float32)[:, :h, :w], lr_ok)
            z_hat = (g * project(x, p)).numpy()
            ok = np.isfinite(np.asarray(fused)).all(0)
            if msi_valid is not None:
                ok &= msi_valid
            res_m = _band_rmse(z_hat, np.asarray(msi, dtype=np.float32), ok)
            return {"hsi": res_h, "msi": res_m, "kind": "fused"}
        z = torch.as_tensor(np.nan_to_num(np.asarray(msi, dtype=np.float32)))
        z_lr = blur_downsample(z, k, int(scale)).numpy()
        y = torch.as_tensor(np.nan_to_num(np.asarray(hsi, dtype=np.float32)))
        py = (g * project(y, p)).numpy()
        h, w = min(z_lr.shape[1], py.shape[1]), min(z_lr.shape[2], py.shape[2])
        ok = np.ones((h, w), bool) if hsi_valid is None else hsi_valid[:h, :w].copy()
        return {"hsi": None, "msi": _band_rmse(py[:, :h, :w], z_lr[:, :h, :w], ok), "kind": "degradation"}


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
            wl = _finite_wl(hsi_wavelengths_nm, rel.size)
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


# ----------------------------------------------------------------------------------------------
# Page
# ----------------------------------------------------------------------------------------------

def _table(rows: Sequence[Sequence], header: Optional[Sequence[str]] = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def _section(parts: list, title: str, build, warnings: list):
    """Append a figure section; a failing figure becomes a note (the report is still written)."""
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - a figure must not lose the run's outputs
        warnings.append(f"{title}: figure not drawn ({type(exc).__name__}: {exc})")
        return
    if body:
        parts += [f"<h2>{html.escape(title)}</h2>"] + ([body] if isinstance(body, str) else list(body))


def build_report(title: str, settings: dict, kernel: np.ndarray, srf: np.ndarray,
                 initial_kernel: Optional[np.ndarray] = None, initial_srf: Optional[np.ndarray] = None,
                 hsi_wavelengths_nm=None, msi_names=None, timings: Optional[dict] = None,
                 device: Optional[str] = None, warnings: Sequence[str] = (), losses: Optional[dict] = None,
                 extra_tables: Optional[dict] = None, hsi: Optional[np.ndarray] = None,
                 msi: Optional[np.ndarray] = None, fused: Optional[np.ndarray] = None,
                 scale: Optional[int] = None, msi_gain: Optional[np.ndarray] = None,
                 msi_wavelengths_nm=None, hsi_valid: Optional[np.ndarray] = None,
                 msi_valid: Optional[np.ndarray] = None) -> str:
    """The HTML page as a string. ``hsi`` / ``msi`` (and ``fused``) with ``scale`` add the colour
    previews and the consistency residuals."""
    t0 = time.perf_counter()
    notes: list = []
    k = np.asarray(kernel)
    p = np.asarray(srf)
    body: list = []
    if timings:
        body += ["<h2>Timings</h2>", _table([(k_, f"{float(v):.2f} s") for k_, v in timings.items()],
                                            ["stage", "time"])]
    for name, rows in (extra_tables or {}).items():
        body += [f"<h2>{html.escape(name)}</h2>", _table(rows)]
    if hsi is not None and msi is not None:
        _section(body, "Colour previews", lambda: _img(preview_figure(
            hsi, msi, fused, hsi_wavelengths_nm, msi_wavelengths_nm, p), "previews"), notes)
    _section(body, "Blur kernel", lambda: [
        _img(kernel_figure(k, initial_kernel), "kernel"),
        f"<p>{k.shape[0]} x {k.shape[1]}, sum {k.sum():.4f}</p>",
        "<details><summary>kernel values</summary>", _table(k.tolist()), "</details>"], notes)
    _section(body, "Spectral responses (rows = MSI bands)", lambda: _img(
        srf_figure(p, initial_srf, hsi_wavelengths_nm, msi_names), "responses"), notes)
    wl = _finite_wl(hsi_wavelengths_nm, p.shape[1])
    header = ["MSI band"] + ([f"{w:.0f} nm" for w in wl] if wl is not None else [str(j + 1) for j in range(p.shape[1])])
    names = list(msi_names) if msi_names is not None and len(msi_names) == p.shape[0] else [
        str(i + 1) for i in range(p.shape[0])]
    rows = [[n] + list(r) for n, r in zip(names, p.tolist())]
    if msi_gain is not None and np.asarray(msi_gain).size == p.shape[0]:
        header.insert(1, "gain")
        rows = [[r[0], float(g)] + r[1:] for r, g in zip(rows, np.asarray(msi_gain).ravel())]
    body += ["<details><summary>response table</summary>", _table(rows, header), "</details>"]
    if hsi is not None and msi is not None and scale:
        def residuals():
            res = consistency_residuals(hsi, msi, k, p, int(scale), msi_gain, fused, hsi_valid, msi_valid)
            out = [_img(residual_figure(res, hsi_wavelengths_nm, names), "residuals")]
            if res["kind"] == "fused":
                out.append("<p>The fused image X re-degraded with the estimated kernel K and response P, against "
                           "each input (RMSE in the images' units and relative to the band's mean).</p>")
            else:
                out.append("<p>The MSI blurred and downsampled with K against the HSI projected with P "
                           "(RMSE in the MSI's units and relative to the band's mean).</p>")
            out.append("<details><summary>residual table</summary>")
            out.append(_table([[n, a, f"{b:.2f} %"] for n, a, b in zip(names, *res["msi"])],
                              ["MSI band", "RMSE", "relative"]))
            if res["hsi"] is not None:
                lab = [f"{w:.0f} nm" for w in wl] if wl is not None else [str(j + 1) for j in range(p.shape[1])]
                out.append(_table([[n, a, f"{b:.2f} %"] for n, a, b in zip(lab, *res["hsi"])],
                                  ["HSI band", "RMSE", "relative"]))
            out.append("</details>")
            return out
        _section(body, "Consistency residuals", residuals, notes)
    lf = loss_figure(losses or {})
    if lf:
        body += ["<h2>Losses</h2>", _img(lf, "losses")]
    report_s = time.perf_counter() - t0

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #bbb;padding:2px 6px;font-size:90%;text-align:right}"
        "th{background:#eee}.warn{color:#a60}img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Settings</h2>",
        _table([(k_, v) for k_, v in settings.items()], ["setting", "value"]),
    ]
    if device:
        parts.append(f"<p>Device: <b>{html.escape(str(device))}</b></p>")
    all_warnings = list(warnings) + notes
    if all_warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>{html.escape(str(w))}</li>"
                                                       for w in all_warnings) + "</ul>")
    parts += body
    parts.append(f"<p style='color:#888;font-size:80%'>report drawn in {report_s:.1f} s</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str, *args, **kwargs) -> str:
    """Build the report (see :func:`build_report`) and write it atomically to ``path``."""
    from .raster_io import write_text_atomic

    return write_text_atomic(path, build_report(*args, **kwargs))
