"""Which folders need a run, and why: the one answer for the command line, the sensor, the
nightly schedule and `retry-failed --dry-run`.

A folder needs a run when it was never materialized, when its last run failed, when pages are
still pending, when pages on disk differ from the manifest's rows (added, replaced or removed
since they were OCRed), when done pages were read with another recipe than the folder's current
one (its `folder.toml` or the configured language or psm changed), when its ground truth was
added or changed since its accuracy report was written (the run writes the report, reading no
page again), or when failed pages can still be helped (a transient failure under the attempt
cap, or a retry-pass strategy not yet tried on that input and recipe). `folders_to_run`
finds, for each folder, the first of these that the caller acts on (`Need`): the sensor runs
new and changed folders, the night also pending and retryable ones, `retry-failed` failed runs
and failed pages.

It reads no image and writes nothing (the manifest is brought up to date by the folder's run
itself), and for a folder that did not change it reads no page row: one aggregate query gives
every folder's counts by status, the recipes of its done pages and the signature of its files
(names, sizes, modification times) stored when a run last synced its rows with the disk. A
folder whose signature on disk is still that one matches its rows; only a folder whose
signature moved has its rows compared file by file (to say what changed, or to find that only
files that are not pages did), and only a folder with failed pages has its failed rows read.
Besides, each folder's `folder.toml` is read (for its recipe). So a pass over every folder
costs one query plus one `stat` per file (docs/benchmarks.md, "Sensor tick").

What Dagster knows of the partitions (materialized, last run failed, run in progress) comes in
as plain values (`RunState`): the engine never asks Dagster.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.batch import plain_retry_allowed
from ocr_assets.engine.folder.config import FolderConfigError, folder_settings
from ocr_assets.engine.folder.discovery import (
    FRAME_SEPARATOR,
    IMAGE_EXTENSIONS,
    discover_pages,
    looks_like_page,
)
from ocr_assets.engine.folder.ground_truth import GROUND_TRUTH_SUFFIX, ground_truth_signature
from ocr_assets.engine.folder.registry import FolderSignatures, folder_signatures
from ocr_assets.engine.folder.retry import entry_applies, load_record, strategies_for
from ocr_assets.engine.manifest import FAILED, STATUSES, FolderSummary, PageRecord
from ocr_assets.engine.naming import display_name
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project


def _files_on_disk(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of every non-hidden regular file below `folder`."""
    files: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            files[Path(os.path.relpath(path, folder)).as_posix()] = (stat.st_size,
                                                                     stat.st_mtime_ns)
    return files


def _page_file(page_id: str, files: Mapping[str, object]) -> str:
    """The file a page id belongs to: itself, or the multi-page file of a frame (`a.tif#2`)."""
    if page_id in files:
        return page_id
    base, sep, frame = page_id.rpartition(FRAME_SEPARATOR)
    return base if sep and frame.isdigit() else page_id


@dataclass(frozen=True)
class FolderChanges:
    """Files whose pages on disk differ from the folder's manifest rows."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def describe(self) -> str | None:
        parts = [f"{len(files)} {what}" for what, files in
                 (("new pages", self.added), ("removed pages", self.removed),
                  ("changed pages", self.changed)) if files]
        return ", ".join(parts) if parts else None


def changed_files(folder: Path, rows: Mapping[str, PageRecord]) -> FolderChanges:
    """The files added, removed or replaced since the folder's rows were synced."""
    files = _files_on_disk(folder)
    recorded: dict[str, tuple[int | None, int | None]] = {}
    for page_id, row in rows.items():
        recorded.setdefault(_page_file(page_id, files), (row.size, row.mtime_ns))
    added = [rel for rel in files if rel not in recorded and (
        Path(rel).suffix.lower() in IMAGE_EXTENSIONS or looks_like_page(folder / rel))]
    removed = [rel for rel in recorded if rel not in files]
    changed = [rel for rel, stat in recorded.items()
               if rel in files and stat[0] is not None and files[rel] != stat]
    return FolderChanges(added, removed, changed)


def folder_changes(folder: Path, rows: Mapping[str, PageRecord]) -> str | None:
    """Why the folder's pages on disk differ from its manifest rows, or None when they match."""
    return changed_files(folder, rows).describe()


def retryable_failures(rows: Iterable[PageRecord], reports: OutputStore,
                       max_attempts: int) -> list[str]:
    """Failed pages that a run can still help: a plain retry under the attempt cap, or a
    retry-pass strategy not yet tried on this input."""
    failed = [r for r in rows if r.status == FAILED]
    if not failed:
        return []
    record = load_record(reports)
    helpable = []
    for row in failed:
        entry = record.get(row.page_id)
        strategies = [s.name for s in strategies_for(row)]
        pass_pending = bool(strategies) and (entry is None or not entry_applies(entry, row)
                                             or entry.strategies != strategies)
        if pass_pending or plain_retry_allowed(row, max_attempts):
            helpable.append(row.page_id)
    return sorted(helpable)


def pages_with_other_recipe(folder: Path, summary: FolderSummary, settings: OcrSettings,
                            recipe: str | None = None) -> int:
    """How many done pages of the folder were read with another recipe than the one its run
    would use now (`settings` with its `folder.toml` applied), from its summary: no row is
    read. `recipe` is `settings.recipe_key()` when the caller has it already. A `folder.toml`
    that cannot be read counts none: the folder's run says what is wrong with it."""
    if not summary.done_by_recipe:
        return 0
    try:
        overridden = folder_settings(folder, settings)
    except FolderConfigError:
        return 0
    if overridden is not settings or recipe is None:
        recipe = overridden.recipe_key()
    return sum(n for other, n in summary.done_by_recipe.items() if other != recipe)


class Need(StrEnum):
    """Why a folder needs a run, in the order they are looked for."""

    RUN_FAILED = "last run failed"
    NEW = "never materialized"
    PENDING = "pages pending"
    CHANGED = "changed on disk"
    RECIPE = "recipe changed"
    GROUND_TRUTH = "ground truth changed"
    RETRYABLE = "failed pages to retry"
    FAILED_PAGES = "failed pages"


SENSOR_NEEDS = frozenset({Need.NEW, Need.CHANGED, Need.RECIPE, Need.GROUND_TRUTH})
"""What the folder sensor requests runs for: what changed (a failed run is not requested again
until its folder changes; "Failed and missing" in the UI and `retry-failed` are for that)."""
RUN_NEEDS = frozenset({Need.RUN_FAILED, Need.NEW, Need.PENDING, Need.CHANGED, Need.RECIPE,
                       Need.GROUND_TRUTH, Need.RETRYABLE})
"""What `ocr-assets run` and the nightly schedule run: everything a plain run can still do,
and a folder whose last run failed (its run says again why, or succeeds once the cause is
gone: a folder back in place, a language installed)."""
RETRY_NEEDS = frozenset({Need.RUN_FAILED, Need.FAILED_PAGES})
"""What `ocr-assets retry-failed` runs: exactly the failed runs and the folders with failed
pages."""


@dataclass(frozen=True)
class RunState:
    """What Dagster knows of the folders' partitions, as plain values."""

    materialized: frozenset[str] = frozenset()
    """Partitions of `page_texts` with a materialization (at any time)."""
    failed: Mapping[str, str] = field(default_factory=dict)
    """Partition -> the asset whose last run failed."""
    in_progress: frozenset[str] = frozenset()
    """Partitions with a run queued or in progress: that run does the work."""


@dataclass(frozen=True)
class FolderNeed:
    need: Need
    why: str
    """What the operator reads: `never materialized`, `2 new pages, 1 changed pages`, ..."""
    pages: int
    """About how many pages the run will read (for progress bars), 0 when not known."""


def folders_to_run(project: Project, folders: Mapping[str, str], runs: RunState,
                   wanted: frozenset[Need], *, count_new: bool = False
                   ) -> dict[str, FolderNeed]:
    """partition key -> why it needs a run, for those of the `folders` (key -> name on disk)
    that need one of the `wanted` kinds, with the project's settings (each folder's
    `folder.toml` applied). Folders with a run in progress are left to that run. With
    `count_new`, the pages of a folder that has no rows yet are counted (a listing of it)."""
    manifest, settings = project.manifest, project.settings
    summaries = manifest.folder_summaries()
    no_rows = FolderSummary(dict.fromkeys(STATUSES, 0))
    recipe = settings.recipe_key()
    needs: dict[str, FolderNeed] = {}
    for key, name in sorted(folders.items()):
        if key in runs.in_progress:
            continue
        folder = project.scans_root / name
        need = _first_need(project, key, folder, summaries.get(key, no_rows), runs, wanted,
                           recipe, count_new)
        if need is not None:
            needs[key] = need
    return needs


def _first_need(project: Project, key: str, folder: Path, summary: FolderSummary,
                runs: RunState, wanted: frozenset[Need], recipe: str,
                count_new: bool) -> FolderNeed | None:
    manifest, settings = project.manifest, project.settings
    if Need.RUN_FAILED in wanted and key in runs.failed:
        return FolderNeed(Need.RUN_FAILED, f"last run failed ({runs.failed[key]})",
                          summary.unfinished + summary.counts[FAILED])
    if Need.NEW in wanted and key not in runs.materialized:
        pages = summary.unfinished
        if not sum(summary.counts.values()) and count_new:
            pages = len(discover_pages(folder, root=project.scans_root,
                                       max_pdf_pages=settings.max_pdf_pages).pages)
        return FolderNeed(Need.NEW, "never materialized", pages)
    if Need.PENDING in wanted and summary.unfinished:
        return FolderNeed(Need.PENDING, f"{summary.unfinished} pages pending",
                          summary.unfinished)
    signatures = (folder_signatures(folder, GROUND_TRUTH_SUFFIX.encode())
                  if wanted & {Need.CHANGED, Need.GROUND_TRUTH} else None)
    if (Need.CHANGED in wanted and signatures is not None
            and summary.listing_signature != signatures.folder):
        changes = changed_files(folder, manifest.pages(key))
        if changes.describe():
            return FolderNeed(Need.CHANGED, changes.describe() or "",
                              len(changes.added) + len(changes.changed))
    if Need.RECIPE in wanted:
        try:
            folder_settings(folder, settings)
        except FolderConfigError as exc:  # its run fails, saying what to fix in the file
            return FolderNeed(Need.RECIPE, str(exc), 0)
        stale = pages_with_other_recipe(folder, summary, settings, recipe)
        if stale:
            return FolderNeed(Need.RECIPE,
                              f"{stale} pages read with other settings (language, psm, ...)",
                              stale)
    if (Need.GROUND_TRUTH in wanted and signatures is not None and key in runs.materialized
            and _ground_truth_moved(project, folder, summary, signatures)):
        return FolderNeed(Need.GROUND_TRUTH, "ground truth added or changed since its "
                          "accuracy report (no page is read again)", 0)
    if summary.counts[FAILED] and wanted & {Need.RETRYABLE, Need.FAILED_PAGES}:
        if Need.FAILED_PAGES in wanted:
            failed = summary.counts[FAILED]
            return FolderNeed(Need.FAILED_PAGES, f"{failed} failed pages", failed)
        helpable = retryable_failures(manifest.pages(key, status=FAILED).values(),
                                      project.reports_store.child(key), settings.max_attempts)
        if helpable:
            return FolderNeed(Need.RETRYABLE, f"{len(helpable)} failed pages to retry",
                              len(helpable))
    return None


def _ground_truth_moved(project: Project, folder: Path, summary: FolderSummary,
                        signatures: FolderSignatures) -> bool:
    """Whether the folder's ground truth on disk is not what its last accuracy report read
    (the signature stored with it): `signatures` is the folder's walk, which found the ground
    truth beside its pages."""
    current = ground_truth_signature(folder, display_name(folder.name),
                                     project.ground_truth_root, beside=signatures.selected,
                                     beside_known=True)
    return current != summary.ground_truth
