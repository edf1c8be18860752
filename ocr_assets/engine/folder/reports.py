"""The failed-pages report of one folder: each page that failed, why, how often it was tried,
and what the retry pass made of it (recovered by which strategy, or still failing and why)."""

from __future__ import annotations

import io

import pandas as pd

from ocr_assets.engine.folder.retry import (
    NOT_RETRIED,
    RECOVERED,
    PageRetry,
    entry_applies,
    strategies_for,
)
from ocr_assets.engine.manifest import DONE, FAILED, Manifest
from ocr_assets.engine.store.outputs import OutputStore

REPORT_KEYS = ("failed_pages.csv", "failed_pages.json")
ACCURACY_REPORT_KEYS = ("accuracy.csv", "accuracy.json")
REPORT_COLUMNS = ("page", "status", "category", "message", "attempts", "retry_outcome",
                  "retry_strategies", "recovered_by", "first_category", "fingerprint",
                  "updated_at")


def failed_pages_frame(manifest: Manifest, partition_key: str,
                       retry_record: dict[str, PageRetry] | None = None) -> pd.DataFrame:
    """Every failed page, and every page the retry pass recovered from a failure (still on the
    same input), in page order."""
    record = retry_record or {}
    records = []
    for page_id, row in sorted(manifest.pages(partition_key).items()):
        entry = record.get(page_id)
        if entry is not None and not entry_applies(entry, row):
            entry = None  # the scan or recipe changed since: the outcome is about another read
        recovered = row.status == DONE and entry is not None and entry.outcome == RECOVERED
        if row.status != FAILED and not recovered:
            continue
        if entry is not None:
            outcome = entry.outcome
        elif strategies_for(row):
            outcome = "not_yet_retried"
        else:
            outcome = NOT_RETRIED
        records.append({
            "page": page_id, "status": row.status, "category": row.error_category,
            "message": row.error_message, "attempts": row.attempts, "retry_outcome": outcome,
            "retry_strategies": ", ".join(entry.strategies) if entry else "",
            "recovered_by": entry.recovered_by if entry else None,
            "first_category": entry.first_category if entry else row.error_category,
            "fingerprint": row.fingerprint,
            "updated_at": pd.Timestamp(row.updated_at, unit="s", tz="UTC")
            if row.updated_at else None,
        })
    return pd.DataFrame.from_records(records, columns=list(REPORT_COLUMNS))


def write_frame_report(frame: pd.DataFrame, reports: OutputStore,
                       stem: str) -> tuple[str, str]:
    """`<stem>.csv` for spreadsheets and `<stem>.json` for tools, both atomic, in the folder's
    report store; returns where they were written. The temp files a writer killed here left
    behind go first (the page outputs' sweep never looks in the report store)."""
    reports.remove_partial_writes()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    reports.write_bytes(f"{stem}.csv", buffer.getvalue().encode("utf-8"))
    reports.write_bytes(f"{stem}.json", frame.to_json(
        orient="records", date_format="iso", indent=2, force_ascii=False).encode("utf-8"))
    return reports.uri(f"{stem}.csv"), reports.uri(f"{stem}.json")


def write_failed_pages_report(frame: pd.DataFrame,
                              reports: OutputStore) -> tuple[str, str]:
    """`failed_pages.csv` and `failed_pages.json` in the folder's report store."""
    return write_frame_report(frame, reports, "failed_pages")
