"""The page manifest: one row per page, the source of truth for what is done.

`base` holds the interface, the records and the SQL that SQLite and PostgreSQL share; `sqlite`
the embedded default, `postgres` the one for several machines, `factory` picks one from a
location, and `leases` names the processes that hold pages.
"""

from ocr_assets.engine.manifest.base import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    STATUSES,
    FolderRecord,
    FolderSummary,
    Manifest,
    ManifestOpenError,
    PageOutcome,
    PageRecord,
)
from ocr_assets.engine.manifest.factory import open_manifest
from ocr_assets.engine.manifest.sqlite import SqliteManifest

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "RUNNING",
    "STATUSES",
    "FolderRecord",
    "FolderSummary",
    "Manifest",
    "ManifestOpenError",
    "PageOutcome",
    "PageRecord",
    "SqliteManifest",
    "open_manifest",
]
