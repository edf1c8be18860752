"""Many folders' pages through one worker pool, one after the other without a gap.

A folder's batch ends with its last page, and the workers that finished before it would sit
idle until the next folder's batch started: with folders of a few pages that idle tail, and the
set-up of each batch, cost more than the pages. Here the folders are opened one by one (their
settings checked, their plan made) just in time to keep the pool's window full, so the next
folder's pages start while the last pages of the one before are still being read, and a folder
is reported (`on_done`) the moment its last page is recorded. Within a folder the largest pages
go first (longest-processing-time-first), so a folder's own last pages are short ones.

Each page is claimed under a lease before it is submitted, as in a folder's own batch: a second
run on the same folder does no page twice, and a dead run's pages come back.

A claimed page whose scan was already read (`folder.duplicates`) takes that reading instead of
being submitted; one whose scan is in flight in this same stream (the same scan twice among the
run's folders) waits for that page's outcome, then takes its reading, or is OCRed itself when
that page failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.batch import (
    FolderPlan,
    FolderReport,
    folder_settings_ready,
    plan_folder,
    pool_failure,
    pool_timeout_s,
    summarise,
)
from ocr_assets.engine.folder.discovery import Page
from ocr_assets.engine.folder.duplicates import take_duplicate
from ocr_assets.engine.folder.pool import keep_in_flight, worker_pool
from ocr_assets.engine.manifest import DONE, PageOutcome
from ocr_assets.engine.manifest.base import content_key
from ocr_assets.engine.manifest.leases import run_owner
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.fingerprint import file_fingerprint
from ocr_assets.engine.page.worker import PageTask, ocr_page

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder
    from ocr_assets.engine.settings import OcrSettings

Scan = tuple[str, str, str]
"""A scan as read with some settings: (content key, recipe, engine)."""
OnPage = Callable[["ScanFolder", str, PageOutcome], None]
OnDone = Callable[["ScanFolder", FolderReport], None]
OnRefused = Callable[["ScanFolder", Exception], None]
Order = Callable[[list[Page]], list[Page]]
"""The order in which a folder's pages are claimed (a shard's own slice first: `shard.py`)."""


def largest_first(pages: list[Page]) -> list[Page]:
    """Longest-processing-time-first: a folder's own last pages are short ones."""
    return sorted(pages, key=lambda page: page.size, reverse=True)


@dataclass
class _Open:
    """A folder whose pages are being read."""

    folder: ScanFolder
    settings: OcrSettings
    plan: FolderPlan
    report: FolderReport
    queue: Iterator[Page]
    started: float
    in_flight: int = 0
    """Pages claimed and not yet recorded: submitted, or waiting for a copy of their scan."""
    queued_all: bool = False
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Scan file -> its fingerprint, hashed once by the duplicate check for all its pages and
    handed to the worker with each (`PageTask.fingerprint`)."""

    @property
    def finished(self) -> bool:
        return self.queued_all and not self.in_flight


@dataclass
class _Stream:
    folders: Iterator[ScanFolder]
    settings: OcrSettings
    failed_again: bool
    on_page: OnPage | None
    on_done: OnDone
    on_refused: OnRefused | None
    order: Order = largest_first
    owner: str = field(default_factory=run_owner)
    open: list[_Open] = field(default_factory=list)
    reading: dict[tuple[str, str], Scan] = field(default_factory=dict)
    """(partition, page id) of a page submitted now -> the scan it reads."""
    waiting: dict[Scan, list[tuple[_Open, Page, str]]] = field(default_factory=dict)
    """Each scan being read by a submitted page -> the claimed pages (with their fingerprint)
    that wait for its reading."""
    ready: list[tuple[_Open, Page]] = field(default_factory=list)
    """Claimed pages to submit first: their scan's first copy failed."""

    def next_task(self) -> tuple[_Open, PageTask] | None:
        """The next page to submit: one left ready by a failed copy of its scan, else of the
        oldest open folder with pages left, or of the next folder, opened now."""
        if self.ready:
            batch, page = self.ready.pop(0)
            return batch, self._task(batch, page)
        while True:
            for batch in self.open:
                task = self._claim_next(batch)
                if task is not None:
                    return batch, task
            folder = next(self.folders, None)
            if folder is None:
                return None
            batch = self._open(folder)
            if batch is not None:
                self.open.append(batch)

    def _open(self, folder: ScanFolder) -> _Open | None:
        started = time.perf_counter()
        try:
            settings = folder_settings_ready(folder, self.settings)
        except (RuntimeError, ValueError) as exc:
            if self.on_refused is None:
                raise
            self.on_refused(folder, exc)
            return None
        plan = plan_folder(folder, settings, failed_again=self.failed_again)
        report = FolderReport(folder.key, folder.name, skipped=plan.skipped,
                              removed=len(plan.removed), ignored=plan.listing.ignored,
                              refused=plan.listing.refused)
        if plan.todo:
            folder.outputs.remove_partial_writes()
        queue = iter(self.order(plan.todo))
        return _Open(folder, settings, plan, report, queue, started)

    def _claim_next(self, batch: _Open) -> PageTask | None:
        folder, settings = batch.folder, batch.settings
        for page in batch.queue:
            if not folder.manifest.claim(folder.key, page.page_id, self.owner,
                                         2 * pool_timeout_s(settings),
                                         expect_updated_at=batch.plan.seen.get(page.page_id)):
                batch.report.in_flight_elsewhere += 1
                continue
            batch.in_flight += 1
            if settings.reuse_duplicates and self._settled_as_duplicate(batch, page):
                continue
            return self._task(batch, page)
        batch.queued_all = True
        return None

    @staticmethod
    def _task(batch: _Open, page: Page) -> PageTask:
        folder = batch.folder
        return PageTask(folder.key, folder.name, page.page_id, str(page.path), page.frame,
                        page.size, page.mtime_ns, folder.outputs,
                        output_name_for(page.page_id), batch.settings,
                        batch.fingerprints.get(str(page.path)))

    def _settled_as_duplicate(self, batch: _Open, page: Page) -> bool:
        """Whether a claimed page needs no OCR of its own: it took the reading of its scan done
        before, or waits for the copy of its scan that this stream reads now. Otherwise it is
        noted as the copy being read, for the duplicates that follow."""
        path = str(page.path)
        try:
            fingerprint = batch.fingerprints.get(path) or file_fingerprint(page.path)
        except OSError:
            return False  # the worker reads it, and says what is wrong with the file
        batch.fingerprints[path] = fingerprint
        key = content_key(fingerprint, page.page_id) or fingerprint
        scan = (key, batch.settings.recipe_key(), batch.settings.engine)
        if scan in self.waiting:
            self.waiting[scan].append((batch, page, fingerprint))
            return True
        outcome = take_duplicate(batch.folder, page, fingerprint, key, batch.settings)
        if outcome is not None:
            self.record(batch, page.page_id, outcome)
            return True
        self.reading[(batch.folder.key, page.page_id)] = scan
        self.waiting[scan] = []
        return False

    def record(self, batch: _Open, page_id: str, outcome: PageOutcome) -> None:
        """Write a claimed page's outcome, OCRed or taken from a copy of its scan; pages that
        waited for this one take its reading now, or go to be OCRed when it failed. A page
        whose lease this stream lost meanwhile (its host was cut off past the lease, another
        took the page) is left to its new holder: not recorded, not counted, not reported."""
        recorded = batch.folder.manifest.record(batch.folder.key, page_id, outcome,
                                                owner=self.owner)
        batch.in_flight -= 1
        if not recorded:
            batch.report.lost_leases += 1
        elif outcome.reused_from is None:
            batch.report.processed += 1
            batch.report.ocr_ms.append(outcome.ms)
        else:
            batch.report.reused += 1
        if recorded and self.on_page is not None:
            self.on_page(batch.folder, page_id, outcome)
        scan = self.reading.pop((batch.folder.key, page_id), None)
        if scan is None:
            return
        for follower, page, fingerprint in self.waiting.pop(scan):
            copied = None if outcome.status != DONE else take_duplicate(
                follower.folder, page, fingerprint, scan[0], follower.settings)
            if copied is None:
                self.ready.append((follower, page))
            else:
                self.record(follower, page.page_id, copied)

    def finish_done(self) -> None:
        """Report every open folder whose pages are all recorded, oldest first."""
        for batch in [b for b in self.open if b.finished]:
            self.open.remove(batch)
            if batch.plan.todo:
                # Again now the folder's writers are done: a writer of a killed run that was
                # still dying when the first sweep looked (SIGKILL waits for a pending fsync)
                # is surely gone by now.
                batch.folder.outputs.remove_partial_writes()
            summarise(batch.report, batch.folder.manifest)
            batch.report.elapsed_s = time.perf_counter() - batch.started
            self.on_done(batch.folder, batch.report)


def stream_folders(folders: Iterable[ScanFolder], settings: OcrSettings, *,
                   on_done: OnDone, failed_again: bool = False, on_page: OnPage | None = None,
                   on_refused: OnRefused | None = None, order: Order = largest_first) -> None:
    """Read the pages that need it of every folder, in order, through one pool.

    `settings` are the run's; each folder's `folder.toml` is applied on top, and a folder the
    engine cannot read as configured (a bad `folder.toml`, a missing language) goes to
    `on_refused` before any of its pages is touched (raised when there is none). `on_page` hears
    each page as it is recorded, `on_done` each folder once its last page is: both run in this
    process, in the thread that called. `order` decides which of a folder's pages are claimed
    first (largest first by default)."""
    stream = _Stream(iter(folders), settings, failed_again, on_page, on_done, on_refused, order)

    with worker_pool(settings.workers, settings.recycle_after,
                     settings.worker_memory_mb) as pool:

        def submit() -> tuple[Future[PageOutcome], tuple[_Open, PageTask]] | None:
            found = stream.next_task()
            if found is None:
                return None
            task = found[1]
            return pool.schedule(ocr_page, args=(task,),
                                 timeout=pool_timeout_s(task.settings)), found

        def settle(item: tuple[_Open, PageTask], future: Future[PageOutcome]) -> None:
            batch, task = item
            try:
                outcome = future.result()
            except BaseException as exc:  # noqa: BLE001 - recorded as the page's failure
                outcome = pool_failure(task, exc, task.settings)
            stream.record(batch, task.page_id, outcome)

        keep_in_flight(2 * max(1, settings.workers), submit, settle, stream.finish_done)


def process_folder(folder: ScanFolder, *, settings: OcrSettings | None = None,
                   failed_again: bool = False,
                   on_page: Callable[[str, PageOutcome], None] | None = None) -> FolderReport:
    """OCR every pending page of one folder and return what happened.

    `settings` are the run's (the project's by default; the Dagster layer sizes its workers to
    the OCR pool); the folder's `folder.toml` is applied on top, and a bad one, or a language
    whose traineddata is missing, raises before any page is touched. `failed_again` reads every
    failed page again (`plan_folder`). `on_page` is called in this process after each page is
    recorded. The report's counts are the manifest's once the pages are read; the retry pass
    (`folder.run.ocr_folder`) may still change them."""
    reports: list[FolderReport] = []
    stream_folders([folder], settings or folder.project.settings, failed_again=failed_again,
                   on_page=None if on_page is None else lambda _, page, out: on_page(page, out),
                   on_done=lambda _, report: reports.append(report))
    return reports[0]
