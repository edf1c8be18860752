"""Which folders need a run: the folder on disk and the retry record against the manifest.

The sensor only sees what changed between two of its ticks. This is the reconciliation that the
nightly schedule runs: a folder needs a run when it was never materialized, when pages on disk
differ from the manifest's rows (added, replaced or removed since they were OCRed), when done
pages were read with another recipe than the folder's current one (its `folder.toml` or the
configured language or psm changed), when pages are still pending, or when failed pages can
still be helped (a transient failure under the attempt cap, or a retry-pass strategy not yet
tried on that input and recipe).

It reads no image and, for a folder that did not change, no page row: one aggregate query
gives every folder's counts by status, the recipes of its done pages and the signature of its
files (names, sizes, modification times) stored when a run last synced its rows with the disk.
A folder whose signature on disk is still that one matches its rows; only a folder whose
signature moved has its rows compared file by file (to say what changed, or to find that only
files that are not pages did), and only a folder with failed pages has its failed rows read.
Besides, each folder's `folder.toml` is read (for its recipe). So a night costs one query plus
one `stat` per file, the cost of a sensor tick (docs/benchmarks.md, "Sensor tick").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ocr_assets.engine.folder.batch import plain_retry_allowed
from ocr_assets.engine.folder.config import FolderConfigError, folder_settings
from ocr_assets.engine.folder.discovery import FRAME_SEPARATOR, IMAGE_EXTENSIONS, looks_like_image
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.folder.retry import entry_applies, load_record, strategies_for
from ocr_assets.engine.manifest import FAILED, STATUSES, FolderSummary, Manifest, PageRecord
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore, open_store


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


def folder_changes(folder: Path, rows: Mapping[str, PageRecord]) -> str | None:
    """Why the folder's pages on disk differ from its manifest rows, or None when they match."""
    files = _files_on_disk(folder)
    recorded: dict[str, tuple[int | None, int | None]] = {}
    for page_id, row in rows.items():
        recorded.setdefault(_page_file(page_id, files), (row.size, row.mtime_ns))
    added = [rel for rel in files if rel not in recorded and (
        Path(rel).suffix.lower() in IMAGE_EXTENSIONS or looks_like_image(folder / rel))]
    removed = [rel for rel in recorded if rel not in files]
    changed = [rel for rel, stat in recorded.items()
               if rel in files and stat[0] is not None and files[rel] != stat]
    parts = [f"{len(pages)} {what}" for what, pages in
             (("new pages", added), ("removed pages", removed), ("changed pages", changed))
             if pages]
    return ", ".join(parts) if parts else None


def retryable_failures(rows: Iterable[PageRecord], reports: Path | str | OutputStore,
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
        strategies = [s.name for s in strategies_for(row.error_category)]
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


def folders_needing_work(manifest: Manifest, scans_root: Path,
                         reports_root: Path | str | OutputStore,
                         folders: Mapping[str, str], materialized: set[str],
                         settings: OcrSettings) -> dict[str, str]:
    """partition key -> why it needs a run, for the folders (key -> name on disk) given, with
    the configured `settings` (before any folder's `folder.toml`)."""
    summaries = manifest.folder_summaries()
    no_rows = FolderSummary(dict.fromkeys(STATUSES, 0))
    recipe = settings.recipe_key()
    reasons: dict[str, str] = {}
    for key, name in sorted(folders.items()):
        if key not in materialized:
            reasons[key] = "never materialized"
            continue
        summary = summaries.get(key, no_rows)
        if summary.unfinished:
            reasons[key] = f"{summary.unfinished} pages pending"
            continue
        folder = scans_root / name
        if summary.listing_signature != folder_signature(folder):
            change = folder_changes(folder, manifest.pages(key))
            if change:
                reasons[key] = change
                continue
        stale = pages_with_other_recipe(folder, summary, settings, recipe)
        if stale:
            reasons[key] = f"{stale} pages read with other settings (language, psm, ...)"
            continue
        if summary.counts[FAILED]:
            helpable = retryable_failures(manifest.pages(key, status=FAILED).values(),
                                          open_store(reports_root).child(key),
                                          settings.max_attempts)
            if helpable:
                reasons[key] = f"{len(helpable)} failed pages to retry"
    return reasons
