"""Which folders the corpus holds, and the signature that says whether a folder changed.

A folder is in the corpus only when its blocking verdict passes: every page terminal, the
counts invariant holding and the failure share within its limit (`invariants.folder_verdict`,
the same functions as the blocking asset checks).

The manifest goes on changing while the corpus is built and checked: other runs OCR their
folders meanwhile. So a choice also holds the folder's signature, read *before* its verdict:
when the rows change after that, the signature no longer matches them, and whoever compares
signatures later (the next build, the corpus check) sees the folder as changed instead of
trusting a verdict made on rows that are gone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.invariants import folder_verdict
from ocr_assets.engine.manifest import DONE, PageRecord

if TYPE_CHECKING:
    from ocr_assets.engine.manifest import FolderRecord
    from ocr_assets.engine.project import Project


def partition_signature(rows: Iterable[PageRecord]) -> str:
    """Changes whenever a page of the partition is added, removed, redone or re-recorded."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.page_id):
        digest.update(json.dumps([row.page_id, row.status, row.fingerprint, row.output_name,
                                  row.updated_at, row.flags, row.garbage_score]).encode())
    return digest.hexdigest()


INCLUDED, EXCLUDED, WAITING = "included", "excluded", "waiting"
"""A folder's place in the corpus: its blocking verdict passes; it fails; it has no manifest
row yet (registered, never run: nothing is wrong)."""


@dataclass(frozen=True)
class FolderChoice:
    """One registered folder as a corpus build (or the corpus check) sees it."""

    partition: str
    folder: str
    signature: str
    """`partition_signature` of its rows as they were before the verdict."""
    done: int
    """Its done pages with a text, from the same rows: the corpus rows it must have when
    included."""
    verdict: str
    """`INCLUDED`, `EXCLUDED` or `WAITING`."""
    reason: str = ""
    """Why an excluded folder is left out."""


def choose(project: Project, record: FolderRecord) -> FolderChoice:
    """Whether the corpus holds the folder of `record`, from its manifest rows of the moment."""
    key = record.partition_key
    rows = project.manifest.pages(key)
    signature = partition_signature(rows.values())
    done = sum(1 for row in rows.values() if row.status == DONE and row.output_name is not None)
    if not rows:
        return FolderChoice(key, record.folder_name, signature, done, WAITING)
    verdict = folder_verdict(project.folder(key))
    if verdict.passed:
        return FolderChoice(key, record.folder_name, signature, done, INCLUDED)
    return FolderChoice(key, record.folder_name, signature, done, EXCLUDED,
                        "blocking check failed: " + "; ".join(verdict.reasons()))


def folder_choices(project: Project) -> Iterator[tuple[str, FolderChoice]]:
    """(partition, its choice) of every registered folder, in partition order, one folder at a
    time (`ordered.aligned` walks it beside the other walks)."""
    for record in project.manifest.folders_in_order():
        yield record.partition_key, choose(project, record)
