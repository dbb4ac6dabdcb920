#!/usr/bin/env python3
"""Derive the response tables the plugin ships (``core/data/responses/*.csv``) from the published ones.

Sources (the public tables, as copied to ``../shared/data/srf/``; never committed here):

- Sentinel-2A and 2B MSI: ESA, "Sentinel-2 Spectral Response Functions (S2-SRF)",
  COPE-GSEG-EOPG-TN-15-0007, version 3.0 (1 nm, 300-2600 nm, 13 bands each):
  ``sentinel2a_msi_srf.csv``, ``sentinel2b_msi_srf.csv``.
- Landsat 8 OLI: USGS, Landsat 8 OLI relative spectral response (Ball Aerospace band-average
  RSR; Barsi et al. 2014, "The Spectral Response of the Landsat-8 Operational Land Imager",
  Remote Sensing 6(10), 10232-10251) (1 nm, 300-2599 nm): ``landsat8_oli_srf.csv``.

Each band is kept over its support (where its response reaches 0.1 % of its peak), on a 1 nm grid
(linear interpolation; the sources are already at 1 nm), scaled to a peak of 1 and rounded to 4
decimals, in the long format ``band,wavelength_nm,response`` with ``#`` comment lines naming the
source. About 1000 rows per sensor.

    python scripts/make_response_tables.py [--source ../shared/data/srf] [--out core/data/responses]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP_NM = 1.0
SUPPORT = 1e-3  # of the band's peak

#: output file -> (source file, citation, {source column: band name})
TABLES = {
    "sentinel2a_msi.csv": (
        "sentinel2a_msi_srf.csv",
        "ESA, Sentinel-2 Spectral Response Functions (S2-SRF), COPE-GSEG-EOPG-TN-15-0007 v3.0: Sentinel-2A MSI",
        {f"S2A_SR_AV_{b}": b for b in ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11",
                                         "B12")}),
    "sentinel2b_msi.csv": (
        "sentinel2b_msi_srf.csv",
        "ESA, Sentinel-2 Spectral Response Functions (S2-SRF), COPE-GSEG-EOPG-TN-15-0007 v3.0: Sentinel-2B MSI",
        {f"S2B_SR_AV_{b}": b for b in ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11",
                                         "B12")}),
    "landsat8_oli.csv": (
        "landsat8_oli_srf.csv",
        "USGS, Landsat 8 OLI relative spectral response (Ball Aerospace band-average RSR; Barsi et al. 2014, "
        "Remote Sensing 6(10) 10232)",
        {"coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "nir": "B5", "swir1": "B6", "swir2": "B7",
         "pan": "B8", "cirrus": "B9"}),
}


def read_table(path: str) -> tuple:
    """``(wavelengths, {column: response})`` of a wide CSV whose first column is the wavelength in nm."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    return body[:, 0], {name: body[:, i] for i, name in enumerate(header) if i}


def band_rows(wl: np.ndarray, response: np.ndarray) -> tuple:
    """The band on a 1 nm grid over its support, peak 1."""
    r = np.clip(response, 0.0, None)
    keep = np.nonzero(r >= SUPPORT * r.max())[0]
    lo, hi = np.floor(wl[keep[0]]), np.ceil(wl[keep[-1]])
    grid = np.arange(lo, hi + STEP_NM / 2, STEP_NM)
    values = np.interp(grid, wl, r, left=0.0, right=0.0)
    return grid, values / values.max()


def derive(source_dir: str, out_dir: str) -> list:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for out_name, (src_name, citation, columns) in TABLES.items():
        wl, table = read_table(os.path.join(source_dir, src_name))
        lines = [f"# {citation}",
                 f"# derived by scripts/make_response_tables.py from {src_name}: each band over its support "
                 f"(>= {SUPPORT:g} of its peak), {STEP_NM:g} nm grid, peak scaled to 1",
                 "band,wavelength_nm,response"]
        for column, band in columns.items():
            grid, values = band_rows(wl, table[column])
            lines += [f"{band},{w:.0f},{v:.4f}" for w, v in zip(grid, values)]
        path = os.path.join(out_dir, out_name)
        with open(path, "w", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        written.append(path)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=os.path.join(ROOT, "..", "shared", "data", "srf"),
                    help="folder of the published tables (default: ../shared/data/srf)")
    ap.add_argument("--out", default=os.path.join(ROOT, "core", "data", "responses"),
                    help="folder of the derived tables (default: core/data/responses)")
    args = ap.parse_args(argv)
    for path in derive(args.source, args.out):
        print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
