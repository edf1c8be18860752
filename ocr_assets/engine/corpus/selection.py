"""Which folders the corpus holds, and the signature that says whether a folder changed.

A folder is in the corpus only when its blocking verdict passes: every page terminal, the
counts invariant holding and the failure share within its limit (`invariants.folder_verdict`,
the same functions as the blocking asset checks).

The manifest goes on changing while the corpus is built and checked: other runs OCR their
folders meanwhile. So a selection also holds each folder's signature, read *before* its verdict:
when the rows change after that, the signature no longer matches them, and whoever compares
signatures later (the next build, the corpus check) sees the folder as changed instead of
trusting a verdict made on rows that are gone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.invariants import folder_verdict
from ocr_assets.engine.manifest import DONE, PageRecord

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project


def partition_signature(rows: Iterable[PageRecord]) -> str:
    """Changes whenever a page of the partition is added, removed, redone or re-recorded."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.page_id):
        digest.update(json.dumps([row.page_id, row.status, row.fingerprint, row.output_name,
                                  row.updated_at, row.flags, row.garbage_score]).encode())
    return digest.hexdigest()


@dataclass
class CorpusSelection:
    """Which folders the corpus holds, which it leaves out and why, and which wait for their
    first run."""

    included: dict[str, str] = field(default_factory=dict)
    """partition key -> folder name of every folder whose blocking verdict passes."""
    excluded: dict[str, str] = field(default_factory=dict)
    """partition key -> why the folder is left out."""
    waiting: list[str] = field(default_factory=list)
    """Registered folders without a single manifest row: never run yet, nothing is wrong."""
    signatures: dict[str, str] = field(default_factory=dict)
    """partition key -> `partition_signature` of its rows as they were before the verdict, for
    every registered folder (waiting ones too: the signature of no rows)."""
    done: dict[str, int] = field(default_factory=dict)
    """partition key -> its done pages (with their text), from the same rows: the corpus rows
    an included folder must have."""


def included_partitions(project: Project) -> CorpusSelection:
    """The folders the corpus holds: those whose blocking verdict passes. A folder with no row
    at all was registered but never run: it waits, and is not counted as a failure."""
    selection = CorpusSelection()
    manifest = project.manifest
    for record in manifest.folders():
        key = record.partition_key
        rows = manifest.pages(key)
        selection.signatures[key] = partition_signature(rows.values())
        selection.done[key] = sum(1 for row in rows.values()
                                  if row.status == DONE and row.output_name is not None)
        if not rows:
            selection.waiting.append(key)
            continue
        verdict = folder_verdict(project.folder(key))
        if verdict.passed:
            selection.included[key] = record.folder_name
        else:
            selection.excluded[key] = "blocking check failed: " + "; ".join(verdict.reasons())
    return selection

