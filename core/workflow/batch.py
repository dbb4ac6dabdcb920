"""A batch of pairs: each pair one fusion (the same run_fusion as a single run), on a Dask
cluster or one after another in this process, with a summary of every pair.

- **Where.** With a scheduler address (or local worker processes from the command line) each
  pair is one Dask task (core/cluster.py); without, the pairs run here one after another (the
  QGIS algorithm without an address). Workers read the inputs and write the outputs themselves:
  the client and the workers must see the same file system at the same paths.
- **Outputs.** Each pair writes its GeoTIFF through the workflow's staging (a temporary file
  renamed when complete), then its run record ``<output stem>.run.json`` (atomically, last: the
  record marks the output complete). Temporary files of runs that died (a killed worker, a
  cancelled local cluster) are removed at the start and the end of a batch.
- **Complete.** A pair is complete, and a rerun skips it, when its run record says done, the
  record's inputs (paths, sizes, modification times) and fusion options are the run's, and the
  GeoTIFF opens with the bands and size the record and the inputs say. The check runs on the
  client before submitting and again in the task (a task retried after its worker died once
  the pair was written finds it complete: nothing is written twice).
- **Faults.** A pair whose inputs are bad fails with the workflow's message and the others go
  on. A worker that dies mid-pair: the scheduler runs the task again on another worker (dask
  reschedules the tasks of lost workers by itself, up to ``distributed.scheduler.allowed-failures``
  times; ``retries`` adds one more try for an unexpected exception). A lost scheduler stops the
  batch with a message; the pairs already written are complete and a rerun resumes.
- **Cancel.** QGIS's Cancel or Ctrl-C cancels the futures; a running pair notices within about a
  second (its task is cancelled on its worker) and deletes its temporary files.
- **Summary.** ``batch_summary.csv`` and ``batch_summary.json`` in the output folder: per pair
  the status (done, skipped, failed, cancelled, not run), seconds, worker, device, the
  reference-free consistency of the result (mean relative RMSE, in %, of the fused image
  re-degraded with the estimated K and P against each input: core/consistency.py) and the
  message of a failure.
"""
from __future__ import annotations

import csv
import datetime
import glob
import io as _stdio
import json
import os
import socket
import time
import traceback
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import numpy as np

from .. import io
from ..errors import Cancelled, FusionError
from .feedback import Feedback
from .manifest import PairItem, read_manifest
from .requests import BatchRequest, FusionRequest

SUMMARY_CSV = "batch_summary.csv"
SUMMARY_JSON = "batch_summary.json"
RECORD_SUFFIX = ".run.json"
#: outputs larger than this are checked for consistency on their central window only
CONSISTENCY_WINDOW = 1024


@dataclass
class PairRecord:
    """One line of the summary."""

    name: str
    hsi: str
    msi: str
    output: str
    status: str = "not run"            # done, skipped, failed, cancelled, not run
    seconds: Optional[float] = None
    cpu_seconds: Optional[float] = None    # CPU time of the process that ran it (all its threads)
    worker: str = ""
    device: str = ""
    hsi_rel_rmse_pct: Optional[float] = None
    msi_rel_rmse_pct: Optional[float] = None
    #: what the output holds: "fusion", or "upsampled HSI" when the guard found the fusion no better
    written: str = ""
    #: share of the output written as upsampled HSI [%]: where the images disagree (another date,
    #: clouds: core/pair_changes.py), or all of it when the guard replaced the fusion
    upsampled_pct: Optional[float] = None
    message: str = ""

    @classmethod
    def of(cls, item: PairItem, **kw) -> "PairRecord":
        return cls(item.name, item.hsi, item.msi, item.output, **kw)


@dataclass
class BatchOutcome:
    """What a batch did: ``outputs`` keyed by output name (as the QGIS algorithm returns them)."""

    outputs: dict
    records: list
    seconds: float
    summary_csv: str
    summary_json: str
    run: dict = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)


# ---------------------------------------------------------------------------------------------
# Completeness: the run record next to each output
# ---------------------------------------------------------------------------------------------

def record_path(output: str) -> str:
    """The run record of an output: ``<output without extension>.run.json``."""
    return os.path.splitext(output)[0] + RECORD_SUFFIX


def _signature(path: Optional[str]) -> Optional[list]:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def fingerprint(request: FusionRequest) -> dict:
    """What makes an output this run's: its inputs (path, size, modification time) and options."""
    values = {f.name: getattr(request, f.name) for f in fields(FusionRequest)
              if f.name not in ("output", "output_degradation", "report")}
    for key in ("hsi", "msi", "msi2", "srf", "degradation"):
        values[key] = _signature(values[key])
    return json.loads(json.dumps(values))


def expected_shape(request: FusionRequest) -> tuple[int, int, int]:
    """Bands, height and width the fused GeoTIFF of this pair has (from the inputs' metadata)."""
    hi, mi = io.raster_info(request.hsi), io.raster_info(request.msi)
    grid = io.pair_grid(hi, mi, request.scale, snap_offset=request.output_grid == "msi")
    return hi.count, grid.msi_window.height, grid.msi_window.width


def completeness(request: FusionRequest) -> tuple[bool, str, Optional[dict]]:
    """``(complete, why, run record)`` of a pair's output."""
    output = request.output
    if not os.path.exists(output):
        return False, "no output yet", None
    try:
        with open(record_path(output), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False, "the output has no run record (an earlier run stopped before it finished)", None
    if record.get("status") != "done":
        return False, "the run record does not say done", record
    if record.get("fingerprint") != fingerprint(request):
        return False, "the inputs or the options changed since the output was written", record
    try:
        want = expected_shape(request)
        import rasterio

        with rasterio.open(output) as ds:
            got = (ds.count, ds.height, ds.width)
    except Exception as exc:  # noqa: BLE001 - any failure to open means: not complete
        return False, f"the output does not open ({exc})", record
    if got != want or list(got) != [record.get("bands"), record.get("height"), record.get("width")]:
        return False, f"the output is {got[0]} x {got[1]} x {got[2]}, expected {want[0]} x {want[1]} x {want[2]}", record
    return True, "complete", record


def stale_temporaries(item: PairItem) -> list:
    """Temporary files the staging of a pair's outputs leaves when its process is killed."""
    found = []
    for final in (item.output, record_path(item.output)):
        folder = os.path.dirname(final) or "."
        base, ext = os.path.splitext(os.path.basename(final))
        found += glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(base)}.*.part{glob.escape(ext)}"))
    return found


def remove_stale_temporaries(items) -> int:
    n = 0
    for item in items:
        for path in stale_temporaries(item):
            try:
                os.remove(path)
                n += 1
            except OSError:
                pass
    return n


# ---------------------------------------------------------------------------------------------
# One pair (in this process or as a Dask task)
# ---------------------------------------------------------------------------------------------

def consistency_figures(outcome) -> dict:
    """Mean relative RMSE (%) of the fused image re-degraded with the estimated K and P against
    the HSI and the MSI. The image the run kept in memory, else the central window of the written
    file (at most CONSISTENCY_WINDOW² HR pixels, on the LR grid)."""
    from ..consistency import consistency_residuals

    result, pair, s = outcome.result, outcome.inputs.pair, outcome.inputs.scale
    hsi, msi = pair.hsi.data, pair.msi.data
    hv, mv = pair.hsi.valid, pair.msi.valid
    fused = result.image
    where = "whole image"
    if fused is None:
        import rasterio

        height, width = msi.shape[1:]
        side = min(CONSISTENCY_WINDOW, height, width) // s * s
        r0, c0 = (height - side) // 2 // s * s, (width - side) // 2 // s * s
        with rasterio.open(result.diagnostics.written_to or outcome.outputs["OUTPUT"]) as ds:
            fused = ds.read(window=((r0, r0 + side), (c0, c0 + side)), masked=True).filled(np.nan).astype(np.float32)
        lr = (slice(r0 // s, (r0 + side) // s), slice(c0 // s, (c0 + side) // s))
        hsi, hv = hsi[(slice(None),) + lr], hv[lr]
        msi, mv = msi[:, r0:r0 + side, c0:c0 + side], mv[r0:r0 + side, c0:c0 + side]
        where = f"central {side} x {side} window"
    res = consistency_residuals(hsi, msi, result.kernel, result.srf, s, result.msi_gain, fused, hv, mv)
    mean = lambda pair_: float(np.nanmean(pair_[1])) if pair_ is not None else None  # noqa: E731
    return {"hsi_rel_rmse_pct": mean(res["hsi"]), "msi_rel_rmse_pct": mean(res["msi"]), "where": where}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"in-process ({socket.gethostname()})"


class TaskFeedback(Feedback):
    """A pair's feedback inside a Dask task: progress goes to the client as events of the topic
    ``topic`` (a few per second at most), the task's cancel state is its cancel flag."""

    def __init__(self, topic: str, name: str):
        from distributed import get_worker

        self.topic, self.name = topic, name
        self.worker = get_worker()
        self.key = self.worker.get_current_task()
        self.messages: list = []
        self._sent, self._checked, self._cancelled = 0.0, 0.0, False

    def send(self, **msg) -> None:
        self.worker.log_event(self.topic, dict(msg, pair=self.name, worker=self.worker.address))

    def progress(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._sent >= 0.5 or fraction >= 1.0:
            self._sent = now
            self.send(kind="progress", fraction=float(fraction), message=message)

    def is_canceled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._checked >= 0.5:
            self._checked = now
            ts = self.worker.state.tasks.get(self.key)
            # the client cancelled the future (or went away): the scheduler released the key
            self._cancelled = ts is None or ts.state in ("cancelled", "released", "forgotten")
        return self._cancelled

    def warning(self, message: str) -> None:
        self.messages.append(message)


def fuse_pair(item: PairItem, request: FusionRequest, feedback: Optional[Feedback] = None,
              topic: Optional[str] = None) -> PairRecord:
    """Fuse one pair unless its output is complete: the body of a pair's Dask task (``topic``
    set: progress as events) and of the in-process loop. Bad inputs and a cancel give a record
    (``failed``, ``cancelled``); any other error is raised (Dask then retries it)."""
    from .fusion import run_fusion

    t0, c0 = time.perf_counter(), time.process_time()
    fb = TaskFeedback(topic, item.name) if topic else (feedback or Feedback())
    worker = _worker_address()
    if topic:
        fb.send(kind="started", fraction=0.0, message="started")
    done, why, record = completeness(request)
    if done:
        return PairRecord.of(item, status="skipped", seconds=0.0, worker=worker, device=record.get("device", ""),
                         hsi_rel_rmse_pct=record.get("hsi_rel_rmse_pct"),
                         msi_rel_rmse_pct=record.get("msi_rel_rmse_pct"), written=record.get("written", ""),
                         upsampled_pct=record.get("upsampled_pct"),
                         message=f"output complete (written {record.get('finished', '?')})")
    try:
        outcome = run_fusion(request, fb)
    except Cancelled:
        return PairRecord.of(item, status="cancelled", seconds=time.perf_counter() - t0, worker=worker,
                             message="cancelled; nothing written")
    except FusionError as exc:
        return PairRecord.of(item, status="failed", seconds=time.perf_counter() - t0, worker=worker,
                             message=str(exc))
    figures = consistency_figures(outcome)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    device = outcome.result.diagnostics.device
    written, upsampled_pct = written_share(outcome.result)
    bands, height, width = outcome.inputs.pair.hsi.data.shape[0], *outcome.inputs.pair.msi.data.shape[1:]
    run_record = {"status": "done", "pair": item.name, "fingerprint": fingerprint(request), "bands": bands,
                  "height": height, "width": width, "seconds": round(seconds, 3), "worker": worker, "device": device,
                  "hsi_rel_rmse_pct": figures["hsi_rel_rmse_pct"], "msi_rel_rmse_pct": figures["msi_rel_rmse_pct"],
                  "consistency_on": figures["where"], "written": written, "upsampled_pct": upsampled_pct,
                  "warnings": list(outcome.inputs.warnings),
                  "finished": datetime.datetime.now().isoformat(timespec="seconds")}
    io.write_text_atomic(record_path(item.output), json.dumps(run_record, indent=1))
    return PairRecord.of(item, status="done", seconds=seconds, cpu_seconds=cpu_seconds, worker=worker, device=device,
                         hsi_rel_rmse_pct=figures["hsi_rel_rmse_pct"], msi_rel_rmse_pct=figures["msi_rel_rmse_pct"],
                         written=written, upsampled_pct=upsampled_pct, message="; ".join(outcome.inputs.warnings))


def written_share(result) -> tuple[str, float]:
    """What the output holds and the share of it that is the upsampled HSI [%]."""
    d = result.diagnostics
    if d.written != "fusion":
        return d.written, 100.0
    changes = getattr(d.estimation, "pair_changes", None)
    return d.written, round(100.0 * changes.changed, 2) if changes is not None and changes.applied else 0.0


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------

def run_batch(request: BatchRequest, feedback: Optional[Feedback] = None, session=None) -> BatchOutcome:
    """Run every pair of the request's manifest; write the summary; return the outcome.

    ``session`` (a core.cluster.ClusterSession) runs the pairs on that cluster; without it, a
    scheduler address or ``workers`` > 0 opens one (closed at the end), else the pairs run in
    this process one after another. Raises Cancelled (after writing the summary) when cancelled
    and core.cluster.SchedulerLostError when the scheduler is lost."""
    fb = feedback or Feedback()
    t0 = time.perf_counter()
    started = datetime.datetime.now().isoformat(timespec="seconds")
    outdir = request.output_folder
    if not outdir:
        raise FusionError("no output folder given")
    os.makedirs(outdir, exist_ok=True)
    io.check_output_path(os.path.join(outdir, SUMMARY_CSV), (".csv",), what="batch summary")
    manifest = read_manifest(request.source, outdir)
    for w in manifest.warnings:
        fb.warning(w)
    items = manifest.pairs
    requests = {i.name: request.pair_request(i.hsi, i.msi, i.output, i.srf, i.degradation, i.msi2) for i in items}
    records = {i.name: PairRecord.of(i) for i in items}
    removed = remove_stale_temporaries(items)
    if removed:
        fb.info(f"removed {removed} temporary file(s) left by an earlier run that was stopped")
    for item in items:
        done, why, record = completeness(requests[item.name])
        if done:
            records[item.name] = PairRecord.of(
                item, status="skipped", seconds=0.0, worker=record.get("worker", ""), device=record.get("device", ""),
                hsi_rel_rmse_pct=record.get("hsi_rel_rmse_pct"), msi_rel_rmse_pct=record.get("msi_rel_rmse_pct"),
                written=record.get("written", ""), upsampled_pct=record.get("upsampled_pct"),
                message=f"output complete (written {record.get('finished', '?')})")
            fb.info(f"{item.name}: skipped, its output is complete ({os.path.basename(item.output)})")
        elif why != "no output yet":
            fb.info(f"{item.name}: will be fused again: {why}")
    todo = [i for i in items if records[i.name].status != "skipped"]
    fb.info(f"{len(items)} pairs in {manifest.source}: {len(items) - len(todo)} complete, {len(todo)} to fuse")
    run = {"manifest": os.path.abspath(manifest.source), "output_folder": os.path.abspath(outdir),
           "started": started, "options": {k: v for k, v in asdict(request).items()
                                           if k not in ("manifest", "folder", "output_folder")}}
    error: Optional[BaseException] = None
    own_session = None
    try:
        if todo:
            if session is None and (request.scheduler or request.workers > 0):
                from ..cluster import open_cluster

                fb.progress(0.0, "starting the Dask cluster" if not request.scheduler else "joining the Dask cluster")
                session = own_session = open_cluster(request.scheduler, request.workers, request.threads_per_worker)
            if session is not None:
                _announce(session, fb, run)
                _run_on_cluster(session, todo, requests, records, fb, len(items))
            else:
                run.update(where="in-process")
                _run_here(todo, requests, records, fb, len(items))
    except BaseException as exc:  # noqa: BLE001 - the summary is written whatever stopped the batch
        error = exc
    finally:
        if own_session is not None:
            own_session.close()
        if todo:
            remove_stale_temporaries(items)
    outcome = _finish(records, items, outdir, run, t0, error)
    fb.progress(1.0, "done")
    fb.info(f"{outcome.count('done')} fused, {outcome.count('skipped')} skipped, {outcome.count('failed')} failed "
            f"in {outcome.seconds:.1f} s; summary: {outcome.summary_csv}")
    if error is not None:
        raise error
    return outcome


def _announce(session, fb: Feedback, run: dict) -> None:
    run.update(where="dask", scheduler=session.address, workers=session.workers, gpu=session.gpu,
               dashboard=session.dashboard)
    fb.info(f"Dask scheduler {session.address}: {session.workers} workers"
            + (", tasks ask for one GPU each" if session.gpu else ", CPU"))
    fb.info(f"Dask dashboard: {session.dashboard}" if session.dashboard else
            "Dask dashboard: not served (the scheduler's Python lacks bokeh)")


def _run_here(todo, requests, records, fb: Feedback, total: int) -> None:
    """The pairs one after another in this process (QGIS without a scheduler address)."""
    n = len(todo)
    base = total - n
    for k, item in enumerate(todo):
        lo, hi = (base + k) / total, (base + k + 1) / total
        sub = _SubFeedback(fb, lo, hi, f"{item.name} ({k + 1}/{n}): ")
        fb.info(f"{item.name}: fusing ({k + 1}/{n})")
        try:
            rec = fuse_pair(item, requests[item.name], sub)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - one pair's failure does not stop the others
            rec = PairRecord.of(item, status="failed", worker=_worker_address(), message=f"{type(exc).__name__}: {exc}")
            fb.debug(traceback.format_exc())
        records[item.name] = rec
        _tell(fb, rec)
        if rec.status == "cancelled":
            raise Cancelled("cancelled by the user")


def _run_on_cluster(session, todo, requests, records, fb: Feedback, total: int) -> None:
    from ..cluster import SchedulerLostError, run_stream, scheduler_lost_message

    client = session.client
    run_id = uuid.uuid4().hex[:8]
    topic = f"hsifusion-batch-{run_id}"
    events: deque = deque()
    client.subscribe_topic(topic, events.append)
    fractions = {i.name: 0.0 for i in todo}
    running: dict = {}
    base = total - len(todo)

    def submit(item: PairItem):
        return client.submit(fuse_pair, item, requests[item.name], None, topic, key=f"hsifusion-pair-{run_id}-{item.name}",
                             pure=False, retries=1, resources=session.resources)

    def on_result(item: PairItem, rec: PairRecord) -> None:
        records[item.name] = rec
        fractions[item.name] = 1.0
        running.pop(item.name, None)
        _tell(fb, rec)

    def on_error(item: PairItem, error: BaseException) -> None:
        fractions[item.name] = 1.0
        running.pop(item.name, None)
        text = f"{type(error).__name__}: {error}"
        if type(error).__name__ == "KilledWorker":
            text = f"its task killed the workers that ran it (out of memory?): {error}"
        rec = PairRecord.of(item, status="failed", message=text)
        records[item.name] = rec
        _tell(fb, rec)

    def tick() -> None:
        while events:
            _, msg = events.popleft()
            name = msg.get("pair")
            if name not in fractions or fractions[name] >= 1.0:
                continue
            if msg.get("kind") == "started":
                if running.get(name) != msg.get("worker"):
                    fb.info(f"{name}: started on {msg.get('worker')}")
                running[name] = msg.get("worker")
                fractions[name] = 0.0
            else:
                fractions[name] = max(0.0, min(0.999, float(msg.get("fraction", 0.0))))
        done = sum(f >= 1.0 for f in fractions.values())
        overall = (base + sum(fractions.values())) / total
        now = ", ".join(f"{n} {100 * fractions[n]:.0f}%" for n in list(running)[:3])
        fb.progress(overall, f"{base + done}/{total} pairs" + (f"; {now}" if now else ""))

    try:
        run_stream(session, todo, submit, on_result, on_error, max_in_flight=len(todo), cancel=fb.is_canceled,
                   tick=tick)
        tick()
    except SchedulerLostError as exc:
        for name in running:
            records[name].message = "it was running when the scheduler was lost; not finished"
        finished = sum(records[i.name].status in ("done", "skipped", "failed") for i in todo) + base
        raise SchedulerLostError(scheduler_lost_message(session, finished, total, "pairs")) from exc
    except Cancelled:
        for item in todo:
            if records[item.name].status == "not run" and item.name in running:
                records[item.name].status, records[item.name].message = "cancelled", "cancelled; nothing written"
        raise
    finally:
        try:
            client.unsubscribe_topic(topic)
        except Exception:  # noqa: BLE001 - the scheduler may be gone
            pass


def _tell(fb: Feedback, rec: PairRecord) -> None:
    if rec.status == "done":
        extra = ""
        if rec.hsi_rel_rmse_pct is not None:
            extra = f"; consistency: HSI {rec.hsi_rel_rmse_pct:.2f} %, MSI {rec.msi_rel_rmse_pct:.2f} %"
        fb.info(f"{rec.name}: done in {rec.seconds:.1f} s on {rec.worker} ({rec.device}){extra}")
    elif rec.status == "skipped":
        fb.info(f"{rec.name}: skipped, {rec.message}")
    elif rec.status == "failed":
        fb.warning(f"{rec.name}: FAILED: {rec.message}")
    else:
        fb.info(f"{rec.name}: {rec.status}")


class _SubFeedback(Feedback):
    """A pair's share ``[lo, hi]`` of the batch's progress, messages prefixed with the pair."""

    def __init__(self, parent: Feedback, lo: float, hi: float, prefix: str):
        self.parent, self.lo, self.hi, self.prefix = parent, lo, hi, prefix

    def progress(self, fraction: float, message: str = "") -> None:
        self.parent.progress(self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0), self.prefix + message)

    def is_canceled(self) -> bool:
        return self.parent.is_canceled()

    def info(self, message: str) -> None:
        self.parent.debug(self.prefix + message)

    def warning(self, message: str) -> None:
        self.parent.warning(self.prefix + message)

    def debug(self, message: str) -> None:
        self.parent.debug(self.prefix + message)


def _finish(records: dict, items, outdir: str, run: dict, t0: float, error: Optional[BaseException]) -> BatchOutcome:
    """Write the summary (CSV and JSON, atomically) and build the outcome."""
    rows = [records[i.name] for i in items]
    seconds = time.perf_counter() - t0
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "skipped", "failed", "cancelled", "not run")}
    run.update(finished=datetime.datetime.now().isoformat(timespec="seconds"), seconds=round(seconds, 3),
               counts=counts, stopped_by=None if error is None else f"{type(error).__name__}: {error}")
    columns = [f.name for f in fields(PairRecord)]
    buf = _stdio.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if getattr(r, c) is None else (f"{getattr(r, c):.4g}" if isinstance(getattr(r, c), float)
                                                            else getattr(r, c)) for c in columns])
    csv_path, json_path = os.path.join(outdir, SUMMARY_CSV), os.path.join(outdir, SUMMARY_JSON)
    io.write_text_atomic(csv_path, buf.getvalue())
    io.write_text_atomic(json_path, json.dumps({"run": run, "pairs": [asdict(r) for r in rows]}, indent=1,
                                               default=str))
    outputs = {"OUTPUT_FOLDER": outdir, "DONE": counts["done"], "SKIPPED": counts["skipped"],
               "FAILED": counts["failed"]}
    return BatchOutcome(outputs, rows, seconds, csv_path, json_path, run)
