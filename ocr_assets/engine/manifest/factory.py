"""Which manifest a location names: a PostgreSQL URL or a SQLite file."""

from __future__ import annotations

from pathlib import Path

from ocr_assets.engine.manifest.base import Manifest
from ocr_assets.engine.manifest.sqlite import SqliteManifest

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_manifest(location: str | Path) -> Manifest:
    """The manifest at `location`: a `postgresql://` URL (`PostgresManifest`), or else a
    SQLite file path."""
    if isinstance(location, str) and location.startswith(POSTGRES_SCHEMES):
        from ocr_assets.engine.manifest.postgres import PostgresManifest

        return PostgresManifest(location)
    return SqliteManifest(Path(location))
