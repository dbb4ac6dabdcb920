"""Where a product's files are: a folder on disk, or a folder inside a zip or tar archive (read
through GDAL's ``/vsizip/`` and ``/vsitar/``), and the parts of GDAL subdataset names
(``HDF5:"file":/path``, ``NETCDF:"file":variable``, ``SENTINEL2_L2A:file:10m:EPSG_32633``).

Only the standard library is used here (``zipfile``, ``tarfile``); nothing is extracted.
"""
from __future__ import annotations

import os
import re
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Optional

from ...errors import InvalidInputError

_ARCHIVE = re.compile(r"^/vsi(zip|tar)/(.+?\.(?:zip|tar|tar\.gz|tgz))(?:/(.*))?$", re.IGNORECASE)
_ZIP_EXT = (".zip",)
_TAR_EXT = (".tar", ".tar.gz", ".tgz")


def archive_kind(path: str) -> Optional[str]:
    """``"zip"`` or ``"tar"`` for a local archive file (by its name), else None."""
    low = str(path).lower()
    if low.endswith(_ZIP_EXT):
        return "zip"
    if low.endswith(_TAR_EXT):
        return "tar"
    return None


def _archive_members(kind: str, archive: str) -> list:
    """The file names (not folders) inside an archive."""
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                return [n for n in zf.namelist() if not n.endswith("/")]
        with tarfile.open(archive) as tf:
            return [m.name for m in tf.getmembers() if m.isfile()]
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InvalidInputError(f"the archive {archive} is unreadable or corrupt ({exc}); check the file "
                                "(was the download complete?)") from exc


@dataclass(frozen=True)
class ProductFolder:
    """A folder of product files: ``root`` on disk, or the folder ``prefix`` inside the zip or tar
    ``archive``. File names below are relative to the folder, with ``/`` separators."""

    root: str = ""
    archive: Optional[str] = None
    kind: Optional[str] = None  # "zip" / "tar" when in an archive
    prefix: str = ""

    @property
    def identity(self) -> str:
        """The file or folder on disk that changes when the product does (for caching)."""
        return self.archive or self.root

    def names(self) -> list:
        """Relative names of the files in this folder and its subfolders."""
        if self.archive:
            pre = self.prefix.strip("/")
            pre = pre + "/" if pre else ""
            return [n[len(pre):] for n in _archive_members(self.kind, self.archive) if n.startswith(pre)]
        out = []
        for folder, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(folder, self.root)
            for f in files:
                out.append(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/"))
        return out

    def _member(self, name: str) -> str:
        pre = self.prefix.strip("/")
        return f"{pre}/{name}" if pre else name

    def read_text(self, name: str) -> str:
        """A text file of the folder (UTF-8)."""
        try:
            if self.archive and self.kind == "zip":
                with zipfile.ZipFile(self.archive) as zf:
                    return zf.read(self._member(name)).decode("utf-8", errors="replace")
            if self.archive:
                with tarfile.open(self.archive) as tf:
                    f = tf.extractfile(self._member(name))
                    return f.read().decode("utf-8", errors="replace")
            with open(os.path.join(self.root, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise InvalidInputError(f"cannot read {name} of {self.identity}: {exc}") from exc

    def gdal_path(self, name: str) -> str:
        """The path GDAL opens for a file of the folder."""
        if self.archive:
            return f"/vsi{self.kind}/{self.archive}/{self._member(name)}"
        return os.path.join(self.root, name)

    def display(self, name: str = "") -> str:
        """A path for messages."""
        if self.archive:
            return f"{self.archive}/{self._member(name)}".rstrip("/")
        return os.path.join(self.root, name) if name else self.root


def locate(path: str) -> Optional[tuple]:
    """``(ProductFolder, file name or None)`` for a folder, an archive, a file, or a ``/vsizip/`` /
    ``/vsitar/`` path to a folder or file inside a local archive; None when none of these exists."""
    p = str(path)
    m = _ARCHIVE.match(p.replace("\\", "/"))
    if m:
        kind, archive, member = m.group(1).lower(), m.group(2), (m.group(3) or "").strip("/")
        if not os.path.isfile(archive):
            return None
        if not member:
            return ProductFolder(archive=archive, kind=kind), None
        members = _archive_members(kind, archive)
        if member in members:
            head, _, tail = member.rpartition("/")
            return ProductFolder(archive=archive, kind=kind, prefix=head), tail
        if any(n.startswith(member + "/") for n in members):
            return ProductFolder(archive=archive, kind=kind, prefix=member), None
        return None
    if os.path.isdir(p):
        return ProductFolder(root=p), None
    if os.path.isfile(p):
        kind = archive_kind(p)
        if kind:
            return ProductFolder(archive=os.path.abspath(p), kind=kind), None
        return ProductFolder(root=os.path.dirname(os.path.abspath(p))), os.path.basename(p)
    return None


# ------------------------------------------------------------------------------------------------
# GDAL subdataset names
# ------------------------------------------------------------------------------------------------

_QUOTED = re.compile(r'^([A-Za-z0-9_]+):"(.*)":(.*)$')


def split_subdataset(path: str, driver: str) -> Optional[tuple]:
    """``(file, rest)`` of a subdataset name of ``driver`` (``HDF5``, ``NETCDF``), e.g.
    ``HDF5:"a.he5"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube`` -> ``("a.he5",
    "//HDFEOS/...")``; None for anything else. Unquoted names (``NETCDF:a.nc:var``) are split at
    the last colon that is not part of a Windows drive letter."""
    p = str(path)
    if not p.upper().startswith(driver.upper() + ":"):
        return None
    m = _QUOTED.match(p)
    if m and m.group(1).upper() == driver.upper():
        return m.group(2), m.group(3)
    body = p[len(driver) + 1:]
    i = body.rfind(":")
    if driver.upper() == "HDF5" and "://" in body:  # HDF5:file://path
        i = body.find("://")
    if i <= 1:  # no separator, or only a drive letter
        return body, ""
    return body[:i], body[i + 1:]


def split_sentinel2_subdataset(path: str) -> Optional[tuple]:
    """``(metadata file, resolution)`` of a GDAL SENTINEL2 subdataset name such as
    ``SENTINEL2_L2A:/p/MTD_MSIL2A.xml:10m:EPSG_32633``; None for anything else."""
    p = str(path)
    m = re.match(r"^SENTINEL2_(L1B|L1C|L2A):(.*)$", p, re.IGNORECASE)
    if not m:
        return None
    body = m.group(2)
    parts = body.rsplit(":", 2)
    if len(parts) == 3 and re.fullmatch(r"\d+m|PREVIEW|TCI", parts[1], re.IGNORECASE):
        return parts[0].strip('"'), parts[1].lower()
    parts = body.rsplit(":", 1)
    if len(parts) == 2 and re.fullmatch(r"\d+m|PREVIEW|TCI", parts[1], re.IGNORECASE):
        return parts[0].strip('"'), parts[1].lower()
    return body.strip('"'), ""
