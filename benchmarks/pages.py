"""What every benchmark page says about where it ran, and how it is written out."""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch


def add_set_option(parser) -> None:
    """``--set``: the scenes a benchmark runs on (tune on training, report on dev)."""
    parser.add_argument("--set", choices=("training", "dev", "both"), default="training",
                        help="training scenes (tuned on), dev scenes (reported, never tuned on), or both")


def subsets(choice: str) -> tuple:
    """The subsets ``--set`` names, training first."""
    return ("training", "dev") if choice == "both" else (choice,)


def machine() -> str:
    """The machine line of a page: cores, platform, torch and its threads (timings depend on them)."""
    return (f"{os.cpu_count()} CPU cores, {platform.platform()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)")


def publish(page: str, out: Optional[str]) -> None:
    """Print the page and write it to ``out`` when given."""
    print(page)
    if out:
        Path(out).write_text(page if page.endswith("\n") else page + "\n", encoding="utf-8")


def sections_by_set(choice: str, rows: Callable[[str], list]) -> list[tuple[str, list]]:
    """``(title, rows(subset))`` for each subset ``--set`` names: "Training scenes", "Development scenes"."""
    out = []
    for subset in subsets(choice):
        print(f"{subset} scenes", flush=True)
        out.append((f"{'Training' if subset == 'training' else 'Development'} scenes", rows(subset)))
    return out


def page_meta(script: str, argv: Optional[list], seconds: float) -> dict:
    """The page's command (``python benchmarks/<script> <arguments>``), date with the run's length, and machine."""
    args = sys.argv[1:] if argv is None else argv
    return {"command": f"python benchmarks/{script} " + " ".join(shlex.quote(a) for a in args),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + f" ({seconds:.0f} s)",
            "machine": machine()}


def main_by_set(script: str, doc: str, rows: Callable[[str], list], render: Callable[[list, dict], str],
                argv: Optional[list] = None) -> int:
    """A page over the scene sets: ``--set`` and ``--out``, ``rows(subset)`` for each set,
    ``render(sections, meta)`` printed and written."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_set_option(ap)
    ap.add_argument("--out", default=None, help="Markdown output file (also printed)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    sections = sections_by_set(args.set, rows)
    publish(render(sections, page_meta(script, argv, time.perf_counter() - t0)), args.out)
    return 0
