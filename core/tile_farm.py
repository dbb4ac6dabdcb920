"""One large scene across Dask workers: the tiles of the fused image computed on the workers,
written by the client window by window.

The degradation estimate, the MSI denoising and the network's fitting run once, in the client
(``fuse`` up to rendering: they are sequential and read the whole scene). What remains is the
rendering, which is most of the time on a large scene (docs/speed.md) and local: every tile
is computed from a :class:`~.tile_renderer.TileRenderer` (the fitted network, K, P and the
classical start's global figures, under a megabyte) and its :class:`~.tile_renderer.TileContext`
(the windows of the normalized MSI and of the LR-sized arrays that tile reads). So:

- the renderer goes to the cluster once, as the result of a task that carries it (a worker that
  dies loses nothing: the scheduler runs that task again where needed);
- each tile is one task that carries its context (tens of MB at most) and returns the finished
  tile; at most ``max_in_flight`` tiles are out at a time, so the client holds the inputs, the
  LR-sized state and a few tiles, never the HR cube;
- the client writes each tile as it arrives (io.WindowWriter), each window exactly once; a worker
  lost mid-tile is the scheduler's business (it reruns the task elsewhere), and a tile whose task
  fails anyway (``retries`` exhausted) fails the run, whose staged output is then deleted.

The tiles equal the single-machine run's (rendering.py renders through the same renderer).
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .cluster import ClusterSession, SchedulerLostError, run_stream, tasks_carry_data
from .errors import FusionError
from .progress import Reporter
from .tile_renderer import SceneArrays, TileContext, TileRenderer, with_device
from .windows import Window


@dataclass
class TileResult:
    """A finished tile and where it was made."""

    window: Window
    block: np.ndarray
    seconds: float
    cpu_seconds: float          # CPU time of the worker process during the tile (all its threads)
    worker: str
    device: str
    pid: int


@dataclass
class FarmStats:
    """What the farm did: per-tile compute times and transfer sizes (benchmarks/scale_out.py)."""

    tiles: int = 0
    renderer_bytes: int = 0
    context_bytes: list = field(default_factory=list)
    block_bytes: list = field(default_factory=list)
    tile_seconds: list = field(default_factory=list)
    tile_cpu_seconds: list = field(default_factory=list)
    workers: dict = field(default_factory=dict)     # address -> tiles rendered there
    devices: set = field(default_factory=set)
    seconds: float = 0.0


def carry(renderer: TileRenderer) -> TileRenderer:
    """The task that puts the renderer on the cluster (its result is the renderer)."""
    return renderer


def render_tile(renderer: TileRenderer, ctx: TileContext) -> TileResult:
    """One tile, on a worker."""
    t, c = time.perf_counter(), time.process_time()
    block = renderer.render(ctx)
    return TileResult(ctx.window, block, time.perf_counter() - t, time.process_time() - c, _worker_address(),
                      str(renderer.torch_state()["device"]), os.getpid())


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


class DaskTileFarm:
    """A ``farm`` for :func:`~hsi_blind_fusion.core.fuse` (rendering.TileFarm) on a Dask cluster.

    ``device`` is what the workers use ("auto": each worker's own GPU when it has one);
    ``max_in_flight`` bounds the tiles out at a time (default: two per worker); ``retries`` is
    how often a tile whose task raised is tried again (a worker that dies is not a raise: the
    scheduler reschedules its tasks by itself)."""

    def __init__(self, session: ClusterSession, device: str = "auto", max_in_flight: Optional[int] = None,
                 retries: int = 1, on_tile: Optional[Callable[[TileResult], None]] = None):
        self.session, self.device, self.retries, self.on_tile = session, device, retries, on_tile
        self.max_in_flight = max_in_flight or max(2, 2 * max(1, session.workers))
        self.stats = FarmStats()

    def __call__(self, renderer: TileRenderer, arrays: SceneArrays, windows: list,
                 put: Callable[[Window, np.ndarray], None], report: Reporter) -> None:
        import pickle

        if renderer.start is None:
            raise FusionError("the tile farm computes each tile from the classical starting image; this run "
                              "kept a backbone start whole in memory (FusionSettings(initial='classical'), the "
                              "default, farms out)")
        client, run = self.session.client, uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        renderer = with_device(renderer, self.device)
        self.stats = stats = FarmStats(tiles=len(windows), renderer_bytes=len(pickle.dumps(renderer)))
        resources = self.session.resources
        with tasks_carry_data():
            carried = client.submit(carry, renderer, key=f"hsifusion-renderer-{run}", pure=False)
        done = 0

        def submit(window: Window):
            ctx = renderer.context(window, arrays)
            stats.context_bytes.append(ctx.nbytes)
            with tasks_carry_data():
                return client.submit(render_tile, carried, ctx, key=f"hsifusion-tile-{run}-{window.row}-{window.col}",
                                     pure=False, retries=self.retries, resources=resources)

        def on_result(window: Window, result: TileResult) -> None:
            nonlocal done
            put(window, result.block)
            done += 1
            stats.block_bytes.append(result.block.nbytes)
            stats.tile_seconds.append(result.seconds)
            stats.tile_cpu_seconds.append(result.cpu_seconds)
            stats.workers[result.worker] = stats.workers.get(result.worker, 0) + 1
            stats.devices.add(result.device)
            if self.on_tile:
                self.on_tile(result)

        def on_error(window: Window, error: BaseException) -> None:
            raise FusionError(f"tile {window} failed on the cluster: {type(error).__name__}: {error}") from error

        def tick() -> None:
            report(done / max(1, len(windows)),
                   f"tiles on {self.session.workers} Dask workers: {done}/{len(windows)} written")

        try:
            run_stream(self.session, windows, submit, on_result, on_error, self.max_in_flight, report.cancelled,
                       tick)
            report.check()
        except SchedulerLostError as exc:
            raise SchedulerLostError(
                f"lost the connection to the Dask scheduler at {self.session.address} after {done} of "
                f"{len(windows)} tiles: the run stopped and no output was written; run it again") from exc
        finally:
            carried.release()
            stats.seconds = time.perf_counter() - t0
