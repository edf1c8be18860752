"""The failed-pages report of one folder: each failed page, why, and how often it was tried."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ocr_assets.engine.atomic import write_bytes_atomic
from ocr_assets.engine.manifest import FAILED, Manifest

REPORT_COLUMNS = ("page", "category", "message", "attempts", "fingerprint", "updated_at")


def failed_pages_frame(manifest: Manifest, partition_key: str) -> pd.DataFrame:
    rows = sorted((r for r in manifest.pages(partition_key).values() if r.status == FAILED),
                  key=lambda r: r.page_id)
    return pd.DataFrame.from_records(
        [(r.page_id, r.error_category, r.error_message, r.attempts, r.fingerprint,
          pd.Timestamp(r.updated_at, unit="s", tz="UTC") if r.updated_at else None)
         for r in rows], columns=list(REPORT_COLUMNS))


def write_failed_pages_report(frame: pd.DataFrame, report_dir: Path) -> tuple[Path, Path]:
    """`failed_pages.csv` for spreadsheets and `failed_pages.json` for tools, both atomic."""
    csv_path, json_path = report_dir / "failed_pages.csv", report_dir / "failed_pages.json"
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    write_bytes_atomic(csv_path, buffer.getvalue().encode("utf-8"))
    write_bytes_atomic(json_path, frame.to_json(orient="records", date_format="iso",
                                                indent=2, force_ascii=False).encode("utf-8"))
    return csv_path, json_path
