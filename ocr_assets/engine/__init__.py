"""The OCR engine: plain Python with no Dagster import, so it can be tested and reused alone.

Entry points:
- `process_folder`: OCR every pending page of one scan folder, resumably.
- `discover_pages`: which files of a folder are pages, in stable natural order.
- `open_manifest`: the per-page source of truth, SQLite (a path) or PostgreSQL (a URL).
- `open_store`: where outputs live, a directory or an object store (a URL).
- `OcrSettings`: every knob, in one frozen value.
"""

from ocr_assets.engine.batch import FolderPlan, FolderReport, plan_folder, process_folder
from ocr_assets.engine.discovery import Page, discover_pages
from ocr_assets.engine.manifest import Manifest, PageRecord, SqliteManifest, open_manifest
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.storage import OutputStore, open_store

__all__ = [
    "FolderPlan",
    "FolderReport",
    "Manifest",
    "OcrSettings",
    "OutputStore",
    "Page",
    "PageRecord",
    "SqliteManifest",
    "discover_pages",
    "open_manifest",
    "open_store",
    "plan_folder",
    "process_folder",
]
