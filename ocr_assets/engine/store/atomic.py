"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The temp file lives in the target's own directory (a rename is atomic only within one
filesystem), is fsynced before the rename, and the directory is fsynced after it, so a crash or
power loss leaves either no file or a complete one. The temp file's name carries its writer's
process id, so a later run removes the leftovers of a killed writer and never the temp file of
a writer that is still at work (another run on the same folder).

The named kill points (`killpoints`) let the crash harness kill a writer half-way through the
data, with the temp file complete, and with the target renamed but not yet synced.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ocr_assets.engine.killpoints import kill_point
from ocr_assets.engine.manifest.leases import owner_is_dead, process_id

TEMP_SUFFIX = ".tmp"
WRITER_MARK = "~"
ABANDONED_TEMP_AGE_S = 3600.0
"""A temp file this old is abandoned even if its writer cannot be shown dead (another host)."""


def _replace_atomically(target: Path, fill: Callable[[BinaryIO], None]) -> None:
    """Write `target` through a temp file beside it that `fill` writes, then fsync and rename;
    a failure leaves no temp file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name[:100]}{WRITER_MARK}{process_id()}{WRITER_MARK}",
        suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        kill_point("atomic.written")
        os.replace(tmp_name, target)
        kill_point("atomic.renamed")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    def fill(fh: BinaryIO) -> None:
        # In two parts, so a kill between them leaves what a kill during a long write
        # leaves: a temp file holding part of the data.
        half = len(data) // 2
        fh.write(data[:half])
        fh.flush()
        kill_point("atomic.partial")
        fh.write(data[half:])

    _replace_atomically(target, fill)


COPY_BLOCK = 1 << 20
"""Bytes copied at once by `write_file_atomic`: what a copy holds in memory, whatever the
file's size."""


def write_file_atomic(target: Path, source: Path) -> None:
    """`write_bytes_atomic` for the content of the file `source`, copied a block at a time (a
    corpus file of any size costs one block of memory)."""
    def fill(fh: BinaryIO) -> None:
        with source.open("rb") as src:
            fh.write(src.read(COPY_BLOCK))
            fh.flush()
            kill_point("atomic.partial")
            shutil.copyfileobj(src, fh, COPY_BLOCK)

    _replace_atomically(target, fill)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def json_bytes(value: object) -> bytes:
    """The project's JSON form of outputs: UTF-8, indented, keys sorted (stable diffs)."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def write_json_atomic(target: Path, value: object) -> None:
    write_bytes_atomic(target, json_bytes(value))


def _abandoned(temp: Path, now: float) -> bool:
    writer = temp.name.removesuffix(TEMP_SUFFIX).rsplit(WRITER_MARK, 2)
    if len(writer) != 3 or owner_is_dead(writer[1]):
        return True  # no writer named (an older version's temp file), or a dead one
    try:
        return now - temp.stat().st_mtime > ABANDONED_TEMP_AGE_S
    except FileNotFoundError:
        return False


def remove_stale_temp_files(directory: Path) -> int:
    """Delete temp files that killed writers left behind (they never stand for a finished
    page); a temp file whose writer is alive is left alone."""
    removed = 0
    now = time.time()
    if directory.is_dir():
        for leftover in directory.glob(f".*{TEMP_SUFFIX}"):
            if _abandoned(leftover, now):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
                    removed += 1
    return removed
