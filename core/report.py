"""HTML run reports with matplotlib (Agg) figures embedded as PNG (QGIS-free).

A report holds the settings, timings, device, warnings, the kernel and spectral response as tables,
and figures of the kernel (estimated beside the starting one), the responses against wavelength
and the loss curves. Figures are embedded (base64) so the page is one self-contained file.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Optional, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def kernel_figure(kernel: np.ndarray, initial: Optional[np.ndarray] = None) -> str:
    """PNG (base64) of the estimated kernel beside the starting one."""
    plt = _pyplot()
    panels = [("estimated kernel", kernel)] + ([("starting kernel", initial)] if initial is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (title, k) in zip(axes[0], panels):
        im = ax.imshow(np.asarray(k), cmap="viridis", interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def srf_figure(srf: np.ndarray, initial: Optional[np.ndarray] = None,
               hsi_wavelengths_nm: Optional[Sequence[float]] = None,
               msi_names: Optional[Sequence[str]] = None) -> str:
    """PNG (base64) of the spectral responses against wavelength (or HSI band), estimated (solid)
    and starting (dashed)."""
    plt = _pyplot()
    p = np.asarray(srf)
    wl = None if hsi_wavelengths_nm is None else np.asarray(hsi_wavelengths_nm, dtype=float)
    x = wl if wl is not None and wl.size == p.shape[1] and np.all(np.isfinite(wl)) else np.arange(1, p.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, row in enumerate(p):
        name = msi_names[i] if msi_names is not None and i < len(msi_names) else f"band {i + 1}"
        c = colors[i % 10]
        ax.plot(x, row, color=c, label=name)
        if initial is not None:
            ax.plot(x, np.asarray(initial)[i], color=c, linestyle="--", alpha=0.6)
    ax.set_xlabel("wavelength (nm)" if x is wl else "HSI band")
    ax.set_ylabel("weight (rows sum to 1)")
    ax.set_title("spectral responses: estimated (solid), starting (dashed)" if initial is not None
                 else "spectral responses")
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def loss_figure(losses: dict) -> Optional[str]:
    curves = {k: np.asarray(v, dtype=float) for k, v in (losses or {}).items()
              if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 1}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.0))
    for name, v in curves.items():
        if np.all(v > 0):
            ax.semilogy(v, label=name)
        else:
            ax.plot(v, label=name)
    ax.set_xlabel("iteration")
    ax.set_title("losses")
    ax.legend(fontsize=7)
    return _png(fig)


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


def build_report(title: str, settings: dict, kernel: np.ndarray, srf: np.ndarray,
                 initial_kernel: Optional[np.ndarray] = None, initial_srf: Optional[np.ndarray] = None,
                 hsi_wavelengths_nm=None, msi_names=None, timings: Optional[dict] = None,
                 device: Optional[str] = None, warnings: Sequence[str] = (), losses: Optional[dict] = None,
                 extra_tables: Optional[dict] = None) -> str:
    """The HTML page as a string."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #bbb;padding:2px 6px;font-size:90%;text-align:right}"
        "th{background:#eee}.warn{color:#a60}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Settings</h2>",
        _table([(k, v) for k, v in settings.items()], ["setting", "value"]),
    ]
    if device:
        parts.append(f"<p>Device: <b>{html.escape(str(device))}</b></p>")
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in warnings)
                     + "</ul>")
    if timings:
        parts += ["<h2>Timings</h2>", _table([(k, f"{float(v):.2f} s") for k, v in timings.items()],
                                             ["stage", "time"])]
    for name, rows in (extra_tables or {}).items():
        parts += [f"<h2>{html.escape(name)}</h2>", _table(rows)]
    k = np.asarray(kernel)
    parts += ["<h2>Blur kernel</h2>",
              f"<img src='data:image/png;base64,{kernel_figure(k, initial_kernel)}' alt='kernel'>",
              f"<p>{k.shape[0]} x {k.shape[1]}, sum {k.sum():.4f}</p>",
              "<details><summary>kernel values</summary>", _table(k.tolist()), "</details>"]
    p = np.asarray(srf)
    parts += ["<h2>Spectral responses (rows = MSI bands)</h2>",
              f"<img src='data:image/png;base64,{srf_figure(p, initial_srf, hsi_wavelengths_nm, msi_names)}' "
              "alt='responses'>"]
    wl = hsi_wavelengths_nm
    header = ["MSI band"] + ([f"{w:.0f} nm" for w in wl] if wl is not None and len(wl) == p.shape[1]
                             and np.all(np.isfinite(wl)) else [str(j + 1) for j in range(p.shape[1])])
    names = msi_names if msi_names is not None and len(msi_names) == p.shape[0] else [str(i + 1) for i in range(p.shape[0])]
    parts += ["<details><summary>response table</summary>",
              _table([[n] + list(r) for n, r in zip(names, p.tolist())], header), "</details>"]
    lf = loss_figure(losses or {})
    if lf:
        parts += ["<h2>Losses</h2>", f"<img src='data:image/png;base64,{lf}' alt='losses'>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str, *args, **kwargs) -> str:
    """Build the report (see :func:`build_report`) and write it atomically to ``path``."""
    from .raster_io import write_text_atomic

    return write_text_atomic(path, build_report(*args, **kwargs))
