"""A folder's OCR as one unit: the main pass, then the retry pass over what failed, and one
report of where the folder stands after both: the numbers a run records are the manifest's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.batch import FolderReport, process_folder, summarise
from ocr_assets.engine.folder.retry import PageRetry, RetryPassReport, retry_failed_pages
from ocr_assets.engine.manifest import PageOutcome

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder
    from ocr_assets.engine.settings import OcrSettings


@dataclass
class FolderRun:
    report: FolderReport
    """Counts, failures and flags after both passes; timing of the main pass."""
    retry: RetryPassReport


def ocr_folder(folder: ScanFolder, *, settings: OcrSettings | None = None,
               failed_again: bool = False,
               on_page: Callable[[str, PageOutcome], None] | None = None,
               on_retry: Callable[[str, PageRetry], None] | None = None) -> FolderRun:
    """OCR the folder's pages that need it, then retry its failed pages with other settings.
    With `failed_again`, every failed page is read again by both passes, whatever failed it
    and whatever was tried before (after an operator fixed a cause: a language installed, a
    scan replaced by the same file name). The report's counts are those of the manifest after
    the retry pass."""
    started = time.perf_counter()
    report = process_folder(folder, settings=settings, failed_again=failed_again,
                            on_page=on_page)
    retry = retry_failed_pages(folder, settings=settings, again=failed_again, on_page=on_retry)
    if retry.tried:
        summarise(report, folder.manifest)
    report.recovered = retry.recovered
    report.total_s = time.perf_counter() - started
    return FolderRun(report, retry)
