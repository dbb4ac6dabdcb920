"""User tables: spectral responses (CSV) and blur kernels (.npy, CSV, text)."""
from __future__ import annotations

import csv
import os
from typing import Optional, Sequence

import numpy as np

from ..errors import InvalidInputError
from ..kernels import kernel_from_array
from ..responses import srf_from_curves, srf_from_table


def read_numeric_csv(path: str) -> tuple[np.ndarray, Optional[list]]:
    """Rows of a CSV (comma, semicolon, tab or space separated) as floats; a non-numeric header row
    and a non-numeric first column (labels) are dropped. Returns ``(array, header)``."""
    name = os.path.basename(str(path))
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError as exc:
        raise InvalidInputError(f"spectral response file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the file {name} is not a text (CSV) file") from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InvalidInputError(f"the file {name} is empty")
    try:
        delim = csv.Sniffer().sniff(lines[0], delimiters=",;\t ").delimiter
    except csv.Error:
        delim = ","
    rows = [[c.strip() for c in r] for r in csv.reader(lines, delimiter=delim)]
    rows = [[c for c in r if c != ""] if delim == " " else r for r in rows]

    def isnum(c):
        try:
            float(c)
            return True
        except ValueError:
            return False

    header = None
    if rows and not all(isnum(c) for c in rows[0] if c):
        header, rows = rows[0], rows[1:]
    if rows and all(not isnum(r[0]) for r in rows if r):
        rows = [r[1:] for r in rows]
        header = header[1:] if header else None
    try:
        arr = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise InvalidInputError(f"the file {name} holds non-numeric values: {exc}") from exc
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidInputError(f"the file {name} must be a table with the same number of values on every row")
    return arr, header


def srf_table_msi_bands(path: str, hsi_bands: int) -> int:
    """How many MSI bands a response CSV describes for ``hsi_bands`` HSI bands: a table (MSI x HSI
    bands, or its transpose) or curves (a wavelength column plus one column per MSI band)."""
    arr, _ = read_numeric_csv(path)
    if arr.shape[1] == hsi_bands:
        return arr.shape[0]
    if arr.shape[0] == hsi_bands:
        return arr.shape[1]
    return arr.shape[1] - 1


def read_srf_csv(path: str, msi_bands: int, hsi_bands: int,
                 hsi_wavelengths_nm: Optional[Sequence[float]] = None) -> np.ndarray:
    """Starting spectral response (msi_bands x hsi_bands, rows normalized) from a CSV file.

    Two layouts: a response table (MSI bands x HSI bands, or its transpose), or response curves
    (first column wavelength in nm, or micrometres, then one column per MSI band) sampled at the HSI
    wavelengths, which the HSI must then carry.
    """
    arr, _ = read_numeric_csv(path)
    name = os.path.basename(str(path))
    if arr.shape in ((msi_bands, hsi_bands), (hsi_bands, msi_bands)):
        return srf_from_table(arr, msi_bands, hsi_bands)
    if arr.shape[1] == msi_bands + 1:
        if hsi_wavelengths_nm is None or not np.all(np.isfinite(hsi_wavelengths_nm)):
            raise InvalidInputError(
                f"{name} holds response curves (wavelength + {msi_bands} columns) but the HSI has no "
                "wavelength metadata to sample them at; give a table of MSI bands x HSI bands instead")
        wl = arr[:, 0] * (1000.0 if np.nanmax(arr[:, 0]) < 100 else 1.0)
        if np.any(np.diff(wl) <= 0):
            raise InvalidInputError(f"the wavelength column of {name} must increase")
        hw = np.asarray(hsi_wavelengths_nm, dtype=np.float64)
        if hw.min() > wl.max() or hw.max() < wl.min():
            raise InvalidInputError(
                f"the wavelengths of {name} ({wl.min():g}..{wl.max():g} nm) do not cover the HSI bands "
                f"({hw.min():g}..{hw.max():g} nm)")
        return srf_from_curves(wl, arr[:, 1:], hw)
    raise InvalidInputError(
        f"{name} has {arr.shape[0]} rows x {arr.shape[1]} columns: expected a table of {msi_bands} MSI bands x "
        f"{hsi_bands} HSI bands (or its transpose), or a wavelength column plus {msi_bands} response columns")


def read_kernel_file(path: str) -> np.ndarray:
    """A blur kernel from ``.npy`` or a text/CSV matrix (validated and normalized)."""
    name = os.path.basename(str(path))
    if not os.path.exists(str(path)):
        raise InvalidInputError(f"kernel file not found: {path}")
    if str(path).lower().endswith(".npy"):
        try:
            k = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InvalidInputError(f"cannot read the kernel file {name}: {exc}") from exc
    else:
        k, _ = read_numeric_csv(path)
    return kernel_from_array(k)
