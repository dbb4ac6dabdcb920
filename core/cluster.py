"""Dask distributed for the batch and the tile farm: join a cluster or start a local one, and run
a stream of tasks on it with progress, cancel and a clear message when the scheduler is lost.

Only the batch of pairs (core/workflow/batch.py) and the tile farm (core/tile_farm.py) import
this module; everything else in the plugin works without dask.

Which cluster:

- ``scheduler="tcp://host:port"`` joins an existing cluster (``dask scheduler`` with ``dask
  worker``, ``dask cuda worker`` or dask-jobqueue); its workers must import the same version of
  this plugin (checked on connect).
- otherwise a local cluster of worker processes is started: one per GPU that torch sees (each
  with ``CUDA_VISIBLE_DEVICES`` set to its own GPU, as dask-cuda does, and the resource
  ``GPU=1``), else ``workers`` CPU workers; each runs one task at a time with ``threads`` torch
  threads. Never from inside QGIS: its ``sys.executable`` is the QGIS binary, so the workers would
  be copies of QGIS (the QGIS algorithm runs pairs in-process instead).

Tasks ask for ``resources={"GPU": 1}`` when any worker advertises a GPU, so each pair or tile
holds one GPU while it runs; on CPU-only clusters they ask for nothing.
"""
from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

from .errors import Cancelled, FusionError, InvalidInputError
from .progress import Cancel

#: the pinned requirement (requirements.txt); the QGIS algorithm's canExecute() names it
DASK_REQUIREMENT = "dask[distributed]==2026.8.0"
#: the package's parent folder: local workers get it on PYTHONPATH so they import this plugin
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_NAME = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SchedulerLostError(FusionError):
    """The client lost its Dask scheduler during a run (the finished work is kept)."""


class DaskMissingError(InvalidInputError):
    """dask[distributed] is not installed."""


def require_distributed():
    """The ``distributed`` module, or an error with the command that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"running on a Dask cluster needs the Python package dask[distributed]: "
            f"python -m pip install \"{DASK_REQUIREMENT}\"") from exc
    return distributed


def default_workers() -> int:
    """Local CPU workers when none are asked for: one per core, at most one per 2 GB of free memory."""
    from .devices import available_memory

    cores = os.cpu_count() or 1
    return max(1, min(cores, available_memory() // (2 << 30)))


def visible_gpus() -> list[int]:
    """Indices of the CUDA GPUs this process sees (none without a CUDA build of torch)."""
    try:
        import torch

        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except Exception:  # noqa: BLE001 - no torch, a broken driver: no GPUs
        return []


def worker_env(threads: int) -> dict:
    """The environment of a local worker process: ``threads`` torch/BLAS threads, and this plugin
    importable."""
    path = os.environ.get("PYTHONPATH", "")
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "PYTHONPATH": PACKAGE_PARENT + (os.pathsep + path if path else "")}


def in_qgis() -> bool:
    """Whether this Python is QGIS's embedded one (its executable is the QGIS binary): worker
    processes started from there would be copies of QGIS."""
    import sys

    return "qgis" in os.path.basename(sys.executable or "").lower()


@dataclass
class ClusterSession:
    """A Dask client and what the runs need to know about its cluster."""

    client: Any
    cluster: Any = None              # the local cluster this session started (closed with it)
    address: str = ""
    gpu: bool = False                # some worker advertises the resource GPU
    workers: int = 0
    dashboard: Optional[str] = None

    @property
    def resources(self) -> Optional[dict]:
        """What each task asks for: one GPU when the workers advertise GPUs."""
        return {"GPU": 1} if self.gpu else None

    @classmethod
    def of_client(cls, client, cluster=None) -> "ClusterSession":
        """A session on an existing client (tests, notebooks, benchmarks)."""
        info = scheduler_info(client)
        workers = info.get("workers", {})
        gpu = any((w.get("resources") or {}).get("GPU", 0) > 0 for w in workers.values())
        link = getattr(client, "dashboard_link", None)
        return cls(client, cluster, info.get("address", str(client.scheduler.address)), gpu, len(workers),
                   link if _dashboard_served(info) else None)

    def close(self) -> None:
        import logging

        # a client that lost its scheduler logs its cancelled reconnection as an error: said already
        quiet = self.client.status not in ("running", "newly-created")
        log = logging.getLogger("distributed.client")
        level = log.level
        if quiet:
            log.setLevel(logging.CRITICAL)
        try:
            self.client.close()
        finally:
            log.setLevel(level)
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self) -> "ClusterSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scheduler_info(client) -> dict:
    """The scheduler's description with every worker (recent versions list only 5 by default)."""
    import inspect

    if "n_workers" in inspect.signature(client.scheduler_info).parameters:
        return client.scheduler_info(n_workers=-1)
    return client.scheduler_info()


def _dashboard_served(info: dict) -> bool:
    return "dashboard" in (info.get("services") or {})


def open_cluster(scheduler: Optional[str] = None, workers: int = 0, threads: int = 0,
                 dashboard_address: Optional[str] = ":8787", timeout: float = 30.0) -> ClusterSession:
    """Join the cluster at ``scheduler``, or start a local one (see the module docstring)."""
    distributed = require_distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise SchedulerLostError(
                f"could not reach the Dask scheduler at {scheduler} ({exc}); check the address and that "
                "`dask scheduler` runs there") from exc
        session = ClusterSession.of_client(client)
        session.address = scheduler
        try:
            check_workers(session, timeout)
        except BaseException:
            client.close()
            raise
        return session
    if in_qgis():
        raise InvalidInputError("worker processes are not started inside QGIS; give a scheduler address, or "
                                "leave it empty to run the pairs in this QGIS one after another")
    gpus = visible_gpus()
    cores = os.cpu_count() or 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # e.g. "port 8787 is already in use": another port is taken
        if gpus:
            n = len(gpus) if workers <= 0 else min(workers, len(gpus))
            cluster = _gpu_cluster(gpus[:n], threads or max(1, cores // n), dashboard_address)
        else:
            n = workers if workers > 0 else default_workers()
            t = threads or max(1, cores // n)
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=dashboard_address, env=worker_env(t))
    client = distributed.Client(cluster)
    client.register_plugin(_quiet_shutdown_plugin()())
    session = ClusterSession.of_client(client, cluster)
    session.address = str(cluster.scheduler_address)
    return session


class _HeartbeatAfterClose:
    """A logging filter: drops a worker's "Failed to communicate with scheduler during heartbeat."
    record. Closing a local cluster can stop its scheduler while a worker's heartbeat is in flight,
    and the worker then logs the broken connection with a traceback on the user's terminal."""

    def filter(self, record) -> bool:
        return not str(record.msg).startswith("Failed to communicate with scheduler during heartbeat")


def _quiet_shutdown_plugin():
    from distributed.diagnostics.plugin import WorkerPlugin

    class _QuietShutdown(WorkerPlugin):
        name = "hsifusion-quiet-shutdown"

        def setup(self, worker) -> None:
            import logging

            logging.getLogger("distributed.worker").addFilter(_HeartbeatAfterClose())

    return _QuietShutdown


def _gpu_cluster(gpus: list[int], threads: int, dashboard_address: Optional[str]):
    """A local cluster with one worker per GPU, each seeing only its own (CUDA_VISIBLE_DEVICES)."""
    from distributed import Nanny, Scheduler, SpecCluster

    env = worker_env(threads)
    spec = {f"gpu-{g}": {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1},
                                                   "env": dict(env, CUDA_VISIBLE_DEVICES=str(g))}}
            for g in gpus}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": dashboard_address}}
    return SpecCluster(workers=spec, scheduler=scheduler, name="hsifusion-gpu")


def check_workers(session: ClusterSession, timeout: float = 30.0) -> None:
    """The cluster has a worker (waiting up to ``timeout`` s for the first) and every worker
    imports this plugin, in this version (else tasks would fail one by one)."""
    from .. import __version__

    try:
        session.client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise InvalidInputError(f"the Dask scheduler at {session.address} has no workers (waited {timeout:.0f} s); "
                                f"start some with `dask worker {session.address}`") from exc
    session.workers = len(scheduler_info(session.client).get("workers", {}))
    code = f"__import__('{PACKAGE_NAME}').__version__"
    try:
        versions = session.client.run(eval, code)
    except Exception as exc:  # noqa: BLE001 - a worker without the plugin raises ImportError here
        raise InvalidInputError(
            f"the Dask workers at {session.address} cannot import the plugin ({type(exc).__name__}: {exc}); "
            f"install it (version {__version__}) into every worker's Python or put its parent folder on the "
            "workers' PYTHONPATH") from exc
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        raise InvalidInputError(
            f"Dask workers run another version of the plugin than this client ({__version__}): {wrong}")


# ---------------------------------------------------------------------------------------------
# Running a stream of tasks
# ---------------------------------------------------------------------------------------------

def lost_scheduler(session: ClusterSession, error: BaseException) -> bool:
    """Whether ``error`` (of a future) means the client lost its scheduler."""
    reason = str(getattr(error, "reason", "") or "")
    return "connection-lost" in reason or session.client.status in ("closing", "closed")


def scheduler_lost_message(session: ClusterSession, done: int, total: int, what: str) -> str:
    return (f"lost the connection to the Dask scheduler at {session.address}: {done} of {total} {what} were "
            "finished (and are complete); run the same command again to resume")


def run_stream(session: ClusterSession, items: Iterable, submit: Callable[[Any], Any],
               on_result: Callable[[Any, Any], None], on_error: Callable[[Any, BaseException], None],
               max_in_flight: int, cancel: Optional[Cancel] = None, tick: Optional[Callable[[], None]] = None,
               poll_seconds: float = 0.2) -> None:
    """Submit ``submit(item)`` for each item, at most ``max_in_flight`` futures at a time; hand each
    finished future's result to ``on_result(item, result)`` or its error to ``on_error(item,
    error)``, in this thread, as they complete. Between polls ``cancel()`` is checked (True:
    the pending futures are cancelled and :class:`Cancelled` raised; Ctrl-C alike, re-raised as
    KeyboardInterrupt) and ``tick()`` is called (progress). A lost scheduler raises
    :class:`SchedulerLostError`."""
    from distributed import as_completed

    pending: dict = {}
    source: Iterator = iter(items)
    exhausted = False
    ac = as_completed([])

    def top_up() -> None:
        nonlocal exhausted
        while not exhausted and len(pending) < max_in_flight:
            try:
                item = next(source)
            except StopIteration:
                exhausted = True
                return
            future = submit(item)
            pending[future] = item
            ac.add(future)

    try:
        top_up()
        while pending:
            if cancel is not None and cancel():
                raise Cancelled("cancelled by the user")
            for future in ac.next_batch(block=False) if ac.has_ready() else ():
                item = pending.pop(future, None)
                if item is None:
                    continue
                if future.status == "finished":
                    on_result(item, future.result())
                else:
                    error = _future_error(future)
                    if lost_scheduler(session, error):
                        raise SchedulerLostError(str(error)) from error
                    on_error(item, error)
                future.release()
            top_up()
            if tick is not None:
                tick()
            if pending and not ac.has_ready():
                time.sleep(poll_seconds)
    except BaseException:
        if pending and session.client.status == "running":
            try:
                session.client.cancel(list(pending), force=True)
            except Exception:  # noqa: BLE001 - cancelling is best effort while failing
                pass
        raise


def _future_error(future) -> BaseException:
    """The error of a future that did not finish: the task's exception, or the CancelledError
    (with its reason) of a cancelled one."""
    try:
        if future.status == "error":
            return future.exception(timeout=5)
        future.result(timeout=5)
    except BaseException as exc:  # noqa: BLE001 - a cancelled future raises its CancelledError here
        return exc
    return RuntimeError(f"task {future.key} ended as {future.status}")


@contextlib.contextmanager
def tasks_carry_data() -> Iterator[None]:
    """Submitting tasks whose arguments are arrays (tiles travel inside their tasks on purpose:
    the scheduler then holds what a task needs, so a lost worker's task is simply run again)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sending large graph")
        yield
