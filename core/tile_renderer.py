"""The fused image on any window, from a small picklable state: what a tile of the output needs
once the per-scene fitting is done.

After the fitting, every step of the chain is local (rendering.py): a tile is the starting image
(the classical estimate from its LR-sized coefficients), the guidance maps for the fitted K and
P, and the network's correction, each computed on the tile grown by the reach of the steps after
it. :class:`TileRenderer` holds the scene-wide part of that state (the fitted network's weights,
K, P, the spectral basis, the classical estimate's global figures: kilobytes to a few megabytes);
:class:`TileContext` holds the windows of the scene-sized arrays one tile reads (the normalized
MSI, and the LR-HSI, the regression coefficients and the masks on the LR grid). Both are plain
NumPy and pickle, so a tile can be computed in another process or on another machine (the tile
farm, core/tile_farm.py) and give the same values as the single-machine run, which renders
through the same object.

Windows, from the tile outwards (HR pixels, image coordinates):

- ``window``: the tile written;
- ``grown``: the tile plus the network's halo (its receptive field, plus the reach of the output
  shape smoothing when a backbone start has it), clipped to the image;
- ``guided``: ``grown`` plus the guidance maps' reach, on the LR grid (SceneWindows.window);
- ``region``: ``guided`` plus the classical estimate's margin, on the LR grid: everything a tile
  reads (ClassicalEstimator.region).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np
import torch

from .initial_estimate import ClassicalEstimator, smooth_shape_where_dark_
from .reconstruction_net import ReconstructionNet, guidance_features
from .windows import Window, grown_on_lr_grid

Array = Any   # a NumPy array or a torch tensor (on any device)


def _numpy(a: Optional[Array]) -> Optional[np.ndarray]:
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


@dataclass(frozen=True)
class StartState:
    """The scene-wide part of the classical starting image: a ClassicalEstimator without its
    scene-sized arrays (tiles get windows of those in their context)."""

    scale: int
    kernel: np.ndarray                      # the blind estimate's K the start was built with
    back_projections: int
    residual_projector: Optional[np.ndarray]
    shape_sigma: float
    shape_snr: float
    msi_noise: float
    intensity_floor: float
    ridge: float

    @classmethod
    def of(cls, est: ClassicalEstimator) -> "StartState":
        return cls(int(est.scale), _numpy(est.kernel), est.back_projections, _numpy(est.residual_projector),
                   est.shape_sigma, est.shape_snr, est.msi_noise, est.intensity_floor, est.ridge)

    def estimator_on(self, y: Array, z: Array, coef: Array, offset: Array, lr_correction: Optional[Array] = None,
                     device: Optional[torch.device] = None) -> ClassicalEstimator:
        """A ClassicalEstimator over windows of the scene's arrays (its ``region`` then works in
        the windows' coordinates; the back-projections come as the window of their LR state)."""
        t = lambda a: None if a is None else torch.as_tensor(a, device=device)  # noqa: E731
        return ClassicalEstimator(t(y), t(z), t(self.kernel), self.scale, t(coef), t(offset), self.back_projections,
                                  t(self.residual_projector), self.shape_sigma, self.shape_snr, self.msi_noise,
                                  self.intensity_floor, self.ridge, lr_correction=t(lr_correction))

    @property
    def margin(self) -> int:
        """HR pixels of context a window of the start needs (ClassicalEstimator.margin)."""
        return ClassicalEstimator.margin.fget(self)


@dataclass
class SceneArrays:
    """The scene-sized arrays tiles read windows of (NumPy or torch, as the run holds them):
    normalized LR-HSI ``y`` (bands, h, w), normalized (denoised) MSI ``z`` (msi_bands, H, W), the
    validity masks (the HSI's per band too, when some pixels are valid in some bands only), and the
    classical start's LR coefficients and back-projected residuals (None for a backbone start)."""

    y: Array
    z: Array
    hsi_valid: Array
    msi_valid: Array
    coef: Optional[Array] = None
    offset: Optional[Array] = None
    lr_correction: Optional[Array] = None
    hsi_band_valid: Optional[np.ndarray] = None


@dataclass
class TileContext:
    """What one tile reads: windows of the scene's arrays around ``window`` (NumPy; pickles).

    ``region`` is the HR window the arrays cover (``z``, ``msi_valid``) and, on the LR grid,
    ``y``, ``coef``, ``offset``, ``lr_correction``, ``hsi_valid`` and ``hsi_band_valid``."""

    window: Window
    region: Window
    z: np.ndarray
    y: np.ndarray
    hsi_valid: np.ndarray
    msi_valid: np.ndarray
    coef: Optional[np.ndarray] = None
    offset: Optional[np.ndarray] = None
    lr_correction: Optional[np.ndarray] = None
    hsi_band_valid: Optional[np.ndarray] = None

    @property
    def nbytes(self) -> int:
        """Bytes of arrays this context carries (what ships to a worker)."""
        return sum(a.nbytes for a in (self.z, self.y, self.hsi_valid, self.msi_valid, self.coef, self.offset,
                                      self.lr_correction, self.hsi_band_valid) if a is not None)


@dataclass
class TileRenderer:
    """The fitted state that turns a :class:`TileContext` into a finished tile (float32, the
    HSI's units, NaN where an input is invalid). Picklable: NumPy arrays and numbers only; the
    torch copies are made on first use in each process (``device``: "auto" picks that
    process's GPU, e.g. the one CUDA_VISIBLE_DEVICES gives a Dask worker)."""

    scale: int
    height: int
    width: int
    bands: int
    y_unit: float
    clip: bool                           # the HSI is non-negative: so is the output
    kernel: np.ndarray                   # fitted K (the guidance maps use it)
    srf: np.ndarray                      # fitted P, normalized units
    basis: np.ndarray                    # (bands, dims) spectral subspace of the network
    net_config: tuple                    # (dims, width, depth) of ReconstructionNet
    net_state: dict                      # the fitted network's weights
    net_reach: int                       # its receptive radius [HR pixels]
    start: Optional[StartState]          # None: a cached backbone start (not renderable per window)
    shape: Optional[dict] = None         # output shape smoothing (backbone starts), see rendering.py
    device: str = "auto"
    _torch: dict = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_torch"] = {}
        return state

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def from_fitter(cls, fitter, msi_noise: Optional[torch.Tensor] = None, device: Optional[str] = None
                    ) -> "TileRenderer":
        """The renderer of a finished fitting (rendering.py's ``shape_smoothing`` decides the
        output smoothing), on the fitting's device unless ``device`` says otherwise."""
        from .rendering import shape_smoothing

        scene, obs, cfg = fitter.scene, fitter.obs, fitter.cfg
        est = scene.estimator
        height, width = obs.hr_shape
        return cls(scale=obs.scale, height=int(height), width=int(width), bands=int(obs.y.shape[0]),
                   y_unit=float(obs.y_unit), clip=bool(float(obs.y.min()) >= 0),
                   kernel=_numpy(scene.kernel), srf=_numpy(scene.srf), basis=_numpy(scene.basis),
                   net_config=(cfg.subspace_dims, cfg.width, cfg.depth),
                   net_state={k: _numpy(v).copy() for k, v in fitter.net.state_dict().items()},
                   net_reach=int(fitter.net.receptive_radius),
                   start=StartState.of(est) if est is not None else None,
                   shape=shape_smoothing(fitter, msi_noise), device=device or str(obs.y.device))

    # -- geometry -------------------------------------------------------------------------------
    @property
    def halo(self) -> int:
        """HR pixels the network (and the output smoothing) reach beyond a tile."""
        return self.net_reach + 1 + (self.shape["reach"] if self.shape else 0)

    @property
    def guidance_margin(self) -> int:
        """HR pixels the guidance maps reach (SceneWindows.guidance_margin)."""
        import math

        s = self.scale
        return s * math.ceil((self.kernel.shape[-1] // 2 + 3 * s) / s)

    def grown(self, window: Window) -> Window:
        return window.grow(self.halo).clip(self.height, self.width)

    def guided(self, window: Window) -> Window:
        return grown_on_lr_grid(self.grown(window), self.guidance_margin, self.scale, self.height, self.width)

    def region(self, window: Window) -> Window:
        """Everything the tile ``window`` reads, on the LR grid."""
        if self.start is None:
            raise ValueError("a backbone start is not computed per window; use the classical start")
        return grown_on_lr_grid(self.guided(window), self.start.margin, self.scale, self.height, self.width)

    def context(self, window: Window, arrays: SceneArrays, copy: bool = True) -> TileContext:
        """The windows of ``arrays`` the tile ``window`` reads: NumPy copies to ship (``copy``),
        else views of the arrays as they are (this process renders it)."""
        region = self.region(window)
        rows, cols = region.slices()
        lr_rows, lr_cols = region.to_lr(self.scale).slices()
        take = (lambda a: np.ascontiguousarray(_numpy(a))) if copy else (lambda a: a)  # noqa: E731
        maybe = lambda a: None if a is None else take(a[..., lr_rows, lr_cols])  # noqa: E731
        return TileContext(window, region, z=take(arrays.z[:, rows, cols]), y=take(arrays.y[:, lr_rows, lr_cols]),
                           hsi_valid=take(arrays.hsi_valid[lr_rows, lr_cols]),
                           msi_valid=take(arrays.msi_valid[rows, cols]),
                           coef=take(arrays.coef[:, :, lr_rows, lr_cols]),
                           offset=take(arrays.offset[:, lr_rows, lr_cols]),
                           lr_correction=maybe(arrays.lr_correction), hsi_band_valid=maybe(arrays.hsi_band_valid))

    # -- computing ------------------------------------------------------------------------------
    def torch_state(self) -> dict:
        """This process's torch copies: device, network, K, P, basis (made once)."""
        if not self._torch:
            from .devices import resolve_device

            dev = resolve_device(self.device)
            net = ReconstructionNet(*self.net_config)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in self.net_state.items()})
            net.to(dev).eval()
            self._torch.update(device=dev, net=net, kernel=torch.as_tensor(self.kernel, device=dev),
                               srf=torch.as_tensor(self.srf, device=dev), basis=torch.as_tensor(self.basis, device=dev))
        return self._torch

    def render(self, ctx: TileContext) -> np.ndarray:
        """The finished tile ``ctx.window`` from its context (any process)."""
        st = self.torch_state()
        dev, s = st["device"], self.scale
        region = ctx.region
        local = lambda w: w.offset(-region.row, -region.col)  # noqa: E731
        with torch.no_grad():
            z = torch.as_tensor(ctx.z, device=dev)
            y = torch.as_tensor(ctx.y, device=dev)
            est = self.start.estimator_on(y, z, ctx.coef, ctx.offset, ctx.lr_correction, dev)
            grown = self.grown(ctx.window)
            z_grown = z[(slice(None),) + local(grown).slices()]
            masks = self.masks(ctx.window, ctx.msi_valid, ctx.hsi_valid, region, ctx.hsi_band_valid)
            if self.adds_nothing:           # no guidance maps to compute: the start is the image
                return self.finish(ctx.window, grown, est.region(local(grown)), None, z_grown, *masks)
            guided = self.guided(ctx.window)
            g = local(guided)
            x_base = est.region(g)
            lr_rows, lr_cols = g.to_lr(s).slices()
            rows, cols = g.slices()
            features = guidance_features(x_base, y[:, lr_rows, lr_cols], z[:, rows, cols], st["kernel"], st["srf"],
                                         s, st["basis"])
            inner_rows, inner_cols = grown.relative_to(guided).slices()
            return self.finish(ctx.window, grown, x_base[:, inner_rows, inner_cols],
                               features[:, inner_rows, inner_cols], z_grown, *masks)

    @property
    def adds_nothing(self) -> bool:
        """The network's last layer is all zeros (never fitted, or the fitting kept its starting
        state because no iteration predicted the held-out pixels better): its correction is exactly
        zero, so tiles need neither the guidance maps nor the network."""
        last = max((k for k in self.net_state if k.startswith("body.")), key=lambda k: int(k.split(".")[1]))
        index = last.split(".")[1]
        return all(not np.any(self.net_state[f"body.{index}.{p}"]) for p in ("weight", "bias"))

    def finish(self, window: Window, grown: Window, x_base: torch.Tensor, features: Optional[torch.Tensor],
               z_grown: torch.Tensor, msi_valid: np.ndarray, hsi_invalid_hr: Optional[np.ndarray]) -> np.ndarray:
        """The network's image on ``grown`` from the start and guidance there (None when the
        network adds nothing), cut to ``window``, brought to the HSI's units, NaN where an input is
        invalid."""
        st = self.torch_state()
        with torch.no_grad():
            if self.adds_nothing:
                x = x_base.clone() if self.shape else x_base     # (smoothed in place below)
            else:
                x = x_base + torch.einsum("cl,lhw->chw", st["basis"], st["net"](features))
            if self.shape:
                smooth_shape_where_dark_(x, z_grown, self.shape["noise"], self.shape["sigma"], self.shape["snr"],
                                         self.shape["floor"])
            rows, cols = window.relative_to(grown).slices()
            return self.to_output(x[:, rows, cols], msi_valid, hsi_invalid_hr)

    def to_output(self, x: torch.Tensor, msi_valid: np.ndarray, hsi_invalid_hr: Optional[np.ndarray]) -> np.ndarray:
        """A tile in normalized units brought to the HSI's units (non-negative when the HSI is), NaN
        where the MSI is invalid and where the HSI is (``hsi_invalid_hr``: (h, w), or per band)."""
        # one new array, scaled (and clipped) by torch on all threads and on the tile's device
        out = x.detach().to(torch.float32).mul(torch.tensor(np.float32(self.y_unit), device=x.device))
        if self.clip:
            out.clamp_(min=0)
        b = out.cpu().numpy()
        msi_valid = np.asarray(msi_valid, dtype=bool)
        if not msi_valid.all():          # a boolean index over a large tile costs a pass even when empty
            b[:, ~msi_valid] = np.nan
        if hsi_invalid_hr is not None:
            b[np.broadcast_to(hsi_invalid_hr if hsi_invalid_hr.ndim == 3 else hsi_invalid_hr[None], b.shape)] = np.nan
        return b

    def masks(self, window: Window, msi_valid: np.ndarray, hsi_valid: np.ndarray, origin: Window,
              hsi_band_valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Where the MSI is valid on ``window`` and where the LR-HSI is invalid on its HR pixels
        (per band when ``hsi_band_valid`` is given; None: valid everywhere), from masks that cover
        ``origin`` (HR) and its LR window."""
        s = self.scale
        msi = np.asarray(msi_valid, dtype=bool)[window.offset(-origin.row, -origin.col).slices()]
        lr = window.snap(s)
        lr_rows, lr_cols = lr.offset(-origin.row, -origin.col).to_lr(s).slices()
        if hsi_band_valid is not None:
            bad = ~np.asarray(hsi_band_valid, dtype=bool)[:, lr_rows, lr_cols]
        else:
            bad = ~np.asarray(hsi_valid, dtype=bool)[None, lr_rows, lr_cols]
        if not bad.any():
            return msi, None
        up = np.kron(bad, np.ones((1, s, s), dtype=bool))
        return msi, up[(slice(None),) + window.relative_to(lr).slices()]


def with_device(renderer: TileRenderer, device: str) -> TileRenderer:
    """The same renderer on another device choice (a worker's own)."""
    return replace(renderer, device=device, _torch={})
