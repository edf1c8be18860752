"""The failed-pages report of one folder: each failed page, why, and how often it was tried."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ocr_assets.engine.manifest import FAILED, Manifest
from ocr_assets.engine.storage import OutputStore, open_store

REPORT_COLUMNS = ("page", "category", "message", "attempts", "fingerprint", "updated_at")


def failed_pages_frame(manifest: Manifest, partition_key: str) -> pd.DataFrame:
    rows = sorted((r for r in manifest.pages(partition_key).values() if r.status == FAILED),
                  key=lambda r: r.page_id)
    return pd.DataFrame.from_records(
        [(r.page_id, r.error_category, r.error_message, r.attempts, r.fingerprint,
          pd.Timestamp(r.updated_at, unit="s", tz="UTC") if r.updated_at else None)
         for r in rows], columns=list(REPORT_COLUMNS))


def write_failed_pages_report(frame: pd.DataFrame,
                              report_dir: Path | str | OutputStore) -> tuple[str, str]:
    """`failed_pages.csv` for spreadsheets and `failed_pages.json` for tools, both atomic, in
    the folder's report store (or its directory or URL); returns where they were written."""
    reports = open_store(report_dir)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    reports.write_bytes("failed_pages.csv", buffer.getvalue().encode("utf-8"))
    reports.write_bytes("failed_pages.json", frame.to_json(
        orient="records", date_format="iso", indent=2, force_ascii=False).encode("utf-8"))
    return reports.uri("failed_pages.csv"), reports.uri("failed_pages.json")
