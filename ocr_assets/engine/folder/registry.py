"""The scan folders under a scans root, and their partition keys.

Every subdirectory of the scans root is one scan folder (a box, a volume, a batch). Its name is
mapped to a partition key (`naming.partition_key_for`); a name that cannot be mapped, or whose
key collides with another folder's, is reported with the reason and left out, never crashed on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ocr_assets.engine.manifest import Manifest
from ocr_assets.engine.naming import (
    UnmappableNameError,
    display_name,
    partition_key_for,
    raw_bytes,
)


@dataclass
class ScanFolders:
    folders: dict[str, str] = field(default_factory=dict)
    """partition key -> folder name as on disk."""
    problems: dict[str, str] = field(default_factory=dict)
    """display name -> why it is not a partition."""


def list_scan_folders(scans_root: Path) -> ScanFolders:
    """Map every folder directly under `scans_root` to its partition key."""
    result = ScanFolders()
    if not scans_root.is_dir():
        return result
    for entry in sorted(os.scandir(scans_root), key=lambda e: raw_bytes(e.name)):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            result.problems[display_name(entry.name)] = (
                "symlinked folders are not scanned: move or copy the pages under the scans root")
            continue
        if not entry.is_dir():
            continue
        try:
            key = partition_key_for(entry.name)
        except UnmappableNameError as exc:
            result.problems[display_name(entry.name)] = str(exc)
            continue
        if key in result.folders:
            result.problems[display_name(entry.name)] = (
                f"its partition key '{key}' is already used by folder "
                f"{display_name(result.folders[key])!r}: rename one of them")
            continue
        result.folders[key] = entry.name
    return result


def register_folders(manifest: Manifest, scan: ScanFolders) -> None:
    """Store key -> original name, so a key can always be turned back into its folder."""
    for key, name in scan.folders.items():
        manifest.register_folder(key, display_name(name), raw_bytes(name))


def folder_path(scans_root: Path, manifest: Manifest, partition_key: str) -> Path:
    """The folder on disk behind a partition key, from the stored mapping."""
    record = manifest.folder(partition_key)
    if record is None:
        raise KeyError(f"partition '{partition_key}' is not a registered scan folder; run "
                       "`ocr-assets run` or let the sensor register the scans root first")
    return scans_root / os.fsdecode(record.folder_name_raw)


def folder_signature(folder: Path) -> str:
    """A cheap fingerprint of a folder's contents (names, sizes, modification times): it
    changes when a page is added, replaced or removed, without reading any image.

    The SHA-1 of, for every file in walk order (directories and names sorted), its path
    relative to the folder, then `\\0<size>\\0<mtime_ns>\\n`. Sensor cursors and the manifest's
    listings hold it, so this must never change from one version to the next."""
    return folder_signatures(folder).folder


@dataclass(frozen=True)
class FolderSignatures:
    folder: str
    """`folder_signature`."""
    selected: str | None
    """The same digest over only the files whose name ends with the suffix asked for; None
    when there is none."""


def folder_signatures(folder: Path, suffix: bytes | None = None) -> FolderSignatures:
    """`folder_signature`, and from the same walk the signature of the files whose name ends
    with `suffix` (ground truth beside the pages: `.gt.txt`)."""
    digest = hashlib.sha1(usedforsecurity=False)
    selected = hashlib.sha1(usedforsecurity=False) if suffix else None
    found = False
    top = os.fspath(folder)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        # The relative path once per directory, not per file: `os.path.relpath` per file was
        # half the time of a sensor tick (docs/benchmarks.md, "Sensor tick").
        prefix = b"" if dirpath == top else raw_bytes(os.path.relpath(dirpath, top)) + b"/"
        for name in sorted(filenames):
            try:
                stat = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            raw = raw_bytes(name)
            entry = f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            digest.update(prefix + raw)
            digest.update(entry)
            if selected is not None and suffix is not None and raw.endswith(suffix):
                found = True
                selected.update(prefix + raw)
                selected.update(entry)
    return FolderSignatures(digest.hexdigest(),
                            selected.hexdigest() if selected is not None and found else None)
