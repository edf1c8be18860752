"""One scan folder's batch: its plan and its report. Resumable, idempotent, isolated per page.

`plan_folder` lists the folder's pages, brings the manifest up to date (new pages pending,
vanished pages dropped with their outputs) and decides what needs OCR: nothing that is already
done for the same input and recipe (the settings that change the text: language, psm, ...).
`stream.stream_folders` reads those pages in a pool of worker processes, many folders through
one pool, and `summarise` turns the folder's rows into its report.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pebble import ProcessExpired

from ocr_assets.engine.errors import FailureCategory
from ocr_assets.engine.folder.config import FOLDER_CONFIG_NAME
from ocr_assets.engine.folder.discovery import FolderListing, Page, discover_pages
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.manifest import (
    DONE,
    FAILED,
    RUNNING,
    Manifest,
    PageOutcome,
    PageRecord,
)
from ocr_assets.engine.manifest.leases import dead_owners
from ocr_assets.engine.naming import display_name, output_name_for
from ocr_assets.engine.page.engines.registry import check_settings_ready
from ocr_assets.engine.page.fingerprint import file_fingerprint
from ocr_assets.engine.page.worker import PageTask, all_output_keys, output_keys

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore

# Failures that the same input and settings will reproduce: a plain re-run skips them (the
# retry pass, or a changed scan, is what redoes them). Everything else is retried up to
# `max_attempts`.
DETERMINISTIC_FAILURES = frozenset({
    FailureCategory.UNREADABLE_IMAGE, FailureCategory.TOO_LARGE,
    FailureCategory.EMPTY_OUTPUT_FROM_UNREADABLE_IMAGE, FailureCategory.UNREADABLE_DOCUMENT,
})
POOL_GRACE_S = 30.0
"""The pool kills a worker at most this long after the engine's own timeout should have fired
(less for short timeouts: the grace is never longer than the timeout itself)."""


@dataclass
class FolderReport:
    """What happened to one folder in one run; the Dagster layer turns it into metadata."""

    partition_key: str
    folder_name: str
    pages: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0
    skipped: int = 0
    """Pages already done (or failed for good) before this run: no OCR call was made."""
    processed: int = 0
    """Pages attempted in this run."""
    in_flight_elsewhere: int = 0
    lost_leases: int = 0
    """Pages read here whose lease expired before they were recorded (the host was cut off):
    left to the run that took them over, neither recorded nor counted in `processed`."""
    reused: int = 0
    """Pages that took the text of the same scan read before instead of an OCR
    (`folder.duplicates`): not counted in `processed`."""
    removed: int = 0
    ignored: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    """The main pass's time (what `pages_per_s` divides by)."""
    total_s: float = 0.0
    """With the retry pass (`run.ocr_folder`)."""
    recovered: int = 0
    """Pages the retry pass turned from failed into done."""
    ocr_ms: list[int] = field(default_factory=list)
    mean_confidence: float | None = None
    failures: list[PageRecord] = field(default_factory=list)
    flagged: list[PageRecord] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def pool_timeout_s(settings: OcrSettings) -> float:
    """When the pool kills a page's worker: the engine's timeout plus a grace to act on it."""
    return settings.page_timeout_s + min(POOL_GRACE_S, max(2.0, settings.page_timeout_s))


def _needs_ocr(page: Page, row: PageRecord, settings: OcrSettings, recipe: str,
               outputs: OutputStore, manifest: Manifest, failed_again: bool) -> bool:
    """False for a page whose current input is already done with the current `recipe` (or
    failed for good, unless `failed_again`). Decided from the row (and a stat of the text): no
    page is read."""
    if row.status == RUNNING or (row.status == FAILED and failed_again):
        return True
    same_stat = row.size == page.size and row.mtime_ns == page.mtime_ns
    if row.status == DONE:
        if read_with_other_recipe(row, recipe):
            return True
        text_key, _ = output_keys(row.output_name or output_name_for(page.page_id))
        if not outputs.exists(text_key):
            return True
        if same_stat:
            return False
        if row.fingerprint == file_fingerprint(page.path):
            manifest.accept_unchanged(row.partition_key, page.page_id, page.size, page.mtime_ns)
            return False
        return True
    if row.status == FAILED:
        unchanged = same_stat or (row.fingerprint is not None
                                  and row.fingerprint == file_fingerprint(page.path))
        return not unchanged or plain_retry_allowed(row, settings.max_attempts)
    return True


def read_with_other_recipe(row: PageRecord, recipe: str) -> bool:
    """Whether a done page was read with another recipe than `recipe` (the folder's current
    `OcrSettings.recipe_key`), so it must be read again. A row without a recipe (written before
    recipes were recorded) counts as read with the current one."""
    return row.status == DONE and row.recipe is not None and row.recipe != recipe


def plain_retry_allowed(row: PageRecord, max_attempts: int) -> bool:
    """Whether a plain re-run (same settings, same input) retries this failed page: a
    transient failure under the attempt cap is; a deterministic one never is."""
    return row.error_category not in DETERMINISTIC_FAILURES and row.attempts < max_attempts


def pool_failure(task: PageTask, exc: BaseException, settings: OcrSettings) -> PageOutcome:
    """An outcome for a page whose worker never returned one."""
    if isinstance(exc, TimeoutError):
        category = FailureCategory.TIMEOUT
        message = (f"{Path(task.path).name}: no result after {pool_timeout_s(settings):g} s; "
                   "the worker was killed (raise page_timeout_s if such pages are real)")
    elif isinstance(exc, ProcessExpired):
        category = FailureCategory.WORKER_CRASHED
        message = (f"{Path(task.path).name}: the worker process died (exit code {exc.exitcode}"
                   "; a negative code is the signal, e.g. -9 for an out-of-memory kill)")
    else:
        category = FailureCategory.ENGINE_ERROR
        message = f"{Path(task.path).name}: {type(exc).__name__}: {exc}"
    return PageOutcome(status=FAILED, fingerprint=None, size=task.size, mtime_ns=task.mtime_ns,
                       ms=0, error_category=str(category), error_message=display_name(message),
                       engine=settings.engine, recipe=settings.recipe_key())


@dataclass
class FolderPlan:
    """The manifest brought up to date with the folder, and the pages that still need OCR."""

    listing: FolderListing
    todo: list[Page]
    skipped: int
    removed: list[str]
    seen: dict[str, float | None] = field(default_factory=dict)
    """page id -> the row's `updated_at` when the plan was made: a page claimed later only if
    its row did not change meanwhile (another run on the folder did not finish it)."""


def plan_folder(folder: ScanFolder, settings: OcrSettings, *,
                failed_again: bool = False) -> FolderPlan:
    """List the folder's pages, sync the manifest (new pages pending, vanished pages and their
    outputs dropped, leases of dead or expired runs released, the folder's listing signature
    stored) and decide which pages need OCR: new, changed or unfinished pages, and done pages
    read with another recipe than that of `settings`, which must be the folder's own
    (`folder.settings()`). Done rows from before recipes were recorded adopt the current one.
    With `failed_again`, every failed page is read again too, also one a plain run leaves alone
    (failed for good on its input, or out of attempts): an operator asked for it. Runs inside
    a folder's run only: it writes the manifest."""
    manifest, partition_key, outputs = folder.manifest, folder.key, folder.outputs
    # Taken before the listing: a file that changes while the folder is listed makes the
    # stored signature stale (the planning then compares the rows), never wrong.
    signature = folder_signature(folder.path)
    listing = discover_pages(folder.path, root=folder.project.scans_root,
                             max_pdf_pages=settings.max_pdf_pages)
    _, gone = manifest.sync_pages(partition_key, [p.page_id for p in listing.pages],
                                  listing_signature=signature)
    for page_id in gone:
        for key in all_output_keys(output_name_for(page_id)):
            outputs.delete(key)
    _release_dead_runs(manifest, partition_key)
    recipe = settings.recipe_key()
    rows = manifest.pages(partition_key)
    if any(row.status == DONE and row.recipe is None for row in rows.values()):
        manifest.adopt_recipe(partition_key, recipe)
        rows = manifest.pages(partition_key)
    todo: list[Page] = []
    skipped = 0
    for page in listing.pages:
        if _needs_ocr(page, rows[page.page_id], settings, recipe, outputs, manifest,
                      failed_again):
            todo.append(page)
        else:
            skipped += 1
    return FolderPlan(listing, todo, skipped, gone,
                      {page.page_id: rows[page.page_id].updated_at for page in todo})


def _release_dead_runs(manifest: Manifest, partition_key: str) -> None:
    """Hand back pages whose lease expired, or whose holder is a process that died."""
    manifest.release_expired(partition_key)
    holders = (r.lease_owner for r in manifest.pages(partition_key).values()
               if r.status == RUNNING)
    dead = dead_owners(holders)
    if dead:
        manifest.release_owners(partition_key, dead)


def folder_settings_ready(folder: ScanFolder, settings: OcrSettings) -> OcrSettings:
    """`settings` with the folder's `folder.toml` applied, once the engine has said it can read
    them: a bad `folder.toml`, or a language whose traineddata is missing, raises before any
    page is touched (`RuntimeError` or `ValueError`, naming the file where it set the language).
    """
    overridden = folder.settings(settings)
    try:
        check_settings_ready(overridden)
    except RuntimeError as exc:
        if overridden.models() != settings.models():
            raise RuntimeError(f"{exc} (language '{'+'.join(overridden.models())}' set by "
                               f"{folder.path / FOLDER_CONFIG_NAME})") from exc
        raise
    return overridden


def summarise(report: FolderReport, manifest: Manifest) -> None:
    """The report's counts, failures, flags and mean confidence, from the folder's rows."""
    rows = manifest.pages(report.partition_key)
    report.pages = len(rows)
    by_status = [r.status for r in rows.values()]
    report.done = by_status.count(DONE)
    report.failed = by_status.count(FAILED)
    report.pending = report.pages - report.done - report.failed
    report.failures = sorted((r for r in rows.values() if r.status == FAILED),
                             key=lambda r: r.page_id)
    report.flagged = sorted((r for r in rows.values() if r.status == DONE and r.flags),
                            key=lambda r: r.page_id)
    confidences = [r.mean_confidence for r in rows.values()
                   if r.status == DONE and r.mean_confidence is not None]
    report.mean_confidence = statistics.fmean(confidences) if confidences else None
