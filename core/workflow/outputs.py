"""Writing a run's side outputs: the degradation JSON and the HTML report."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .. import io
from ..guard import MSI_FIT_DOUBT
from ..pair_changes import MIN_FIT_GAIN
from ..kernels import border_mass, kernel_offset
from ..report import write_report
from .inputs import Inputs
from .specs import ToolSpec

GEOTIFF = (".tif", ".tiff")
RASTER = io.RASTER_EXTENSIONS
JSON = (".json",)
HTML = (".html", ".htm")
CSV = (".csv", ".txt")


def save_degradation(inputs: Inputs, result, path: str, msi_mtf: float = 1.0) -> str:
    """The degradation JSON of a fusion or an estimation (with the MSI gains), over all the HSI
    file's bands (the bands left out get zero response), so it starts another run on the same HSI.
    ``msi_mtf``: the MSI restoration the kernel was estimated after (the kernel is relative to it)."""
    extra = {"msi_mtf": float(msi_mtf)}
    if getattr(result, "msi_gain", None) is not None:
        extra["msi_gain"] = [float(g) for g in np.asarray(result.msi_gain, dtype=np.float64).ravel()]
    if inputs.kept_bands is not None and not inputs.kept_bands.all():
        extra["bands_left_out"] = [int(i) + 1 for i in np.flatnonzero(~inputs.kept_bands)]
    est = estimation_diagnostics(result)
    extra["kernel_support"] = int(result.kernel.shape[0])
    extra["kernel_border_mass"] = round(float(border_mass(result.kernel)), 5)
    if est is not None and est.kernel_support_tried:
        extra["kernel_support_tried"] = [{k: (round(float(v), 6) if k != "size" else int(v)) for k, v in t.items()}
                                         for t in est.kernel_support_tried]
    if est is not None and est.kernel_warning:
        extra["kernel_warning"] = est.kernel_warning
    found = None if est is None else getattr(est, "msi_linearity", None)
    if found is not None and found.any_applied:
        # the kernel and response describe the MSI with these bands linearized (c·z^(1/exponent))
        extra["msi_linearized_bands"] = {str(m + 1): round(float(g), 4) for m, (g, use) in
                                         enumerate(zip(found.exponents, found.applied)) if use}
    changes = None if est is None else getattr(est, "pair_changes", None)
    if changes is not None and changes.rounds:
        extra["changed_areas"] = {"applied": bool(changes.applied),
                                  "share_written_upsampled": round(changes.changed, 4),
                                  "share_left_out_of_estimate": round(changes.excluded, 4),
                                  "fit_gain": round(changes.fit_gain, 3)}
    if est is not None and est.msi_snr_db is not None:
        extra["msi_snr_db"] = round(float(est.msi_snr_db), 2)
        extra["kernel_refitted_on_denoised_msi"] = bool(est.refitted_on_denoised_msi)
        if est.kernel_gaussian_likeness is not None:
            extra["kernel_gaussian_likeness"] = round(float(est.kernel_gaussian_likeness), 4)
    dy, dx = kernel_offset(result.kernel)
    t = inputs.pair.msi.transform
    extra["kernel_offset_msi_px"] = [round(dx, 4), round(dy, 4)]
    extra["kernel_offset_crs_units"] = [round(dx * abs(t.a), 4), round(-dy * abs(t.e), 4)]
    if inputs.msi_warp is not None:
        extra["msi_warp"] = {"resampling": inputs.msi_warp.resampling, "reasons": list(inputs.msi_warp.reasons),
                             "hsi_msi_pixel_ratio": round(inputs.msi_warp.native_ratio, 6)}
    hsi = inputs.hsi_file or inputs.pair.hsi.info
    return io.write_degradation(path, result.scale, result.kernel, inputs.to_file_bands(result.srf, 0.0, axis=1),
                                hsi.wavelengths_nm, inputs.pair.msi.wavelengths_nm, extra)


def estimation_diagnostics(result):
    """The blind estimate's diagnostics of a fusion (FusionResult) or an estimation (Degradation);
    None when K and P came from a degradation file unchanged."""
    diag = result.diagnostics
    est = getattr(diag, "estimation", diag)
    return est if hasattr(est, "kernel_support_tried") else None


def kernel_messages(result) -> list[str]:
    """The kernel-support warning of the estimate (core/estimation.py), in plain words, if any."""
    est = estimation_diagnostics(result)
    return [f"kernel: {est.kernel_warning}"] if est is not None and est.kernel_warning else []


def refit_messages(result) -> list[str]:
    """Whether K and P were fitted again on the denoised MSI (core/kernel_refit.py), if measured."""
    est = estimation_diagnostics(result)
    if est is None or not est.refitted_on_denoised_msi:      # a refit always records the SNR it read
        return []
    return [f"The MSI is noisy (SNR about {est.msi_snr_db:.1f} dB): the kernel and response were fitted again on "
            f"the denoised MSI (first fit {est.first_fit_kernel_support} px, refit {est.kernel_support} px)"]


def cleaning_messages(result) -> list[str]:
    """What the LR-HSI cleaning found and whether the fusion used it (core/hsi_cleaning.py), if it ran."""
    cleaning = getattr(result.diagnostics, "hsi_cleaning", None)
    return [] if cleaning is None else [cleaning.summary()]


def start_messages(result) -> list[str]:
    """What the start found about the bands: groups with their own kernel (core/chromatic_blur.py)
    and bands that take less than half of the MSI's detail (core/band_detail.py)."""
    from ..band_detail import summary
    d = result.diagnostics
    kernels = getattr(d, "band_kernels", None)
    shares = getattr(d, "band_detail", None)
    out = [] if kernels is None else [kernels.summary()]
    line = summary(None if shares is None else torch.tensor(shares))
    return out + ([line] if line else [])


def linearity_messages(result) -> list[str]:
    """What the MSI linearization found (core/msi_linearity.py), if it ran."""
    est = estimation_diagnostics(result)
    found = None if est is None else getattr(est, "msi_linearity", None)
    return [] if found is None else [found.summary()]


def change_messages(result, applied: bool = True) -> list[str]:
    """What the search for changed areas found (core/pair_changes.py): with ``applied`` the warning
    that part of the output is the upsampled HSI, else the note that areas stood out but estimating
    without them did not help (a matching pair may read so: the log's information, not a warning)."""
    est = estimation_diagnostics(result)
    changes = None if est is None else getattr(est, "pair_changes", None)
    if changes is None or not changes.summary() or changes.applied != applied:
        return []
    return [f"changed areas: {changes.summary()}"]


def change_rows(changes) -> list[tuple]:
    """The report's rows of the search for changed areas (pair_changes.PairChanges)."""
    return [("left out of the final estimate", f"{100 * changes.excluded:.1f} % of the HSI's pixels"),
            ("estimates without them", str(changes.rounds)),
            ("residual of the rest: first estimate / final", f"{changes.fit_gain:.3g} (kept from {MIN_FIT_GAIN:g})"),
            ("written as upsampled HSI", f"{100 * changes.changed:.1f} %" if changes.applied else "none (not kept)")]


def cleaning_rows(cleaning) -> list[tuple]:
    """The report's rows of the LR-HSI cleaning (results.HsiCleaning)."""
    return [("setting (HSI_CLEANING)", cleaning.mode),
            ("bands with stripes removed", f"{cleaning.striped_bands} of {cleaning.bands}"),
            ("their offsets (RMS / noise std, mean)", f"{cleaning.stripe_to_noise:.2f}"),
            ("outlier values replaced", str(cleaning.outliers_replaced)),
            ("left as noise (auto): bands with weak offsets, possible outliers",
             f"{cleaning.stripe_bands_left}, {cleaning.outliers_left}"),
            ("the fusion used", "the cleaned HSI" if cleaning.applied else "the HSI as it is"),
            ("time", f"{cleaning.seconds:.2f} s")]


def settings_table(tool: ToolSpec, request, inputs: Inputs) -> dict:
    """The report's settings: every input parameter of the run, and where the response started."""
    table: dict = {}
    for p in tool.parameters:
        if p.is_output:
            continue
        value = getattr(request, p.key)
        if p.name == "TILE_SIZE" and not value:
            value = "auto"
        table[p.name] = "(none)" if value is None else value
        if p.name == "SRF":
            table["starting response"] = inputs.srf_source
    return table


def band_detail_rows(shares: list, wavelengths=None) -> list:
    """The report's rows of the per-band detail test: bands below all of the detail one by one, the
    rest in one row (a 200-band HSI under a matching MSI is one row)."""
    label = lambda i: f"{i + 1} ({wavelengths[i]:.0f} nm)" if wavelengths is not None and len(wavelengths) == \
        len(shares) and np.isfinite(wavelengths[i]) else str(i + 1)  # noqa: E731
    rows = [("HSI band", "share of the MSI's detail")]
    rows += [(label(i), f"{s:.2f}") for i, s in enumerate(shares) if s < 0.995]
    full = sum(s >= 0.995 for s in shares)
    if full:
        rows.append((f"the other {full} bands" if full < len(shares) else f"all {full} bands", "1.00"))
    return rows


def chromatic_rows(kernels, wavelengths=None) -> list:
    """The report's rows of the groups of bands and their kernels (core/chromatic_blur.py)."""
    named = wavelengths is not None and len(wavelengths) >= kernels.groups[-1][1]
    rows = [("HSI bands", "own kernel", "shift x, y [MSI px]", "stretch x, y", "LR residual: common / own")]
    for (a, b), p, g in zip(kernels.groups, kernels.params, kernels.group_gains):
        span = f"{a + 1}-{b}" + (f" ({wavelengths[a]:.0f}-{wavelengths[b - 1]:.0f} nm)" if named else "")
        own = bool(np.any(p != 0))
        rows.append((span, "yes" if own else "no (common)", f"{p[0]:+.2f}, {p[1]:+.2f}",
                     f"{100 * p[2]:+.0f} %, {100 * p[3]:+.0f} %", f"{g:.2f}"))
    return rows


def save_report(inputs: Inputs, result, path: str, title: str, settings: dict,
                extra_timings: Optional[dict] = None) -> str:
    """The HTML report of a fusion (``result`` a FusionResult) or an estimation (a Degradation).

    A fused image not kept in memory is read back from the written raster: decimated for the
    previews (through its overviews), by strips for QNR and the residuals."""
    diag = result.diagnostics
    fused = getattr(result, "image", None)
    written = getattr(diag, "written_to", None)
    if fused is None and written:
        fused = io.RasterRows(written)
    timings = dict(extra_timings or {})
    timings.update({k: v for k, v in getattr(diag, "timings", {}).items() if isinstance(v, (int, float))})
    settings = dict(settings)
    settings.setdefault("scale", inputs.scale)
    settings.setdefault("HSI size", "x".join(str(v) for v in inputs.pair.hsi.data.shape))
    settings.setdefault("MSI size", "x".join(str(v) for v in inputs.pair.msi.data.shape))
    losses = dict(getattr(diag, "losses", {}) or {})
    estimation = getattr(diag, "estimation", diag)
    if len(getattr(estimation, "residuals", []) or []) > 1:
        losses["degradation estimate (residual per round)"] = list(estimation.residuals)
    device = getattr(diag, "device", None) or "cpu (the estimation runs in NumPy)"
    tables = {}
    if getattr(diag, "stop_reason", ""):
        tables["Iterations"] = [("outer iterations run", diag.outer_iterations_run), ("why it stopped", diag.stop_reason)]
    guard = getattr(diag, "guard", None)
    if guard is not None:
        tables["Guard: the fused image against the upsampled HSI (relative residual, lower is better)"] = [
            ("image", "HSI: (X*K)↓s vs HSI", "MSI: P·X vs MSI"),
            ("fused", f"{guard.fused_hsi:.4g}", f"{guard.fused_msi:.4g}"),
            ("upsampled HSI", f"{guard.upsampled_hsi:.4g}", f"{guard.upsampled_msi:.4g}"),
            ("fused / upsampled", f"{guard.fused_hsi / max(guard.upsampled_hsi, 1e-30):.3g}",
             f"{guard.fused_msi / max(guard.upsampled_msi, 1e-30):.3g}; median band {guard.msi_ratio:.3g} "
             f"(replaced above {MSI_FIT_DOUBT:g}, "
             "unless under the noise)"),
            ("relative noise of the input", "", f"{guard.msi_noise:.4g}"),
            ("held-out gain of the MSI", "" if guard.held_out_gain is None else f"{guard.held_out_gain:.3g}", ""),
            ("written", getattr(diag, "written", "fusion"), "")]
    shares = getattr(diag, "band_detail", None)
    if shares:
        tables["Per-band detail (the share of the MSI's detail each HSI band takes; 1 = all)"] = \
            band_detail_rows(shares, inputs.hsi_wavelengths)
    kernels = getattr(diag, "band_kernels", None)
    if kernels is not None:
        tables["Chromatic blur (a kernel per group of bands: the common kernel shifted and stretched)"] = \
            chromatic_rows(kernels, inputs.hsi_wavelengths)
    cleaning = getattr(diag, "hsi_cleaning", None)
    if cleaning is not None:
        tables["HSI cleaning (stripes and impulse outliers, before the estimate)"] = cleaning_rows(cleaning)
    est = estimation_diagnostics(result)
    found = None if est is None else getattr(est, "msi_linearity", None)
    if found is not None:
        tables["MSI linearization (power law per band: MSI = c·radiance^exponent)"] = [
            ("MSI band", "exponent found", "variance left by a straight line / by the curve", "linearized")] + [
            (str(m + 1), f"{g:.3f}", f"{q:.2f}", "yes" if use else "no")
            for m, (g, q, use) in enumerate(zip(found.exponents, found.improvement, found.applied))]
    changes = None if est is None else getattr(est, "pair_changes", None)
    if changes is not None and changes.rounds:
        tables["Changed areas (the images disagree: another date, clouds)"] = change_rows(changes)
    if est is not None and est.kernel_support_tried:
        tables["Kernel support (chosen from the data unless KERNEL_SIZE is given)"] = [
            ("support [MSI px]", "residual of (Z*K)↓s vs P·Y", "mass on the support's border")] + [
            (f"{t['size']} x {t['size']}", f"{t.get('residual', float('nan')):.4g}", f"{100 * t['border_mass']:.2f} %")
            for t in est.kernel_support_tried] + [
            ("written", f"{result.kernel.shape[0]} x {result.kernel.shape[0]}",
             f"{100 * border_mass(result.kernel):.2f} %")]
        if est.msi_snr_db is not None:
            tables["Kernel support (chosen from the data unless KERNEL_SIZE is given)"].append(
                ("fitted on", "the denoised MSI (refit)" if est.refitted_on_denoised_msi else "the MSI as given",
                 f"MSI SNR {est.msi_snr_db:.1f} dB; first kernel's likeness to a Gaussian "
                 f"{est.kernel_gaussian_likeness:.2f}"))
    warnings = list(inputs.warnings) + kernel_messages(result)
    if guard is not None:
        warnings += [f"guard: {p}" for p in guard.problems()]
    return write_report(path, title, settings, result.kernel, result.srf,
                        initial_kernel=result.initial_kernel, initial_srf=result.initial_srf,
                        hsi_wavelengths_nm=inputs.hsi_wavelengths, msi_names=inputs.msi_names,
                        timings=timings, device=device, warnings=warnings, losses=losses,
                        hsi=inputs.pair.hsi.data, msi=inputs.pair.msi.data, scale=inputs.scale,
                        fused=fused, msi_gain=result.msi_gain,
                        msi_wavelengths_nm=inputs.pair.msi.wavelengths_nm, hsi_valid=inputs.pair.hsi.valid,
                        msi_valid=inputs.pair.msi.valid, extra_tables=tables,
                        changed=changes.mask if changes is not None and changes.applied else None)
