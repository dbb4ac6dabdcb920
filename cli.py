"""The command line: ``python -m hsi_blind_fusion fuse|estimate|simulate|quality|batch [options]``.

Each subcommand is one of the QGIS algorithms, with the same parameters as options
(``OUTER_ITERATIONS`` is ``--outer-iterations``), the same defaults and the same workflow
(core/workflow), so the same pair and parameters give the same output as ``qgis_process``.
Progress goes to the terminal (a bar when it is one); exit code 0 on success, 2 on bad input
(with a message that says how to fix it), 130 when interrupted (Ctrl-C; no output is written).

On a Dask cluster (core/cluster.py): ``batch MANIFEST OUTDIR`` fuses many pairs, one task each
(exit code 1 when a pair failed, 75 when the scheduler was lost: run it again to resume), and
``fuse --scheduler ADDRESS`` or ``fuse --workers N`` computes one large scene's output tiles on
the workers (core/tile_farm.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional, Sequence, TextIO

from .core.workflow import specs
from .core.workflow.feedback import Feedback


class ConsoleFeedback(Feedback):
    """Progress as a bar on a terminal (lines in a log file), messages on stderr."""

    WIDTH = 30

    def __init__(self, stream: TextIO = sys.stderr, quiet: bool = False):
        self.stream, self.quiet = stream, quiet
        self.bar = hasattr(stream, "isatty") and stream.isatty()
        self._last = None
        self._open_bar = False

    def _end_bar(self) -> None:
        if self._open_bar:
            self.stream.write("\n")
            self._open_bar = False

    def progress(self, fraction: float, message: str = "") -> None:
        if self.quiet:
            return
        pct = 100.0 * min(max(fraction, 0.0), 1.0)
        if self.bar:
            filled = int(round(self.WIDTH * pct / 100))
            line = f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {pct:5.1f}% {message[:60]:<60}"
            if line != self._last:
                self.stream.write(line)
                self.stream.flush()
                self._last, self._open_bar = line, True
        else:
            text = f"{pct:5.1f}% {message}"
            if message and text != self._last:
                self.stream.write(text + "\n")
                self.stream.flush()
                self._last = text

    def info(self, message: str) -> None:
        if not self.quiet:
            self._end_bar()
            self.stream.write(message + "\n")

    def warning(self, message: str) -> None:
        self._end_bar()
        self.stream.write(f"warning: {message}\n")

    def finish(self) -> None:
        self._end_bar()


#: exit code of a batch stopped by a lost Dask scheduler (EX_TEMPFAIL: run it again to resume)
EXIT_SCHEDULER_LOST = 75


def _boolean(text: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0), as qgis_process takes booleans."""
    value = str(text).strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_options(parser: argparse.ArgumentParser, tool: specs.ToolSpec, skip: tuple = ()) -> None:
    types = {"int": int, "float": float, "bool": _boolean}
    for p in tool.parameters:
        if p.name in skip:
            continue
        required = not p.optional and p.default is None
        kwargs = dict(dest=p.key, required=required, metavar=p.name)
        if p.kind in types:
            kwargs["type"] = types[p.kind]
        if p.kind == "enum":
            kwargs["choices"] = list(p.current_options())
        if p.default is not None:
            kwargs["default"] = p.default
        help_text = p.help + (f" (default: {p.default})" if p.default not in (None, "") else "")
        parser.add_argument(p.option, help=help_text.replace("%", "%%"), **kwargs)
    parser.add_argument("--quiet", action="store_true", help="print only warnings and errors")


def _add_cluster_options(parser: argparse.ArgumentParser, what: str, default: str, scheduler: bool = True) -> None:
    if scheduler:
        parser.add_argument("--scheduler", metavar="ADDRESS",
                            help=f"join the Dask cluster at ADDRESS (tcp://host:8786) and {what} on its workers")
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"start N local Dask worker processes and {what} on them ({default})")
    parser.add_argument("--threads-per-worker", type=int, default=0, metavar="T",
                        help="torch threads of each local worker (default: cores / workers)")


def _add_batch(sub) -> None:
    tool = specs.BATCH
    p = sub.add_parser(tool.command, help=tool.short_description, description=tool.help,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifest", metavar="MANIFEST",
                   help="CSV with a header row (hsi,msi and optionally output,srf,degradation,name) or a folder "
                        "of NAME_hsi.tif / NAME_msi.tif pairs")
    p.add_argument("output_folder", metavar="OUTDIR", help="where the fused images and the summary go")
    _add_options(p, tool, skip=("MANIFEST", "FOLDER", "OUTPUT_FOLDER"))
    _add_cluster_options(p, "run one pair per task", "default: one per core, or one per GPU; 0: the pairs one after "
                         "another in this process", scheduler=False)
    p.set_defaults(tool=tool)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hsi_blind_fusion",
        description="Blind fusion of a low-resolution hyperspectral and a high-resolution multispectral image, "
                    "without QGIS. Each command is one of the plugin's QGIS algorithms, with the same "
                    "parameters (OUTER_ITERATIONS is --outer-iterations).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{fuse,estimate,simulate,quality,batch}")
    for tool in specs.TOOLS:
        p = sub.add_parser(tool.command, help=tool.short_description, description=tool.help,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_options(p, tool)
        if tool is specs.FUSION:
            _add_cluster_options(p, "compute the output's tiles", "default: none, everything in this process")
        p.set_defaults(tool=tool)
    _add_batch(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    tool: specs.ToolSpec = args.tool
    if tool is specs.BATCH:
        return _batch(args)
    from .core.errors import Cancelled, FusionError
    from .core.workflow import runner

    request_type, run = runner(tool.id)
    values = {p.name: getattr(args, p.key) for p in tool.parameters}
    feedback = ConsoleFeedback(quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        if tool is specs.FUSION and (args.scheduler or args.workers):
            outcome = _fuse_on_cluster(request_type.from_values(values), args, feedback)
        else:
            outcome = run(request_type.from_values(values), feedback)
    except FusionError as exc:
        from .core.cluster import SchedulerLostError

        feedback.finish()
        print(f"error: {exc}", file=sys.stderr)
        return 130 if isinstance(exc, Cancelled) else EXIT_SCHEDULER_LOST if isinstance(exc, SchedulerLostError) else 2
    except KeyboardInterrupt:
        feedback.finish()
        print("interrupted: no output was written", file=sys.stderr)
        return 130
    feedback.finish()
    for name, _ in tool.numbers:          # the metrics computed (e.g. no QNR without --hsi/--msi)
        value = outcome.outputs.get(name)
        if value is not None:
            print(f"{name}: {value:.6g}")
    if not args.quiet:
        written = [v for k, v in outcome.outputs.items() if v and k not in dict(tool.numbers)]
        print(f"done in {time.perf_counter() - t0:.1f} s: {', '.join(map(str, written))}", file=sys.stderr)
    return 0


def _fuse_on_cluster(request, args, feedback: ConsoleFeedback):
    """One fusion whose output tiles are computed on Dask workers (the fitting runs here)."""
    from .core.cluster import open_cluster
    from .core.tile_farm import DaskTileFarm
    from .core.workflow import run_fusion

    feedback.progress(0.0, "joining the Dask cluster" if args.scheduler else "starting the Dask cluster")
    with open_cluster(args.scheduler, args.workers or 0, args.threads_per_worker) as session:
        feedback.info(f"Dask scheduler {session.address}: {session.workers} workers"
                      + (" with a GPU each" if session.gpu else "") + "; dashboard: "
                      + (session.dashboard or "not served (no bokeh)"))
        farm = DaskTileFarm(session, device=request.device)
        outcome = run_fusion(request, feedback, farm=farm)
        st = farm.stats
        if st.tiles:
            feedback.info(f"{st.tiles} tiles on {len(st.workers)} workers in {st.seconds:.1f} s "
                          f"({sum(st.tile_seconds) / st.tiles:.2f} s each, {sum(st.context_bytes) / st.tiles / 1e6:.1f} MB "
                          f"out and {sum(st.block_bytes) / st.tiles / 1e6:.1f} MB back per tile)")
    return outcome


def _batch(args) -> int:
    from .core.cluster import SchedulerLostError, default_workers, visible_gpus
    from .core.errors import Cancelled, FusionError
    from .core.workflow import BatchRequest, run_batch

    values = {p.name: getattr(args, p.key, None) for p in specs.BATCH.parameters}
    folder = os.path.isdir(args.manifest)
    values.update(MANIFEST=None if folder else args.manifest, FOLDER=args.manifest if folder else None,
                  OUTPUT_FOLDER=args.output_folder, THREADS_PER_WORKER=args.threads_per_worker)
    workers = args.workers
    if workers is None and not args.scheduler:
        workers = len(visible_gpus()) or default_workers()
    values["WORKERS"] = workers or 0
    feedback = ConsoleFeedback(quiet=args.quiet)
    try:
        outcome = run_batch(BatchRequest.from_values(values), feedback)
    except SchedulerLostError as exc:
        feedback.finish()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SCHEDULER_LOST
    except Cancelled:
        feedback.finish()
        print("cancelled: the pairs finished so far are complete; run the same command again to resume",
              file=sys.stderr)
        return 130
    except FusionError as exc:
        feedback.finish()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        feedback.finish()
        print("interrupted: the pairs finished so far are complete; run the same command again to resume",
              file=sys.stderr)
        return 130
    feedback.finish()
    for name, label in specs.BATCH.numbers:
        print(f"{name}: {outcome.outputs[name]}")
    print(f"summary: {outcome.summary_csv}")
    return 1 if outcome.outputs["FAILED"] else 0
