"""Forgetting a scan folder: its manifest rows, its outputs and its reports, nothing else.

Used when a folder was removed from the scans root for good (`ocr-assets forget`, or the sensor
when the folder is gone and its partition was deleted in the UI). The scans themselves are
never touched. The corpus drops the folder's pages on its next build, because it is built
from the manifest.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.reports import ACCURACY_REPORT_KEYS, REPORT_KEYS
from ocr_assets.engine.folder.retry import RECORD_NAME
from ocr_assets.engine.naming import UnmappableNameError, output_name_for, partition_key_for
from ocr_assets.engine.page.worker import all_output_keys
from ocr_assets.engine.store.outputs import LocalStore, OutputStore

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project


@dataclass(frozen=True)
class Forgotten:
    partition_key: str
    pages: int
    """Manifest rows removed."""
    files: int
    """Output and report files (objects) removed."""


def _delete(store: OutputStore, keys: list[str]) -> int:
    removed = 0
    for key in keys:
        if store.exists(key):
            store.delete(key)
            removed += 1
    removed += store.remove_partial_writes()
    if isinstance(store, LocalStore):  # an object store has no directory to leave behind
        with contextlib.suppress(OSError):
            store.root.rmdir()
    return removed


def forget_folder_data(project: Project, partition_key: str) -> Forgotten:
    """Remove the partition's outputs, reports and manifest rows (in that order: a crash
    midway leaves rows without outputs, which the next run redoes or the next forget
    finishes, never outputs that nothing points to). Works through the output stores, so a
    folder's outputs in an object store go the same way."""
    try:
        safe = partition_key_for(partition_key) == partition_key
    except UnmappableNameError:
        safe = False
    if not safe:
        raise ValueError(f"'{partition_key}' is not a partition key (keys are ASCII letters, "
                         "digits and ._-); nothing was removed")
    manifest = project.manifest
    rows = manifest.pages(partition_key)
    outputs = [key for page_id, row in rows.items()
               for key in all_output_keys(row.output_name or output_name_for(page_id))]
    files = _delete(project.ocr_store.child(partition_key), outputs)
    files += _delete(project.reports_store.child(partition_key),
                     [*REPORT_KEYS, *ACCURACY_REPORT_KEYS, RECORD_NAME])
    manifest.forget_folder(partition_key)
    return Forgotten(partition_key, len(rows), files)
