"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The temp file lives in the target's own directory (a rename is atomic only within one
filesystem), is fsynced before the rename, and the directory is fsynced after it, so a crash or
power loss leaves either no file or a complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:100]}.",
                                    suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def json_bytes(value: object) -> bytes:
    """The project's JSON form of outputs: UTF-8, indented, keys sorted (stable diffs)."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def write_json_atomic(target: Path, value: object) -> None:
    write_bytes_atomic(target, json_bytes(value))


def remove_stale_temp_files(directory: Path) -> int:
    """Delete temp files a killed writer left behind; they never stand for a finished page."""
    removed = 0
    if directory.is_dir():
        for leftover in directory.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed += 1
    return removed
