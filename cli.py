"""The command line: ``python -m hsi_blind_fusion fuse|estimate|simulate|quality [options]``.

Each subcommand is one of the QGIS algorithms, with the same parameters as options
(``OUTER_ITERATIONS`` is ``--outer-iterations``), the same defaults and the same workflow
(core/workflow), so the same pair and parameters give the same output as ``qgis_process``.
Progress goes to the terminal (a bar when it is one); exit code 0 on success, 2 on bad input
(with a message that says how to fix it), 130 when interrupted (Ctrl-C; no output is written).
"""
from __future__ import annotations

import argparse
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


def _boolean(text: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0), as qgis_process takes booleans."""
    value = str(text).strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_options(parser: argparse.ArgumentParser, tool: specs.ToolSpec) -> None:
    types = {"int": int, "float": float, "bool": _boolean}
    for p in tool.parameters:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hsi_blind_fusion",
        description="Blind fusion of a low-resolution hyperspectral and a high-resolution multispectral image, "
                    "without QGIS. Each command is one of the plugin's QGIS algorithms, with the same "
                    "parameters (OUTER_ITERATIONS is --outer-iterations).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{fuse,estimate,simulate,quality}")
    for tool in specs.TOOLS:
        p = sub.add_parser(tool.command, help=tool.short_description, description=tool.help,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_options(p, tool)
        p.set_defaults(tool=tool)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    tool: specs.ToolSpec = args.tool
    from .core.errors import Cancelled, FusionError
    from .core.workflow import runner

    request_type, run = runner(tool.id)
    values = {p.name: getattr(args, p.key) for p in tool.parameters}
    feedback = ConsoleFeedback(quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        outcome = run(request_type.from_values(values), feedback)
    except FusionError as exc:
        feedback.finish()
        print(f"error: {exc}", file=sys.stderr)
        return 130 if isinstance(exc, Cancelled) else 2
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
