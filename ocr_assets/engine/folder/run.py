"""Folders' OCR as units: the main pass, then the retry pass over what failed, and one report
per folder of where it stands after both: the numbers a run records are the manifest's.

`ocr_folders` runs any number of folders through one pool (`stream.stream_folders`): a folder
with no failed page is reported the moment its last page is recorded; the retry passes of the
others run once the main pass is over, so they never hold up the next folders' pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.batch import FolderReport, summarise
from ocr_assets.engine.folder.retry import PageRetry, RetryPassReport, retry_failed_pages
from ocr_assets.engine.folder.stream import OnPage, OnRefused, stream_folders
from ocr_assets.engine.manifest import PageOutcome

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder
    from ocr_assets.engine.settings import OcrSettings


@dataclass
class FolderRun:
    folder: ScanFolder
    report: FolderReport
    """Counts, failures and flags after both passes; timing of the main pass."""
    retry: RetryPassReport


def ocr_folders(folders: Iterable[ScanFolder], settings: OcrSettings, *,
                on_folder: Callable[[FolderRun], None], failed_again: bool = False,
                on_page: OnPage | None = None,
                on_retry: Callable[[ScanFolder, str, PageRetry], None] | None = None,
                on_refused: OnRefused | None = None) -> None:
    """OCR the folders' pages that need it, then retry their failed pages with other settings;
    `on_folder` hears each folder once both passes are over for it. With `failed_again`, every
    failed page is read again by both passes, whatever failed it and whatever was tried before
    (after an operator fixed a cause: a language installed, a scan replaced by the same file
    name). A folder that cannot run as configured goes to `on_refused` (raised without one)."""
    retry_later: list[tuple[ScanFolder, FolderReport]] = []

    def main_pass_done(folder: ScanFolder, report: FolderReport) -> None:
        if report.failed:
            retry_later.append((folder, report))
        else:
            report.total_s = report.elapsed_s
            on_folder(FolderRun(folder, report, RetryPassReport(folder.key)))

    stream_folders(folders, settings, failed_again=failed_again, on_page=on_page,
                   on_done=main_pass_done, on_refused=on_refused)
    for folder, report in retry_later:
        retry_started = time.perf_counter()
        retry = retry_failed_pages(
            folder, settings=settings, again=failed_again,
            on_page=None if on_retry is None else lambda page, entry, f=folder: on_retry(
                f, page, entry))
        if retry.tried:
            summarise(report, folder.manifest)
        report.recovered = retry.recovered
        report.total_s = report.elapsed_s + time.perf_counter() - retry_started
        on_folder(FolderRun(folder, report, retry))


def ocr_folder(folder: ScanFolder, *, settings: OcrSettings | None = None,
               failed_again: bool = False,
               on_page: Callable[[str, PageOutcome], None] | None = None,
               on_retry: Callable[[str, PageRetry], None] | None = None) -> FolderRun:
    """`ocr_folders` for one folder: its run, or the engine's refusal raised."""
    runs: list[FolderRun] = []
    ocr_folders([folder], settings or folder.project.settings, on_folder=runs.append,
                failed_again=failed_again,
                on_page=None if on_page is None else lambda _, page, out: on_page(page, out),
                on_retry=None if on_retry is None else lambda _, page, e: on_retry(page, e))
    return runs[0]
