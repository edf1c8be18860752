"""What must hold for a folder before its text is trusted.

The counts invariant: pages in = done + failed, and every page terminal. Checked against the
folder on disk and the page files, not against the manifest alone: a page on disk without a
row, a row without a page, a done row without its text file, or a page still pending or running
all break it, and each is named.

Listing a folder's pages again (`discover_pages`: every TIFF and PDF opened to count its pages) is
skipped only when nothing can have changed since the rows were synced with a listing: the
folder's signature on disk (names, sizes and modification times of its files) equals the one
stored with that listing, and the rows are still exactly the page ids it found. A page added,
replaced or removed on disk, or a row added, lost or tampered with, means a full listing.

The failure ratio: a folder where more than a set share of the pages failed is not a folder
with a few bad pages but one with a cause to fix (wrong language, a broken export, a dying
scanner), like OCR-D's limit on missing outputs. It stays out of the corpus until fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ocr_assets.engine.config import DEFAULT_MAX_FAILED_SHARE
from ocr_assets.engine.folder.discovery import discover_pages
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.manifest.base import DONE, FAILED, Manifest, PageRecord, page_ids_digest
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.worker import output_keys

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder

"""More than half of a folder's pages failed: look for the cause before trusting the rest."""


@dataclass
class CountsInvariant:
    pages_on_disk: int = 0
    done: int = 0
    failed: int = 0
    not_terminal: list[str] = field(default_factory=list)
    without_row: list[str] = field(default_factory=list)
    row_without_page: list[str] = field(default_factory=list)
    done_without_text: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.pages_on_disk == self.done + self.failed and not self.not_terminal
                and not self.without_row and not self.row_without_page
                and not self.done_without_text)

    def problems(self) -> dict[str, list[str]]:
        """Only the non-empty lists of offending pages, by what is wrong with them."""
        named = {"not terminal (pending or running)": self.not_terminal,
                 "on disk but not in the manifest": self.without_row,
                 "in the manifest but not on disk": self.row_without_page,
                 "done but the text file is missing": self.done_without_text}
        return {what: pages for what, pages in named.items() if pages}


def check_counts(folder: ScanFolder) -> CountsInvariant:
    """The invariant of one folder, from its pages on disk, its rows and its outputs."""
    result = CountsInvariant()
    manifest, partition_key, outputs = folder.manifest, folder.key, folder.outputs
    rows = manifest.pages(partition_key)
    if rows_match_folder(folder.path, partition_key, rows, manifest):
        on_disk = set(rows)
    else:
        on_disk = {p.page_id for p in discover_pages(
            folder.path, root=folder.project.scans_root,
            max_pdf_pages=folder.project.settings.max_pdf_pages).pages}
    result.pages_on_disk = len(on_disk)
    result.without_row = sorted(on_disk - rows.keys())
    result.row_without_page = sorted(rows.keys() - on_disk)
    for page_id, row in sorted(rows.items()):
        if row.status == DONE:
            result.done += 1
            text_key, _ = output_keys(row.output_name or output_name_for(page_id))
            if not outputs.exists(text_key):
                result.done_without_text.append(page_id)
        elif row.status == FAILED:
            result.failed += 1
        else:
            result.not_terminal.append(page_id)
    return result


def rows_match_folder(folder: Path, partition_key: str, rows: Mapping[str, PageRecord],
                      manifest: Manifest) -> bool:
    """Whether the folder's `rows` are known to be exactly its pages on disk without listing
    them: its stored listing's signature is the folder's now, and its page ids are the rows'."""
    stored = manifest.stored_listing(partition_key)
    return (stored is not None and stored.pages_digest == page_ids_digest(rows)
            and stored.signature == folder_signature(folder))


@dataclass(frozen=True)
class FailureRatio:
    pages: int
    failed: int
    max_failed_share: float

    @property
    def share(self) -> float:
        return self.failed / self.pages if self.pages else 0.0

    @property
    def passed(self) -> bool:
        return self.share <= self.max_failed_share

    def describe(self) -> str:
        verdict = "above" if not self.passed else "within"
        return (f"{self.failed} of {self.pages} pages failed ({self.share:.0%}), {verdict} the "
                f"limit of {self.max_failed_share:.0%}")


def failure_ratio(rows: Mapping[str, PageRecord],
                  max_failed_share: float = DEFAULT_MAX_FAILED_SHARE) -> FailureRatio:
    """The share of failed pages among a folder's manifest rows, against the limit."""
    failed = sum(row.status == FAILED for row in rows.values())
    return FailureRatio(len(rows), failed, max_failed_share)


@dataclass(frozen=True)
class FolderVerdict:
    """Both blocking rules of one folder: what decides whether its text goes into the corpus."""

    counts: CountsInvariant
    ratio: FailureRatio

    @property
    def passed(self) -> bool:
        return self.counts.passed and self.ratio.passed

    def reasons(self) -> list[str]:
        """Why the folder is held back, one entry per broken rule (empty when it passes)."""
        reasons = [f"{len(pages)} {what}" for what, pages in self.counts.problems().items()]
        if self.counts.pages_on_disk != self.counts.done + self.counts.failed and not reasons:
            reasons.append(f"{self.counts.pages_on_disk} pages on disk but "
                           f"{self.counts.done + self.counts.failed} done or failed")
        if not self.ratio.passed:
            reasons.append(self.ratio.describe())
        return reasons


def folder_verdict(folder: ScanFolder) -> FolderVerdict:
    """The counts invariant and the failure ratio of one folder (against the project's
    `max_failed_share`), as its blocking checks (`counts_invariant`, `failure_share`) compute
    them. The ratio comes from the counts, which classed every row (done, failed or not
    terminal), so the rows are read once."""
    counts = check_counts(folder)
    rows = counts.done + counts.failed + len(counts.not_terminal)
    return FolderVerdict(counts, FailureRatio(rows, counts.failed,
                                              folder.project.config.max_failed_share))
