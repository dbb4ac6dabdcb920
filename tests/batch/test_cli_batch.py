"""``python -m hsi_blind_fusion batch``: local worker processes started and stopped by the command,
a failed pair reported without stopping the others (exit code 1), a cluster joined by address whose
scheduler dies mid-run (exit code 75, told to rerun), and the plugin without dask."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.paths import PLUGINS

pytest.importorskip("distributed")

FAST = ["--outer-iterations", "1", "--inner-iterations", "1", "--device", "cpu"]


def env():
    e = dict(os.environ, PYTHONPATH=PLUGINS, PYTHONUNBUFFERED="1")
    e.pop("QGIS_PLUGINPATH", None)
    return e


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "hsi_blind_fusion", *args], env=env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def manifest(make_pair, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_batch")
    _, a = make_pair(41, size=32)
    _, b = make_pair(42, size=32)
    (folder / "pairs.csv").write_text(f"hsi,msi,name\n{a['hsi']},{a['msi']},good\n{a['msi']},{a['hsi']},bad\n")
    (folder / "two.csv").write_text(f"hsi,msi,name\n{a['hsi']},{a['msi']},a\n{b['hsi']},{b['msi']},b\n")
    return folder


def test_local_workers_and_a_failed_pair(manifest, tmp_path):
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    r = cli("batch", str(manifest / "pairs.csv"), str(tmp_path), "--workers", "2", *FAST)
    assert r.returncode == 1, r.stderr[-3000:]
    assert "DONE: 1" in r.stdout and "FAILED: 1" in r.stdout
    assert "2 workers" in r.stderr and "Dask dashboard" in r.stderr
    assert "bad: FAILED:" in r.stderr and "swapped" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    with open(tmp_path / "batch_summary.json") as f:
        pairs = {p["name"]: p for p in json.load(f)["pairs"]}
    assert pairs["good"]["status"] == "done" and pairs["good"]["worker"].startswith("tcp://")
    assert os.path.exists(tmp_path / "good_fused.tif") and not os.path.exists(tmp_path / "bad_fused.tif")
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before   # workers stopped


def test_scheduler_lost(manifest, tmp_path):
    """A cluster joined by address: its scheduler killed mid-run; the command says so (exit 75)."""
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file",
                               str(sched_file), "--port", "0", "--dashboard-address", ":0", "--no-show"],
                              env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                       "1", "--no-nanny"], env=env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        out = tmp_path / "out"
        run = subprocess.Popen([sys.executable, "-m", "hsi_blind_fusion", "batch", str(manifest / "two.csv"), str(out),
                                "--scheduler", address, "--outer-iterations", "2000", "--device", "cpu"],
                               env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        for line in run.stderr:
            lines.append(line)
            if "started on tcp://" in line:
                procs[0].send_signal(signal.SIGKILL)
                break
        _, rest = run.communicate(timeout=120)
        err = "".join(lines) + rest
        assert run.returncode == 75, err
        assert "lost the connection to the Dask scheduler" in err and "run the same command again" in err
        with open(out / "batch_summary.json") as f:
            summary = json.load(f)
        assert "SchedulerLostError" in summary["run"]["stopped_by"]
        assert not any(p["status"] == "done" for p in summary["pairs"])
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


def test_plugin_works_without_dask(scene, tmp_path):
    """dask absent: the core and single fusions work; a batch on workers says what to install."""
    _, paths = scene
    code = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "from hsi_blind_fusion.cli import main\n"
        f"rc = main(['fuse', '--hsi', {paths['hsi']!r}, '--msi', {paths['msi']!r}, '--output', "
        f"{str(tmp_path / 'f.tif')!r}, '--outer-iterations', '1', '--inner-iterations', '1', '--quiet'])\n"
        "assert rc == 0, rc\n"
        f"open({str(tmp_path / 'm.csv')!r}, 'w').write('hsi,msi\\n{paths['hsi']},{paths['msi']}\\n')\n"
        f"rc = main(['batch', {str(tmp_path / 'm.csv')!r}, {str(tmp_path / 'out')!r}, '--workers', '2'])\n"
        "assert rc == 2, rc\n")
    r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'pip install "dask[distributed]==2026.8.0"' in r.stderr
    assert os.path.exists(tmp_path / "f.tif")
