"""What every benchmark page says about where it ran, and how it is written out."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Optional

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
