"""A quick classical HR estimate: the starting image of the reconstruction when no pre-trained
backbone is available.

Each HSI band is modelled, at low resolution, as a *local* linear combination of the MSI bands
blurred and downsampled with the estimated kernel (a multi-channel guided filter whose
coefficients are pulled toward one global regression, as strongly as cross-validation on held-out
LR pixels says). The coefficients, brought to the HR grid, applied to the full-resolution MSI
inject its spatial detail; a few rounds of back-projection of the LR residual then make the
estimate consistent with Y. The residual is mostly Y's noise where the regression is good (bands
the MSI covers) and mostly signal where it is not (SWIR bands beyond the MSI): it is
back-projected only in its spectral directions that stand above the noise (a hard singular-value
threshold on the noise-whitened residual), which keeps the signal and leaves most of the noise
out (docs/network_prior.md). MSI noise injected this way tilts the
spectra of dark pixels (a poor SAM): where the local MSI signal-to-noise ratio is low, the
spectral *shape* is taken from a slightly smoothed estimate while the per-pixel intensity keeps
the detail.

Every step after the LR coefficients is local, so :meth:`ClassicalEstimator.region` computes any
window of the HR estimate from a window of the inputs plus a margin, exactly as the whole image
would give it: large scenes are estimated tile by tile without seams.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .band_detail import band_detail_weights, shrink_detail_
from .chromatic_blur import BandKernels
from .kernels import gaussian_kernel
from .noise import lr_identity_noise_cap, noise_sigma
from .operators import blur, blur_downsample, interpolation_matrix, lr_rows_read, upsample
from .windows import Window, grown_on_lr_grid


#: bytes of upsampled maps per strip of the regression image: cache-sized temporaries, which the
#: allocator reuses (a cube-sized temporary is page-faulted in fresh at every call; 3-5x slower)
STRIP_BYTES = 8 << 20
#: HR columns upsampled per matrix product: the column matrix is banded (four LR columns per HR
#: one), so a whole scene row in one dense product does mostly multiplications by zero
COLUMN_BLOCK = 512


@dataclass
class ClassicalEstimator:
    """Global, LR-sized parts of the estimate; HR windows are computed on demand."""

    y: torch.Tensor                 # (bands, h, w) normalized LR-HSI
    z: torch.Tensor                 # (msi_bands, H, W) normalized HR-MSI
    kernel: torch.Tensor
    scale: int
    coef: torch.Tensor              # (msi_bands, bands, h, w) local regression slopes
    offset: torch.Tensor            # (bands, h, w) local regression offsets
    back_projections: int
    residual_projector: torch.Tensor | None   # (bands, bands) keeps the LR residual's signal; None = all of it
    shape_sigma: float
    shape_snr: float
    msi_noise: float                # noise std of the MSI band sum
    intensity_floor: float          # keeps the shape/intensity split stable in black pixels
    ridge: float = 0.01             # ridge weight of the local regression (chosen by cross-validation)
    residual_weight: torch.Tensor | None = None   # (bands, h, w): 0 where an HSI band is invalid (not back-projected)
    held_out: "HeldOutCheck | None" = None         # the MSI against the HSI's neighbours on held-out LR pixels
    detail_weights: torch.Tensor | None = None     # (bands,) share of the MSI's detail each band took (band_detail.py)
    band_kernels: "BandKernels | None" = None      # a kernel per group of bands (chromatic_blur.py); None: ``kernel``

    #: (bands, h, w): the back-projected LR residuals, summed (set by :meth:`back_project`)
    lr_correction: torch.Tensor | None = None

    @property
    def margin(self) -> int:
        """HR pixels of context a window needs so that it matches the whole-image result: the
        upsampling of the LR maps and the dark-pixel smoothing (the back-projections are LR state)."""
        s = self.scale
        need = 3 * s + int(math.ceil(3 * self.shape_sigma)) + 2
        return s * int(math.ceil(need / s))

    def whole(self, check: Callable[[], None] | None = None, band_rows: int = 256) -> torch.Tensor:
        """The whole HR estimate, computed in row bands (cancellable between bands)."""
        height, width = self.z.shape[1:]
        parts = []
        for r0 in range(0, height, band_rows):
            if check:
                check()
            parts.append(self.region(Window.from_bounds(r0, min(height, r0 + band_rows), 0, width)))
        return torch.cat(parts, dim=1)

    def _chunks(self, band_chunk: int) -> list[slice]:
        bands = self.y.shape[0]
        return [slice(b, min(bands, b + band_chunk)) for b in range(0, bands, band_chunk)]

    def _regression(self, grown: Window, chunks: list[slice], corrected: bool = False) -> torch.Tensor:
        """The local regression applied to the HR MSI on a window snapped to the LR grid (exact away
        from the window's edges by the upsampling's reach), for the bands of ``chunks`` (consecutive).
        ``corrected``: plus the back-projected LR corrections, upsampled together with the offsets
        (the upsampling is linear: one pass)."""
        s = self.scale
        lr_window = grown.to_lr(s)
        lr = lr_window.slices()
        z = self.z[:, grown.rows, grown.cols]
        hh, ww = grown.shape
        dt, dev = self.y.dtype, self.y.device
        x = torch.empty((sum(c.stop - c.start for c in chunks), hh, ww), dtype=dt, device=dev)
        first = chunks[0].start
        # the upsampling as two matrix products on blocks of columns (the dense column matrix of a
        # whole scene row is mostly zeros: 4 of its LR columns count), rows strip by strip
        up_rows = interpolation_matrix(lr_window.height, s, hh, dt, dev)
        up_cols_t = interpolation_matrix(lr_window.width, s, ww, dt, dev).T
        block = min(ww, COLUMN_BLOCK)
        row_bytes = (1 + z.shape[0]) * (chunks[0].stop - chunks[0].start) * block * x.element_size()
        strip = s * max(1, STRIP_BYTES // (row_bytes * s))
        for c in chunks:
            offset = self.offset[c, lr[0], lr[1]]
            if corrected and self.lr_correction is not None:
                offset = offset + self.lr_correction[c, lr[0], lr[1]]
            maps = torch.stack([offset] + [self.coef[m][c, lr[0], lr[1]] for m in range(z.shape[0])])
            for c0 in range(0, ww, block):
                c1 = min(ww, c0 + block)
                read_cols = lr_rows_read(c0, c1, s, lr_window.width)
                # (1 + msi bands, chunk, h, c1 - c0)
                cols = torch.matmul(maps[..., read_cols], up_cols_t[read_cols, c0:c1])
                for r0 in range(0, hh, strip):
                    r1 = min(hh, r0 + strip)
                    read = lr_rows_read(r0, r1, s, lr_window.height)
                    up = torch.matmul(up_rows[r0:r1, read], cols[:, :, read])
                    xc = x[c.start - first : c.stop - first, r0:r1, c0:c1]     # a view: written in place
                    # offset + the first product straight into the view (a copy first costs a pass)
                    torch.add(up[0], up[1].mul_(z[0, r0:r1, c0:c1]), out=xc)
                    # (not addcmul_: its rounding can vary with the thread count)
                    for m in range(1, z.shape[0]):
                        xc.add_(up[m + 1].mul_(z[m, r0:r1, c0:c1]))
        return x

    def region(self, window: Window, band_chunk: int = 16) -> torch.Tensor:
        """The estimate on an HR window ``(bands, window.height, window.width)``.

        Computed ``band_chunk`` bands at a time (every step is per band except the band sums of
        the shape smoothing, taken in a second pass), so a window of a large scene costs about
        one cube of its grown size plus small temporaries."""
        s = self.scale
        grown = grown_on_lr_grid(window, self.margin, s, *self.z.shape[1:])
        chunks = self._chunks(band_chunk)
        x = self._regression(grown, chunks, corrected=True)
        if self.shape_sigma > 0:
            smooth_shape_where_dark_(x, self.z[:, grown.rows, grown.cols], self.msi_noise, self.shape_sigma,
                                     self.shape_snr, self.intensity_floor, band_chunk)
        rows, cols = window.relative_to(grown).slices()
        out = x[:, rows, cols]
        return out if out.shape == x.shape else out.clone()   # do not keep the margin's storage alive

    def back_project(self, check: Callable[[], None] | None = None, band_rows: int = 256,
                     band_chunk: int = 16) -> None:
        """The back-projections of the LR residual, as whole-image LR state.

        ``x_k = x_0 + up(S_k)`` with ``S_k`` the sum of the (projected) residuals so far, so
        ``(x_k*K)↓s = (x_0*K)↓s + H(S_k)``, with ``H = (up(·)*K)↓s`` an LR-to-LR convolution: the
        regression image is blurred and downsampled once (one pass over the HR image, in row bands),
        every later step is LR-sized. HR windows then need only the upsampling's reach as margin."""
        s = self.scale
        height, width = self.z.shape[1:]
        groups = band_groups(self.kernel, self.band_kernels, self.y.shape[0])
        k = max(kernel.shape[-1] for _, kernel in groups)
        a0 = torch.empty_like(self.y)
        reach = k // 2 + 3 * s + s
        for r0 in range(0, height, band_rows):
            if check:
                check()
            band = Window.from_bounds(r0, min(height, r0 + band_rows), 0, width).snap(s).clip(height, width)
            grown = grown_on_lr_grid(band, reach, s, height, width)
            rows = band.to_lr(s).relative_to(grown.to_lr(s)).rows
            for g, kernel in groups:
                # a band chunk at a time: the row band of all bands is large
                for b0 in range(g.start, g.stop, band_chunk):
                    c = slice(b0, min(g.stop, b0 + band_chunk))
                    x0 = self._regression(grown, [c])
                    a0[c, band.to_lr(s).rows] = blur_downsample(x0, kernel, s)[:, rows]
                    del x0
        responses = [lr_response(kernel, s, self.y.dtype, self.y.device) for _, kernel in groups]
        adjoints = [back_projection_operator(h) for h in responses]
        total = torch.zeros_like(self.y)
        for _ in range(self.back_projections):
            if check:
                check()
            # in place where the order of operations allows: each LR-cube temporary is 0.1 GB on a
            # large scene's 100 bands, and they added up to the start's peak memory
            resid = torch.sub(self.y, a0)
            for (g, _), h in zip(groups, responses):
                resid[g] -= lr_convolve(total[g], h)
            if self.residual_weight is not None:
                resid *= self.residual_weight
            if self.residual_projector is not None:
                resid = torch.einsum("ab,bhw->ahw", self.residual_projector, resid)
            for (g, _), adjoint in zip(groups, adjoints):
                total[g] += resid[g] if adjoint is None else lr_convolve(resid[g], adjoint)
            del resid
        del a0
        self.lr_correction = total


def lr_response(kernel: torch.Tensor, scale: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The LR impulse response of ``(up(·)*K)↓s`` (bicubic upsampling, blur, downsampling): a
    ``(2L+1, 2L+1)`` map centred on ``L``."""
    s, k = int(scale), kernel.shape[-1]
    reach = int(math.ceil((k // 2) / s)) + 3
    n = 2 * reach + 1
    delta = torch.zeros((1, n, n), dtype=dtype, device=device)
    delta[0, reach, reach] = 1.0
    return blur_downsample(upsample(delta, s, n * s, n * s), kernel.to(dtype), s)[0]


def back_projection_operator(response: torch.Tensor, grid: int = 64) -> torch.Tensor | None:
    """How the LR residual is brought back: None for as it is (the plain back-projection), else the
    LR response flipped (its adjoint, a Landweber step).

    The plain back-projection ``S += r`` is a fixed-point iteration with factor ``1 - H(ω)`` per
    frequency: it converges fastest where the response ``H`` is real and positive (a centred,
    compact blur) but amplifies the residual wherever ``|1 - H| > 1`` (a motion blur's trail or an
    off-centre kernel: negative or turned response at middle frequencies), and a few rounds then
    wreck the image. The adjoint step ``S += Hᵀr`` has factor ``1 - |H|²`` and contracts for any
    kernel; it is used only where the plain one would not contract."""
    n = response.shape[-1]
    size = max(grid, 4 * n)
    spectrum = torch.fft.fft2(response.double(), s=(size, size))
    f = torch.fft.fftfreq(size, dtype=torch.float64, device=response.device)
    centre = torch.exp(2j * math.pi * (f[:, None] + f[None, :]) * (n // 2))      # response centred on 0
    if float((1 - spectrum * centre).abs().max()) <= 1.0 + 1e-6:
        return None
    return torch.flip(response, dims=(0, 1))


def lr_convolve(maps: torch.Tensor, response: torch.Tensor, band_chunk: int = 16) -> torch.Tensor:
    """``maps`` (bands, h, w) through the LR operator whose impulse response is ``response``
    (borders held constant, as the upsampling holds them)."""
    reach, bands = response.shape[-1] // 2, maps.shape[0]
    w = torch.flip(response, dims=(0, 1))[None, None].to(maps.dtype)
    out = torch.empty_like(maps)
    # bands as the channels of one depthwise convolution (bands as a batch took an im2col buffer
    # of GBs on a large scene's LR grid), a chunk at a time: the padded copy stays small
    for b0 in range(0, bands, band_chunk):
        part = maps[b0 : b0 + band_chunk]
        n = part.shape[0]
        out[b0 : b0 + n] = F.conv2d(F.pad(part[None], (reach,) * 4, mode="replicate"),
                                    w.expand(n, 1, *response.shape), groups=n)[0]
    return out


def fit_classical(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, scale: int,
                  hsi_valid: torch.Tensor | None = None, radius: int = 1, eps: float | None = None,
                  back_projections: int = 3, shape_sigma: float = 0.7, shape_snr: float = 30.0,
                  block_rows: int = 128, check: Callable[[], None] | None = None,
                  denoise_residual: bool = True, srf: torch.Tensor | None = None,
                  band_valid: torch.Tensor | None = None, detail_test: bool = False,
                  band_kernels: "BandKernels | None" = None) -> ClassicalEstimator:
    """Fit the LR regression (in row blocks, to bound memory), the residual's signal projector
    and the global noise figures. ``eps`` is the ridge weight of the local regression (relative
    to the MSI variance); None chooses it by cross-validation (:func:`choose_ridge`). With the
    response ``srf`` (normalized units) the MSI noise estimate is capped by
    :func:`lr_identity_noise_cap` (texture inflates it otherwise). ``band_valid`` (bands, h, w)
    marks the HSI values that may be back-projected (a pixel invalid in some bands only).
    ``detail_test``: each band takes the share of the MSI's detail that a test one level down says
    it carries (core/band_detail.py). ``band_kernels``: a kernel per group of bands (a blur that changes
    with wavelength, core/chromatic_blur.py) in place of ``kernel`` for the LR fit and the
    back-projections."""
    z_lr = blur_downsample(z, kernel, scale)
    z_var = float(_centred_cov(z_lr, hsi_valid).trace()) / z.shape[0]
    held_out = None
    if eps is None:
        held_out = choose_ridge(y, z_lr, z_var, radius, hsi_valid, check=check)
        eps = held_out.ridge
    reg = eps * z_var
    # row blocks whose float64 solve stays near 64 MB whatever the scene's width and band count
    block_rows = max(8, min(block_rows, LOCAL_FIT_VALUES // max(1, y.shape[2] * z_lr.shape[0] * y.shape[0])))
    # filled block by block: a list of parts plus their concatenation would hold the slopes twice
    coef = torch.empty((z_lr.shape[0],) + tuple(y.shape), dtype=y.dtype, device=y.device)
    offset = torch.empty_like(y)
    groups = band_groups(kernel, band_kernels, y.shape[0])
    # each group of bands is regressed on the MSI blurred with its own kernel (chromatic_blur.py)
    group_lr = [z_lr if band_kernels is None else blur_downsample(z, k, scale) for _, k in groups]
    for (g, _), zg in zip(groups, group_lr):
        _fit_maps(y[g], zg, hsi_valid, reg, radius, block_rows, check, coef[:, g], offset[g])
    weights = None
    if detail_test:
        fit = lambda y_r, z_r, k_r, r, valid_r: fit_classical(  # noqa: E731
            y_r, z_r, k_r, r, valid_r, radius=radius, eps=eps, back_projections=back_projections,
            shape_sigma=0.0, check=check, denoise_residual=denoise_residual,
            detail_test=False).region(Window.full(*z_r.shape[1:]))
        parts = [band_detail_weights(y[g], zg, fit, hsi_valid) for (g, _), zg in zip(groups, group_lr)]
        weights = None if any(p is None for p in parts) else torch.cat(parts)
        if weights is not None:
            shrink_detail_(coef, offset, y, weights)
    projector = None
    if denoise_residual:
        lr_resid = y - offset
        for (g, _), zg in zip(groups, group_lr):
            for m in range(zg.shape[0]):
                lr_resid[g] -= coef[m, g] * zg[m]
        projector = signal_projector(lr_resid, hsi_valid)
    del group_lr
    per_band = noise_sigma(z)
    if srf is not None:
        per_band = torch.minimum(per_band, lr_identity_noise_cap(y, z_lr, kernel, srf, hsi_valid))
    noise = float(torch.sqrt((per_band ** 2).sum()))
    floor = 0.05 * float(y.sum(0).mean().clamp_min(1e-12))
    weight = None if band_valid is None else band_valid.to(y.dtype)
    estimator = ClassicalEstimator(y, z, kernel, scale, coef, offset, back_projections, projector,
                                   shape_sigma, shape_snr, noise, floor, eps, weight, held_out, detail_weights=weights,
                                   band_kernels=band_kernels)
    if back_projections > 0:
        estimator.back_project(check)
    return estimator


#: values (LR pixels x MSI bands x HSI bands) of one row block of the local regression fit
LOCAL_FIT_VALUES = 8_000_000


def band_groups(kernel: torch.Tensor, band_kernels: "BandKernels | None", bands: int) -> list:
    """``[(band slice, kernel)]``: every band with ``kernel``, or each group with its own."""
    if band_kernels is None:
        return [(slice(0, bands), kernel)]
    return [(g, torch.as_tensor(k, dtype=kernel.dtype, device=kernel.device))
            for g, k in zip(band_kernels.slices(), band_kernels.kernels)]


def _fit_maps(y: torch.Tensor, z_lr: torch.Tensor, hsi_valid: torch.Tensor | None, reg: float, radius: int,
              block_rows: int, check: Callable[[], None] | None, coef: torch.Tensor, offset: torch.Tensor) -> None:
    """The local regression of ``y`` on ``z_lr`` into ``coef`` (msi bands, bands, h, w) and
    ``offset`` (bands, h, w), in row blocks."""
    a_global = _global_slopes(y, z_lr, hsi_valid)
    h = y.shape[1]
    for b0 in range(0, h, block_rows):
        if check:
            check()
        b1 = min(h, b0 + block_rows)
        e0, e1 = max(0, b0 - 2 * radius), min(h, b1 + 2 * radius)
        a, b = _local_coefficients(y[:, e0:e1], z_lr[:, e0:e1], a_global, reg, radius)
        coef[:, :, b0:b1] = a[:, :, b0 - e0 : b1 - e0]
        offset[:, b0:b1] = b[:, b0 - e0 : b1 - e0]
        del a, b

#: ridge weights tried by :func:`choose_ridge` (relative to the MSI variance)
RIDGE_GRID = (0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001)


@dataclass(frozen=True)
class HeldOutCheck:
    """How well the MSI predicts held-out HSI pixels, against the HSI's own neighbours.

    ``msi_error``: mean squared error of the local regression on the (blurred, downsampled) MSI
    predicting the held-out colour of an LR checkerboard; ``neighbour_error``: the same pixels
    predicted by the mean of their four (training) neighbours. When the MSI predicts no better
    than the neighbours, its detail cannot make the fusion beat upsampling: the degradation
    estimate, the co-registration or the pair itself is off."""

    ridge: float
    msi_error: float
    neighbour_error: float

    @property
    def gain(self) -> float:
        """neighbour_error / msi_error: above 1 when the MSI predicts better."""
        return self.neighbour_error / max(self.msi_error, 1e-30)


def choose_ridge(y: torch.Tensor, z_lr: torch.Tensor, z_var: float, radius: int,
                 valid: torch.Tensor | None = None, grid: tuple[float, ...] = RIDGE_GRID,
                 max_side: int = 128, check: Callable[[], None] | None = None) -> HeldOutCheck:
    """The ridge weight of the local regression that best predicts held-out LR pixels.

    How far the local slopes may leave the global ones is scene-dependent (a piecewise-flat
    scene wants little pull, a noisy or finely mixed one more; docs/network_prior.md). Two-fold
    cross-validation on a checkerboard of LR pixels: the coefficients fitted without one colour
    predict that colour from its (fully known) MSI values. A centred window of at most
    ``max_side``² LR pixels bounds the cost. The same held-out pixels predicted from their
    neighbours give the :class:`HeldOutCheck` of the chosen ridge."""
    h, w = y.shape[1:]
    r0, c0 = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    win = (slice(r0, r0 + max_side), slice(c0, c0 + max_side))
    y, z_lr = y[:, win[0], win[1]], z_lr[:, win[0], win[1]]
    ok = torch.ones(y.shape[1:], dtype=y.dtype, device=y.device)
    if valid is not None:
        ok = ok * valid[win[0], win[1]].to(y.dtype)
    rows = torch.arange(y.shape[1], device=y.device)[:, None]
    cols = torch.arange(y.shape[2], device=y.device)[None, :]
    colour = ((rows + cols) % 2).to(y.dtype)
    if min(y.shape[1:]) < 2 * radius + 2 or float(ok.sum()) < 16:
        return HeldOutCheck(grid[1], float("nan"), float("nan"))
    errors = []
    for eps in grid:
        if check:
            check()
        err = 0.0
        for held in (colour, 1 - colour):
            train = ok * (1 - held)
            a_global = _global_slopes(y, z_lr, train > 0)
            a, b = _local_coefficients(y, z_lr, a_global, eps * z_var, radius, weight=train)
            pred = b + sum(a[m] * z_lr[m] for m in range(z_lr.shape[0]))
            err += float(((pred - y) ** 2 * (held * ok)).sum())
        errors.append(err)
    best = int(min(range(len(grid)), key=errors.__getitem__))
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=y.dtype, device=y.device)
    neighbour = 0.0
    for held in (colour, 1 - colour):
        train = ok * (1 - held)
        near = F.conv2d(F.pad((y * train)[:, None], (1, 1, 1, 1)), cross[None, None])[:, 0]
        count = F.conv2d(F.pad(train[None, None], (1, 1, 1, 1)), cross[None, None])[0, 0]
        use = held * ok * (count > 0)
        neighbour += float(((near / count.clamp_min(1) - y) ** 2 * use).sum())
    n = float(ok.sum()) * y.shape[0]
    return HeldOutCheck(grid[best], errors[best] / n, neighbour / n)


def signal_projector(resid: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor | None:
    """The ``(bands, bands)`` projection of an LR residual ``(bands, h, w)`` onto its spectral
    directions that stand above white noise; None when the residual has too few pixels to tell.

    Each band's noise is read as the part no other band predicts (HySime's regression, exact from
    the Gram matrix: a residual variance ``1 / (G⁻¹)_ii``); whitened by it, the residual keeps the
    singular directions above the Gavish-Donoho threshold for white noise of unit variance
    (``λ*(β)·√n``), and the projector is brought back to the original units."""
    bands = resid.shape[0]
    flat = resid.reshape(bands, -1)
    if valid is not None:
        flat = flat[:, valid.reshape(-1)]
    n = flat.shape[1]
    if bands < 3 or n < 2 * bands:
        return None
    # the Gram matrices in float64, over pixel chunks (a float64 copy of a large scene's residual
    # and its centred copy would take most of a GB)
    def parts():
        return (flat[:, i : i + 65536].double() for i in range(0, n, 65536))

    mean = sum(p.sum(1, keepdim=True) for p in parts()) / n
    gram = torch.zeros((bands, bands), dtype=torch.float64, device=flat.device)
    second = torch.zeros_like(gram)                                            # uncentred: flat @ flat.T
    for p in parts():
        centred = p - mean
        gram += centred @ centred.T
        second += p @ p.T
    eye = torch.eye(bands, dtype=gram.dtype, device=gram.device)
    inv = torch.linalg.inv(gram + 1e-10 * torch.trace(gram) / bands * eye)
    sigma = (1.0 / (torch.diagonal(inv).clamp_min(1e-30) * (n - bands))).sqrt()
    white_gram = second / (sigma[:, None] * sigma[None, :])                # of flat / sigma
    values, vectors = torch.linalg.eigh(white_gram)                        # singular values squared
    beta = min(bands, n) / max(bands, n)
    lam = math.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + math.sqrt(beta * beta + 14 * beta + 1)))
    keep = vectors[:, values > (lam * lam * max(bands, n))]
    projector = sigma[:, None] * (keep @ keep.T) / sigma[None, :]
    return projector.to(resid.dtype)


def regression_estimate(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, scale: int,
                        hsi_valid: torch.Tensor | None = None, **options) -> torch.Tensor:
    """The whole HR estimate ``(bands, H, W)`` in the same units as ``y``."""
    est = fit_classical(y, z, kernel, scale, hsi_valid, **options)
    return est.region(Window.full(*z.shape[1:]))


def _centred_cov(z_lr: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    flat = z_lr.reshape(z_lr.shape[0], -1)
    if valid is not None:
        flat = flat[:, valid.reshape(-1)]
    zc = flat - flat.mean(1, keepdim=True)
    return zc @ zc.T / zc.shape[1]


def _global_slopes(y: torch.Tensor, z_lr: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """One regression of every HSI band on the MSI bands over the whole image: ``(msi_bands, bands)``.

    In float64, as every small solve here: the MSI bands are strongly correlated, and float32
    covariances of them differ between BLAS builds (QGIS's process interposes its own) by more
    than the solve can take."""
    m = z_lr.shape[0]
    flat_z, flat_y = z_lr.reshape(m, -1).double(), y.reshape(y.shape[0], -1).double()
    if valid is not None:
        keep = valid.reshape(-1)
        flat_z, flat_y = flat_z[:, keep], flat_y[:, keep]
    zc = flat_z - flat_z.mean(1, keepdim=True)
    yc = flat_y - flat_y.mean(1, keepdim=True)
    cov = zc @ zc.T / zc.shape[1]
    eye = torch.eye(m, dtype=cov.dtype, device=cov.device)
    return torch.linalg.solve(cov + 1e-6 * torch.trace(cov) / m * eye, zc @ yc.T / zc.shape[1]).to(y.dtype)


def _local_coefficients(y: torch.Tensor, z_lr: torch.Tensor, a_global: torch.Tensor, reg: float,
                        radius: int, weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed ridge regression ``y_c ≈ a_cᵀ z + b_c`` pulled toward the global slopes
    (``weight`` ``(h, w)``: per-pixel weights of the window statistics, for cross-validation)."""
    bands, h, w = y.shape
    m = z_lr.shape[0]
    eye = torch.eye(m, dtype=y.dtype, device=y.device)
    if weight is None:
        box = lambda t: _box(t, radius)  # noqa: E731
    else:
        norm = _box(weight[None], radius).clamp_min(1e-6)
        box = lambda t: _box(t * weight, radius) / norm  # noqa: E731
    mz, my = box(z_lr), box(y)
    czz = box((z_lr[:, None] * z_lr[None]).reshape(m * m, h, w)).reshape(m, m, h, w) - mz[:, None] * mz[None]
    czy = box((z_lr[:, None] * y[None]).reshape(m * bands, h, w)).reshape(m, bands, h, w) - mz[:, None] * my[None]
    lhs = czz.permute(2, 3, 0, 1) + reg * eye
    rhs = czy.permute(2, 3, 0, 1) + reg * a_global
    a = torch.linalg.solve(lhs.double(), rhs.double()).to(y.dtype).permute(2, 3, 0, 1)   # (m, bands, h, w)
    b = my - (a * mz[:, None]).sum(0)
    smooth = lambda t: _box(t, radius)  # noqa: E731  (unweighted: coefficients are defined everywhere)
    return smooth(a.reshape(m * bands, h, w)).reshape(m, bands, h, w), smooth(b)


def _box(t: torch.Tensor, r: int) -> torch.Tensor:
    if r == 0:
        return t
    return F.avg_pool2d(F.pad(t[None], (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)[0]


def smooth_shape_where_dark_(x: torch.Tensor, z: torch.Tensor, msi_noise: float, sigma: float,
                             shape_snr: float, floor: float, band_chunk: int = 16) -> torch.Tensor:
    """In place: where the local MSI signal-to-noise ratio is low, take the spectral shape from a
    Gaussian-smoothed ``x`` (keeping each pixel's band sum), so MSI noise does not tilt the
    spectra of dark pixels. Band-chunked (one cube of ``x`` plus small temporaries)."""
    bands = x.shape[0]
    chunks = [slice(b, min(bands, b + band_chunk)) for b in range(0, bands, band_chunk)]
    local_snr = z.sum(0).clamp_min(0) / max(msi_noise, 1e-12)
    weight = local_snr**2 / (local_snr**2 + shape_snr**2)
    kernel = _shape_kernel(sigma, x)
    x_sum = x.sum(0, keepdim=True)
    smooth_sum = blur(x_sum, kernel)[0]          # = the sum of the blurred bands (the blur is linear)
    ratio = _intensity_ratio(x_sum[0], smooth_sum, floor)
    gain = ratio.mul_(1 - weight)
    reach = kernel.shape[-1] // 2
    height = x.shape[1]
    mode = "reflect" if min(x.shape[1:]) > reach else "replicate"    # as operators.blur pads
    w = torch.flip(kernel, dims=(-2, -1))[None, None].to(x.dtype)
    strip = max(reach, STRIP_BYTES // max(1, 3 * band_chunk * x.shape[2] * x.element_size()))
    for c in chunks:
        xc = x[c]
        w_c = w.expand(xc.shape[0], 1, *w.shape[-2:])
        above = xc[:, :0]                # original rows just above the strip (already overwritten in x)
        for r0 in range(0, height, strip):           # strips: cache-sized temporaries
            r1 = min(height, r0 + strip)
            rows = torch.cat([above, xc[:, r0 : min(height, r1 + reach)]], dim=1)
            pad = (reach, reach, reach if r0 == 0 else 0, reach if r1 + reach > height else 0)
            blurred = F.conv2d(F.pad(rows[None], pad, mode=mode), w_c, groups=xc.shape[0])[0, :, : r1 - r0]
            above = xc[:, max(0, r1 - reach) : r1].clone()
            xc[:, r0:r1].mul_(weight[r0:r1]).add_(blurred.mul_(gain[r0:r1]))
    return x


def _shape_kernel(sigma: float, like: torch.Tensor) -> torch.Tensor:
    size = 2 * int(math.ceil(3 * sigma)) + 1
    return torch.as_tensor(gaussian_kernel(size, sigma), dtype=like.dtype, device=like.device)


def _intensity_ratio(x_sum: torch.Tensor, smooth_sum: torch.Tensor, floor: float) -> torch.Tensor:
    """Per-pixel factor that gives the smoothed spectra the band sum of the unsmoothed ones."""
    return (x_sum.clamp_min(0) + floor) / (smooth_sum.clamp_min(0) + floor)


def bicubic_estimate(y: torch.Tensor, scale: int, height: int, width: int) -> torch.Tensor:
    """Plain bicubic upsampling (the baseline every fusion must beat clearly)."""
    return upsample(y, scale, height, width)
