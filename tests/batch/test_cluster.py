"""Issue 17 on a real local Dask cluster of two worker processes (one of which advertises a fake
GPU resource): a batch of pairs gives the single runs' outputs, a rerun skips them, a worker
killed mid-pair changes nothing in the result, tasks ask for the GPU when workers advertise one,
Cancel leaves nothing behind, and one scene's tiles farmed out equal the single run.

Tiny scenes (64 x 64 MSI, 20 bands) and 1 x 2 iterations keep each run to seconds."""
import json
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import rasterio

distributed = pytest.importorskip("distributed")

from hsi_blind_fusion.core.cluster import ClusterSession, worker_env  # noqa: E402
from hsi_blind_fusion.core.errors import Cancelled  # noqa: E402
from hsi_blind_fusion.core.tile_farm import DaskTileFarm  # noqa: E402
from hsi_blind_fusion.core.workflow import BatchRequest, Feedback, FusionRequest, run_batch, run_fusion  # noqa: E402
from hsi_blind_fusion.core.workflow.batch import completeness  # noqa: E402

FAST = dict(outer_iterations=1, inner_iterations=2, device="cpu")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, Nanny, Scheduler, SpecCluster

    env = worker_env(1)
    workers = {"gpu": {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1}, "env": env}},
               "cpu": {"cls": Nanny, "options": {"nthreads": 1, "env": env}}}
    spec = SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {"dashboard_address": None}})
    client = Client(spec)
    client.wait_for_workers(2)
    yield client
    client.close()
    spec.close(timeout=10)


@pytest.fixture
def cpu_session(cluster):
    """The cluster as CPU workers (tasks ask for no resource, so both workers take them)."""
    return ClusterSession(cluster, address=cluster.scheduler.address, gpu=False, workers=2)


def worker_named(client, name):
    return next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == name)


@pytest.fixture(scope="module")
def pairs(make_pair, tmp_path_factory):
    """Three good pairs and one with HSI and MSI swapped, in a CSV manifest."""
    folder = tmp_path_factory.mktemp("manifest")
    good = [make_pair(seed)[1] for seed in (21, 22, 23)]
    rows = [f"p{i},{p['hsi']},{p['msi']}" for i, p in enumerate(good)] + [f"swapped,{good[0]['msi']},{good[0]['hsi']}"]
    (folder / "pairs.csv").write_text("name,hsi,msi\n" + "\n".join(rows) + "\n")
    (folder / "good.csv").write_text("name,hsi,msi\n" + "\n".join(rows[:2]) + "\n")
    return folder, good


class Recorder(Feedback):
    def __init__(self):
        self.infos, self.warnings, self.fractions = [], [], []

    def info(self, message):
        self.infos.append(message)

    def warning(self, message):
        self.warnings.append(message)

    def progress(self, fraction, message=""):
        self.fractions.append(fraction)


def read(path):
    with rasterio.open(path) as ds:
        return ds.read()


def no_temporaries(folder):
    return [f for f in os.listdir(folder) if ".part" in f] == []


@pytest.fixture(scope="module")
def first_batch(cluster, pairs, tmp_path_factory):
    folder, good = pairs
    out = tmp_path_factory.mktemp("batch")
    singles = []
    for i, p in enumerate(good):
        single = str(out.parent / f"single_{out.name}_{i}.tif")
        run_fusion(FusionRequest(hsi=p["hsi"], msi=p["msi"], output=single, **FAST))
        singles.append(single)
    session = ClusterSession(cluster, address=cluster.scheduler.address, gpu=False, workers=2)
    fb = Recorder()
    outcome = run_batch(BatchRequest(output_folder=str(out), manifest=str(folder / "pairs.csv"), **FAST), fb,
                        session=session)
    return out, singles, outcome, fb


def test_pairs_match_single_runs(first_batch):
    out, singles, outcome, fb = first_batch
    status = {r.name: r for r in outcome.records}
    assert [status[n].status for n in ("p0", "p1", "p2", "swapped")] == ["done", "done", "done", "failed"]
    assert "swapped" in status["swapped"].message                     # the workflow's own message
    assert outcome.outputs == {"OUTPUT_FOLDER": str(out), "DONE": 3, "SKIPPED": 0, "FAILED": 1}
    for i, single in enumerate(singles):
        got, want = read(out / f"p{i}_fused.tif"), read(single)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * float(np.abs(want).max()))
        r = status[f"p{i}"]
        assert r.worker.startswith("tcp://") and r.device == "cpu" and r.seconds > 0
        assert 0 < r.hsi_rel_rmse_pct < 20 and 0 < r.msi_rel_rmse_pct < 20
        assert r.written == "fusion" and r.upsampled_pct == 0.0
        record = json.loads((out / f"p{i}_fused.run.json").read_text())
        assert record["status"] == "done" and record["bands"] == 20 and record["written"] == "fusion"
    summary = json.loads((out / "batch_summary.json").read_text())
    assert summary["run"]["counts"]["done"] == 3 and summary["run"]["workers"] == 2
    assert (out / "batch_summary.csv").read_text().splitlines()[0].startswith("name,hsi,msi,output,status,seconds")
    assert no_temporaries(out) and fb.fractions[-1] == 1.0
    assert any("started on tcp://" in m for m in fb.infos)            # per-pair progress came from the workers


def test_rerun_skips_complete_pairs(first_batch, pairs, cpu_session):
    out, _, _, _ = first_batch
    folder, _ = pairs
    mtimes = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out) if f.endswith(".tif")}
    fb = Recorder()
    outcome = run_batch(BatchRequest(output_folder=str(out), manifest=str(folder / "pairs.csv"), **FAST), fb,
                        session=cpu_session)
    assert outcome.outputs["SKIPPED"] == 3 and outcome.outputs["DONE"] == 0 and outcome.outputs["FAILED"] == 1
    assert {r.written for r in outcome.records if r.status == "skipped"} == {"fusion"}   # read from the run record
    assert sum(": skipped, " in m for m in fb.infos) == 3
    assert {f: os.stat(out / f).st_mtime_ns for f in mtimes} == mtimes
    # complete means: this run's inputs and options, a run record, the expected raster
    request = BatchRequest(output_folder=str(out), manifest=str(folder / "pairs.csv"), **FAST)
    item = outcome.records[0]
    assert completeness(request.pair_request(item.hsi, item.msi, item.output))[0]
    assert "options changed" in completeness(replace(request, seed=1).pair_request(item.hsi, item.msi, item.output))[1]
    with rasterio.open(out / "p0_fused.tif") as ds:
        profile = ds.profile
    (out / "p0_fused.run.json").rename(out / "p0_saved.json")
    assert "no run record" in completeness(request.pair_request(item.hsi, item.msi, item.output))[1]
    (out / "p0_saved.json").rename(out / "p0_fused.run.json")
    assert profile["count"] == 20


def test_worker_killed_mid_pair(cluster, pairs, first_batch, cpu_session, tmp_path):
    folder, _ = pairs
    pids = cluster.run(os.getpid)
    killed = {}

    class Killer(Recorder):
        def info(self, message):
            super().info(message)
            if "started on tcp://" in message and not killed:
                name, worker = message.split(": started on ")
                killed[name] = (worker, pids[worker])
                os.kill(pids[worker], signal.SIGKILL)

    fb = Killer()
    outcome = run_batch(BatchRequest(output_folder=str(tmp_path), manifest=str(folder / "good.csv"), **FAST), fb,
                        session=cpu_session)
    (name, (worker, pid)), = killed.items()
    assert outcome.outputs["DONE"] == 2, [(r.name, r.status, r.message) for r in outcome.records]
    # the killed pair started again on another (or the restarted) worker and was written once, complete
    assert sum(m.startswith(f"{name}: started on ") for m in fb.infos) == 2
    assert {r.name: r.worker for r in outcome.records}[name] != worker
    out = first_batch[0]
    for n in ("p0", "p1"):
        np.testing.assert_array_equal(read(tmp_path / f"{n}_fused.tif"), read(out / f"{n}_fused.tif"))
    assert no_temporaries(tmp_path)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    cluster.wait_for_workers(2, timeout=60)                           # the nanny restarted it


def test_tasks_ask_for_a_gpu_when_workers_have_one(cluster, pairs, tmp_path):
    folder, _ = pairs
    session = ClusterSession.of_client(cluster)
    assert session.gpu and session.resources == {"GPU": 1} and session.workers == 2
    outcome = run_batch(BatchRequest(output_folder=str(tmp_path), manifest=str(folder / "good.csv"), **FAST),
                        Recorder(), session=session)
    gpu = worker_named(cluster, "gpu")
    assert [(r.status, r.worker) for r in outcome.records] == [("done", gpu)] * 2


def test_cancel_cancels_the_futures(cluster, pairs, cpu_session, tmp_path):
    folder, _ = pairs

    class CancelAtStart(Recorder):
        def is_canceled(self):
            return any("started on" in m for m in self.infos)

    fb = CancelAtStart()
    with pytest.raises(Cancelled):
        run_batch(BatchRequest(output_folder=str(tmp_path), manifest=str(folder / "good.csv"), outer_iterations=40,
                               inner_iterations=10, device="cpu"), fb, session=cpu_session)
    summary = json.loads((tmp_path / "batch_summary.json").read_text())
    assert {p["status"] for p in summary["pairs"]} <= {"cancelled", "not run"}


    def executing():                                 # the workers' own view, not the scheduler's
        return any(cluster.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing]).values())

    deadline = time.monotonic() + 15                 # a running pair notices within a second (40 x 10
    while executing() and time.monotonic() < deadline:   # iterations would take minutes)
        time.sleep(0.2)
    assert not executing()
    assert sorted(os.listdir(tmp_path)) == ["batch_summary.csv", "batch_summary.json"]


def test_tile_farm_equals_single_run(cpu_session, tmp_path):
    from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene

    paths = write_scene(make_scene(size=128, scale=4, bands=20, seed=7), str(tmp_path / "scene"))
    request = dict(hsi=paths["hsi"], msi=paths["msi"], tile_size=64, **FAST)
    run_fusion(FusionRequest(output=str(tmp_path / "single.tif"), **request))
    farm = DaskTileFarm(cpu_session, device="cpu")
    fb = Recorder()
    run_fusion(FusionRequest(output=str(tmp_path / "farm.tif"), **request), fb, farm=farm)
    single, farmed = read(tmp_path / "single.tif"), read(tmp_path / "farm.tif")
    np.testing.assert_allclose(farmed, single, rtol=1e-5, atol=1e-6 * float(np.abs(single).max()))
    st = farm.stats
    assert st.tiles == 4 and sum(st.workers.values()) == 4 and st.devices == {"cpu"}
    assert all(w.startswith("tcp://") for w in st.workers)   # rendered on the workers (the scheduler may
                                                              # give quick tiles all to one of them)
    assert max(st.context_bytes) < 20 * max(st.block_bytes)
    assert sorted(os.listdir(tmp_path)) == ["farm.tif", "scene", "single.tif"]


def test_local_cluster_gives_each_gpu_worker_its_own_device(monkeypatch):
    """Without a GPU here: the local cluster that open_cluster starts when torch sees two GPUs."""
    from hsi_blind_fusion.core import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "visible_gpus", lambda: [0, 1])
    with cluster_module.open_cluster(dashboard_address=None) as session:
        assert session.gpu and session.workers == 2 and session.resources == {"GPU": 1}
        seen = session.client.run(lambda: (os.environ["CUDA_VISIBLE_DEVICES"], os.environ["OMP_NUM_THREADS"]))
        assert sorted(v[0] for v in seen.values()) == ["0", "1"]


def test_local_workers_drop_the_heartbeat_traceback_of_a_closing_cluster():
    """Closing a local cluster can break a worker's heartbeat in flight; that record (a traceback on
    the user's terminal) is dropped by every local worker, other records pass."""
    import logging

    from hsi_blind_fusion.core.cluster import _HeartbeatAfterClose, open_cluster

    def record(msg):
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None, None)

    f = _HeartbeatAfterClose()
    assert not f.filter(record("Failed to communicate with scheduler during heartbeat."))
    assert f.filter(record("Compute Failed"))
    with open_cluster(workers=1, dashboard_address=None) as session:
        names = session.client.run(lambda: [type(x).__name__ for x in logging.getLogger("distributed.worker").filters])
    assert all("_HeartbeatAfterClose" in v for v in names.values()) and names
