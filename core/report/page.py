"""The report page: settings, timings, warnings and the figures in one self-contained HTML file."""
from __future__ import annotations

import html
import time
from typing import Optional, Sequence

import numpy as np

from ..consistency import consistency_residuals
from ..io.files import write_text
from .figures import changed_figure, finite_wavelengths, kernel_figure, loss_figure, preview_figure, residual_figure, srf_figure


def _img(b64: str, alt: str) -> str:
    return f"<img src='data:image/png;base64,{b64}' alt='{html.escape(alt)}'>"



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
                 msi: Optional[np.ndarray] = None, fused=None,
                 scale: Optional[int] = None, msi_gain: Optional[np.ndarray] = None,
                 msi_wavelengths_nm=None, hsi_valid: Optional[np.ndarray] = None,
                 msi_valid: Optional[np.ndarray] = None, changed: Optional[np.ndarray] = None) -> str:
    """The HTML page as a string. ``hsi`` / ``msi`` (and ``fused``) with ``scale`` add the colour
    previews and the consistency residuals; with ``fused`` also the quality without a reference
    (QNR, D_lambda, D_s: ``core/qnr.py``). ``fused`` is an array or a written raster read back by
    strips (``core/io/rows.py``): any output size. ``changed`` (LR pixels where the images disagree,
    written as upsampled HSI) adds their map."""
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
    if changed is not None and hsi is not None and msi is not None and np.asarray(changed).any():
        _section(body, "Changed areas", lambda: [
            _img(changed_figure(hsi, msi, changed, hsi_wavelengths_nm, msi_wavelengths_nm), "changed areas"),
            "<p>Where the MSI shows something the HSI does not (another date, a cloud): left out of the kernel and "
            "response estimate, and written as the upsampled HSI.</p>"], notes)
    _section(body, "Blur kernel", lambda: [
        _img(kernel_figure(k, initial_kernel), "kernel"),
        f"<p>{k.shape[0]} x {k.shape[1]}, sum {k.sum():.4f}</p>",
        "<details><summary>kernel values</summary>", _table(k.tolist()), "</details>"], notes)
    _section(body, "Spectral responses (rows = MSI bands)", lambda: _img(
        srf_figure(p, initial_srf, hsi_wavelengths_nm, msi_names), "responses"), notes)
    wl = finite_wavelengths(hsi_wavelengths_nm, p.shape[1])
    header = ["MSI band"] + ([f"{w:.0f} nm" for w in wl] if wl is not None else [str(j + 1) for j in range(p.shape[1])])
    names = list(msi_names) if msi_names is not None and len(msi_names) == p.shape[0] else [
        str(i + 1) for i in range(p.shape[0])]
    rows = [[n] + list(r) for n, r in zip(names, p.tolist())]
    if msi_gain is not None and np.asarray(msi_gain).size == p.shape[0]:
        header.insert(1, "gain")
        rows = [[r[0], float(g)] + r[1:] for r, g in zip(rows, np.asarray(msi_gain).ravel())]
    body += ["<details><summary>response table</summary>", _table(rows, header), "</details>"]
    if hsi is not None and msi is not None and scale:
        cache: dict = {}

        def consistency():
            if "res" not in cache:
                cache["res"] = consistency_residuals(hsi, msi, k, p, int(scale), msi_gain, fused, hsi_valid,
                                                     msi_valid)
            return cache["res"]

        if fused is not None:
            def no_reference():
                from ..consistency import mean_relative_residuals
                from ..qnr import qnr

                q = qnr(fused, hsi, msi, int(scale), k, hsi_valid, msi_valid)
                means = mean_relative_residuals(consistency())
                rows = [("QNR = (1 - D_lambda)(1 - D_s)", q.qnr), ("D_lambda (spectral distortion)", q.d_lambda),
                        ("D_s (spatial distortion)", q.d_s),
                        ("HSI residual, mean over bands", f"{means['HSI_RESIDUAL']:.2f} %"),
                        ("MSI residual, mean over bands", f"{means['MSI_RESIDUAL']:.2f} %")]
                return [_table(rows, ["index", "value"]),
                        f"<p>QNR (Alparone et al. 2008; 1 is ideal) with the MSI bands in place of the panchromatic "
                        f"band: Wang-Bovik Q between bands on {q.blocks} blocks of {q.block_hr} x {q.block_hr} fused "
                        f"pixels ({q.block_lr} x {q.block_lr} HSI pixels), at the MSI's resolution against the HSI's "
                        "(the MSI degraded with the estimated kernel). Compare it between fusions of the same pair "
                        "(e.g. with bicubic upsampling); the residuals are the fused image re-degraded with the "
                        "estimated kernel and response against each input (below, per band).</p>"]
            _section(body, "Quality without a reference", no_reference, notes)

        def residuals():
            res = consistency()
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
    """Build the report (see :func:`build_report`) and write it to ``path``."""
    return write_text(path, build_report(*args, **kwargs))
