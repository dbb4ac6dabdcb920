"""The pairs of a batch: read from a CSV manifest or matched in a folder by file name.

CSV manifest: a header row, then one row per pair. Columns (any order, any case):

- ``hsi``, ``msi`` (required): the rasters; relative paths are relative to the manifest's folder;
- ``name`` (optional): the pair's name in the logs and the summary (default: the HSI file name
  without its extension and without a trailing ``_hsi``);
- ``output`` (optional): the fused GeoTIFF; relative paths are relative to the output folder
  (default ``<name>_fused.tif`` there);
- ``srf``, ``degradation`` (optional): a starting response CSV or degradation JSON for this pair
  (they replace the batch's SRF / DEGRADATION options for it).

Folder: every raster named ``<name>_hsi.<ext>`` is paired with ``<name>_msi.<ext>`` in the same
folder (the case of ``_hsi`` / ``_msi`` and of the extension does not matter; ``<ext>`` one of
:data:`RASTER_EXTENSIONS`); ``<name>_srf.csv`` and ``<name>_degradation.json``, when present, are
used for that pair. The output is ``<name>_fused.tif`` in the output folder. A file without its
partner is reported and left out.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from typing import Optional

from .. import io
from ..errors import InvalidInputError

RASTER_EXTENSIONS = (".tif", ".tiff", ".vrt", ".img", ".dat", ".bsq", ".bil", ".bip", ".jp2", ".nc", ".h5")
COLUMNS = ("name", "hsi", "msi", "msi2", "output", "srf", "degradation")
OUTPUT_SUFFIX = "_fused.tif"


@dataclass(frozen=True)
class PairItem:
    """One pair of a batch: its inputs and its output (absolute paths)."""

    name: str
    hsi: str
    msi: str
    output: str
    srf: Optional[str] = None
    degradation: Optional[str] = None
    msi2: Optional[str] = None


@dataclass
class Manifest:
    """The pairs of a batch, and what the user should know about how they were found."""

    pairs: list
    source: str
    warnings: list


def read_manifest(source: str, output_folder: str) -> Manifest:
    """The pairs listed in the CSV ``source`` or matched in the folder ``source`` (see the module
    docstring), with their outputs in ``output_folder``. Checks that every input exists, that no
    two pairs write the same output and that no output is an input."""
    if not source:
        raise InvalidInputError("no manifest given: give a CSV manifest or a folder of NAME_hsi / NAME_msi "
                                "rasters")
    if os.path.isdir(source):
        manifest = _match_folder(source, output_folder)
    elif os.path.isfile(source):
        manifest = _read_csv(source, output_folder)
    else:
        raise InvalidInputError(f"the manifest {source} does not exist (give a CSV file or a folder)")
    if not manifest.pairs:
        raise InvalidInputError(
            f"no pairs in {source}: " + ("a folder needs rasters named NAME_hsi.tif and NAME_msi.tif"
                                         if os.path.isdir(source) else "the CSV has a header and no rows"))
    _check(manifest)
    return manifest


def default_name(hsi_path: str) -> str:
    stem = os.path.splitext(os.path.basename(hsi_path))[0]
    return re.sub(r"[_-]hsi$", "", stem, flags=re.IGNORECASE) or stem


def _read_csv(path: str, output_folder: str) -> Manifest:
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"could not read the manifest {path}: {exc}") from exc
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InvalidInputError(f"the manifest {path} is empty: it needs a header row hsi,msi[,output,srf,"
                                "degradation,name] and one row per pair")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("hsi", "msi") if c not in header]
    if missing:
        raise InvalidInputError(
            f"the manifest {path} has no column {' and no column '.join(missing)} in its header "
            f"({', '.join(rows[0])}); the header names the columns: hsi,msi and optionally output,srf,"
            "degradation,name")
    unknown = [h for h in header if h and h not in COLUMNS]
    warnings = [f"the manifest's column(s) {', '.join(unknown)} are ignored (known: {', '.join(COLUMNS)})"] \
        if unknown else []
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        values = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h in COLUMNS}
        if not values.get("hsi") or not values.get("msi"):
            raise InvalidInputError(f"row {line} of the manifest {path} lacks an hsi or msi path")
        resolve = lambda p: os.path.normpath(os.path.join(base, p)) if p else None  # noqa: E731
        hsi, msi = resolve(values["hsi"]), resolve(values["msi"])
        name = values.get("name") or default_name(hsi)
        output = values.get("output") or name + OUTPUT_SUFFIX
        pairs.append(PairItem(name, hsi, msi, os.path.normpath(os.path.join(os.path.abspath(output_folder), output)),
                              resolve(values.get("srf")), resolve(values.get("degradation")),
                              resolve(values.get("msi2"))))
    return Manifest(pairs, path, warnings)


def _match_folder(folder: str, output_folder: str) -> Manifest:
    rasters: dict = {}
    side: dict = {}
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(os.path.abspath(folder), entry)
        if not os.path.isfile(path):
            continue
        stem, ext = os.path.splitext(entry)
        m = re.match(r"^(?P<name>.+)_(?P<role>hsi|msi2|msi|srf|degradation)$", stem, flags=re.IGNORECASE)
        if not m:
            continue
        name, role = m.group("name"), m.group("role").lower()
        if role in ("hsi", "msi", "msi2") and ext.lower() in RASTER_EXTENSIONS:
            if (name, role) in rasters:
                raise InvalidInputError(f"{folder} has two {role.upper()} rasters for {name}: "
                                        f"{os.path.basename(rasters[name, role])} and {entry}; keep one")
            rasters[name, role] = path
        elif (role, ext.lower()) in (("srf", ".csv"), ("degradation", ".json")):
            side[name, role] = path
    names = sorted({n for n, role in rasters if role != "msi2"})
    pairs, warnings = [], []
    for name in names:
        hsi, msi = rasters.get((name, "hsi")), rasters.get((name, "msi"))
        if hsi is None or msi is None:
            have, lack = ("HSI", "MSI") if msi is None else ("MSI", "HSI")
            warnings.append(f"{name}: an {have} raster without its {lack} ({name}_{lack.lower()}.tif); left out")
            continue
        pairs.append(PairItem(name, hsi, msi, os.path.join(os.path.abspath(output_folder), name + OUTPUT_SUFFIX),
                              side.get((name, "srf")), side.get((name, "degradation")), rasters.get((name, "msi2"))))
    return Manifest(pairs, folder, warnings)


def _check(manifest: Manifest) -> None:
    outputs: dict = {}
    inputs = {os.path.normcase(os.path.realpath(p)) for item in manifest.pairs
              for p in (item.hsi, item.msi, item.srf, item.degradation) if p}
    for item in manifest.pairs:
        for p, what in ((item.hsi, "HSI"), (item.msi, "MSI"), (item.srf, "SRF"), (item.degradation, "degradation")):
            if p and not os.path.isfile(p):
                raise InvalidInputError(f"pair {item.name}: the {what} file {p} does not exist")
        if os.path.splitext(item.output)[1].lower() not in (".tif", ".tiff"):
            raise InvalidInputError(f"pair {item.name}: the output {item.output} must end in .tif or .tiff")
        key = os.path.normcase(os.path.realpath(item.output))
        if key in outputs:
            raise InvalidInputError(f"pairs {outputs[key]} and {item.name} would write the same output "
                                    f"{item.output}; give each an output (or name) of its own")
        if key in inputs or any(io.same_file(item.output, p) for p in (item.hsi, item.msi)):
            raise InvalidInputError(f"pair {item.name}: the output {item.output} is an input of the batch")
        outputs[key] = item.name
