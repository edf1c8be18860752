"""Turning engine reports into Dagster metadata: numbers the UI can plot, tables people read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

from ocr_assets.engine import FolderReport, PageRecord

TABLE_ROWS = 50


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
    return markdown_table(("page", "flags", "why"),
                          ((r.page_id, r.flags, r.flag_reason) for r in flagged))


def folder_metadata(report: FolderReport) -> dict[str, dg.MetadataValue]:
    """Metadata of one `page_texts` materialization: plots over time use the numeric ones."""
    failure_rate = report.failed / report.pages if report.pages else 0.0
    metadata: dict[str, dg.MetadataValue] = {
        "folder": dg.MetadataValue.text(report.folder_name),
        "pages": dg.MetadataValue.int(report.pages),
        "done": dg.MetadataValue.int(report.done),
        "failed": dg.MetadataValue.int(report.failed),
        "pending": dg.MetadataValue.int(report.pending),
        "skipped": dg.MetadataValue.int(report.skipped),
        "processed": dg.MetadataValue.int(report.processed),
        "ignored_files": dg.MetadataValue.int(len(report.ignored)),
        "pages_per_s": dg.MetadataValue.float(round(report.pages_per_s, 3)),
        "failure_rate": dg.MetadataValue.float(round(failure_rate, 4)),
        "mean_confidence": dg.MetadataValue.float(round(report.mean_confidence or 0.0, 2)),
        "elapsed_s": dg.MetadataValue.float(round(report.elapsed_s, 2)),
        "failures": dg.MetadataValue.md(failures_table(report.failures) if report.failures
                                        else "No failed pages."),
    }
    if report.flagged:
        metadata["flagged"] = dg.MetadataValue.md(flagged_table(report.flagged))
    if report.ignored:
        metadata["ignored"] = dg.MetadataValue.json(report.ignored[:TABLE_ROWS])
    if report.refused:
        metadata["refused"] = dg.MetadataValue.json(report.refused)
    return metadata
