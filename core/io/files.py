"""Output files: checks before the heavy work, and the one staging mechanism.

A run's outputs are written to temporary files next to their destinations (same folder, so the
final rename is atomic) and renamed onto the destinations together when the run succeeds
(:class:`Staging`); on an error or a cancel they are deleted, so a failed run leaves neither a
half-written output nor a touched file. The QGIS algorithms and the command line both go through
it (core/workflow).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterable, Mapping, Optional, Sequence

from ..errors import InvalidInputError
from ..progress import Cancel, check_cancelled


def same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file (existing or not, links and case resolved)."""
    try:
        if os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_output_path(path: str, extensions: Sequence[str], inputs: Iterable[Optional[str]] = (),
                      what: str = "output") -> str:
    """Refuse, before any heavy work, an output ``path`` with an extension not in ``extensions``, in
    a folder that does not exist or cannot be written, that is a folder, or that is one of ``inputs``."""
    if not path:
        raise InvalidInputError(f"no file name given for the {what}")
    path = str(path)
    ext = os.path.splitext(path)[1].lower()
    exts = [e.lower() for e in extensions]
    if ext not in exts:
        raise InvalidInputError(
            f"the {what} {path} has the extension '{ext or '(none)'}', which this algorithm cannot write: "
            f"use a file name ending in {' or '.join(exts)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidInputError(
            f"the folder of the {what} does not exist: {folder}; create it or choose another folder")
    if os.path.isdir(path):
        raise InvalidInputError(f"the {what} {path} is a folder; give a file name")
    for src in inputs:
        if src and same_file(path, str(src)):
            raise InvalidInputError(
                f"the {what} {path} is also an input of this run; choose another file name so that the "
                "input is not overwritten")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hsifusion-write-test.", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write in the folder of the {what} ({folder}: {exc.strerror or exc}); choose a folder "
            "you can write to") from exc
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InvalidInputError(f"the {what} {path} exists and is read-only; choose another file name")
    return path


def check_outputs(outputs: Sequence[tuple[Optional[str], Sequence[str], str]],
                  inputs: Iterable[Optional[str]] = ()) -> None:
    """Check every ``(path, extensions, label)`` (None paths skipped) and that no two outputs share
    a file."""
    inputs = list(inputs)
    finals: list[str] = []
    for path, exts, label in outputs:
        if not path:
            continue
        check_output_path(path, exts, inputs, label)
        if any(same_file(path, other) for other in finals):
            raise InvalidInputError(f"two outputs of this run have the same file name {path}; give each its own")
        finals.append(path)


def raster_output_bytes(bands: int, height: int, width: int) -> int:
    """Upper bound of the size of a float32 GeoTIFF (compression only makes it smaller)."""
    return int(bands) * int(height) * int(width) * 4 + 1_000_000


def check_free_space(outputs: Mapping[Optional[str], int]) -> None:
    """``outputs`` maps output paths to their estimated sizes in bytes; refuse when a destination
    folder has less free space than the outputs written there need."""
    need: dict[str, int] = {}
    for path, size in outputs.items():
        if not path:
            continue
        folder = os.path.dirname(os.path.abspath(str(path)))
        need[folder] = need.get(folder, 0) + int(size)
    for folder, size in need.items():
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue  # cannot tell (e.g. some network shares): let the write report it
        if free < size:
            raise InvalidInputError(
                f"not enough free disk space in {folder}: the outputs need up to {size / 1e6:.1f} MB, only "
                f"{free / 1e6:.1f} MB are free; free some space or write the outputs to another folder")


def temporary_path(path: str) -> str:
    """A new empty temporary file next to ``path`` (same folder and extension, hidden name)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".part{ext}", dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the final file the usual permissions
    return tmp


def remove_quietly(path: Optional[str]) -> None:
    if not path:
        return
    try:
        os.remove(path)
    except OSError:
        pass


class Staging:
    """The outputs of one run, committed together.

    ``path(final)`` returns a temporary path to write ``final`` to; :meth:`commit` renames every
    staged file onto its destination (after a last cancel check); leaving the ``with`` block
    without a commit (an error, a cancel) deletes them all. A raster's side files (an ENVI
    ``.hdr``, ``.aux.xml``, ``.ovr``: ``raster_formats.sidecar_files``) go with it; those of a
    replaced destination that the new file does not have are deleted, so no stale header,
    statistics or overviews describe the new file."""

    def __init__(self, cancel: Optional[Cancel] = None):
        self.cancel = cancel
        self._staged: list[tuple[str, str]] = []

    def path(self, final: Optional[str]) -> Optional[str]:
        if not final:
            return None
        tmp = temporary_path(final)
        self._staged.append((tmp, str(final)))
        return tmp

    def commit(self) -> None:
        check_cancelled(self.cancel)
        from .raster_formats import sidecar_files

        staged, self._staged = self._staged, []
        for tmp, final in staged:
            os.replace(tmp, final)
            for side_tmp, side_final in zip(sidecar_files(tmp), sidecar_files(final)):
                if os.path.exists(side_tmp):
                    os.replace(side_tmp, side_final)
                else:
                    remove_quietly(side_final)

    def discard(self) -> None:
        from .raster_formats import sidecar_files

        staged, self._staged = self._staged, []
        for tmp, _ in staged:
            for p in [tmp] + sidecar_files(tmp):
                remove_quietly(p)

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


def write_text(path: str, text: str) -> str:
    """Write a UTF-8 text file (a partial file is deleted if writing fails)."""
    folder = os.path.dirname(os.path.abspath(str(path)))
    if not os.path.isdir(folder):
        raise InvalidInputError(f"the output folder does not exist: {folder}")
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except BaseException:
        remove_quietly(path)
        raise
    return str(path)


def write_text_atomic(path: str, text: str) -> str:
    """Write a text file through a staged temporary file, renamed onto ``path`` when complete."""
    folder = os.path.dirname(os.path.abspath(str(path)))
    if not os.path.isdir(folder):
        raise InvalidInputError(f"the output folder does not exist: {folder}")
    with Staging() as staging:
        write_text(staging.path(path), text)
        staging.commit()
    return str(path)
