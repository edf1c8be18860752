"""Turning engine reports into Dagster metadata: numbers the UI can plot, tables people read."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

import dagster as dg

from ocr_assets.engine.corpus.ordered import SAMPLE_SIZE
from ocr_assets.engine.folder.batch import FolderReport
from ocr_assets.engine.manifest import PageRecord

TABLE_ROWS = SAMPLE_SIZE
"""Rows of a metadata table or list: as many as the engine's summaries name (`ordered.Tally`)."""


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table of at most TABLE_ROWS rows, with a note of how many were left out."""
    rows = list(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:TABLE_ROWS]]
    if len(rows) > TABLE_ROWS:
        lines.append(f"\n{len(rows) - TABLE_ROWS} more rows: see the failed-pages report.")
    return "\n".join(lines)


def failures_table(failures: Iterable[PageRecord]) -> str:
    return markdown_table(("page", "category", "attempts", "message"),
                          ((r.page_id, r.error_category, r.attempts, r.error_message)
                           for r in failures))


def flagged_table(flagged: Iterable[PageRecord]) -> str:
    """One row per flag of each page: the page, the flag, why."""
    return markdown_table(("page", "flag", "why"),
                          ((r.page_id, flag, reason) for r in flagged
                           for flag, reason in r.flag_reasons().items()))


def folder_metadata(report: FolderReport) -> dict[str, dg.MetadataValue]:
    """Metadata of one `page_texts` materialization: where the folder stands after the run
    (both passes; the manifest's numbers), the headline numbers and the failures first (what
    the UI shows without scrolling), then the bookkeeping.

    The UI plots every numeric entry over materializations (and across partitions), so a rate
    that this run cannot measure is left out rather than written as 0: a re-run that OCRed
    nothing has no pages/s, and a folder with no done page has no mean confidence; a 0 would
    draw a false collapse in the plot.
    """
    failure_rate = report.failed / report.pages if report.pages else 0.0
    metadata: dict[str, dg.MetadataValue] = {
        "folder": dg.MetadataValue.text(report.folder_name),
        "pages": dg.MetadataValue.int(report.pages),
        "done": dg.MetadataValue.int(report.done),
        "failed": dg.MetadataValue.int(report.failed),
        "failure_rate": dg.MetadataValue.float(round(failure_rate, 4)),
    }
    # Counts that are almost always 0 are left out when they are: as series they would only
    # clutter the plots; a folder where one is not 0 shows it.
    for name, value in (("pending", report.pending), ("recovered", report.recovered),
                        ("reused", report.reused), ("ignored_files", len(report.ignored))):
        if value:
            metadata[name] = dg.MetadataValue.int(value)
    if report.mean_confidence is not None:
        metadata["mean_confidence"] = dg.MetadataValue.float(round(report.mean_confidence, 2))
    if report.processed:
        metadata["pages_per_s"] = dg.MetadataValue.float(round(report.pages_per_s, 3))
        metadata["median_page_s"] = dg.MetadataValue.float(
            round(statistics.median(report.ocr_ms) / 1000, 3))
    metadata.update({
        "failures": dg.MetadataValue.md(failures_table(report.failures) if report.failures
                                        else "No failed pages."),
        "processed": dg.MetadataValue.int(report.processed),
        "skipped": dg.MetadataValue.int(report.skipped),
        "elapsed_s": dg.MetadataValue.float(round(report.total_s or report.elapsed_s, 2)),
    })
    if report.flagged:
        metadata["flagged"] = dg.MetadataValue.md(flagged_table(report.flagged))
    if report.ignored:
        metadata["ignored"] = dg.MetadataValue.json(report.ignored[:TABLE_ROWS])
    if report.refused:
        metadata["refused"] = dg.MetadataValue.json(report.refused)
    return metadata
