"""The embedded default manifest: one SQLite file in WAL mode, with a busy timeout and
`BEGIN IMMEDIATE`, so several runs on one machine share it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ocr_assets.engine.manifest.base import (
    SQLITE_MIGRATIONS,
    ManifestOpenError,
    SqlConnection,
    SqlManifest,
)

BUSY_TIMEOUT_S = 60.0
"""How long a writer waits for another one before it gives up."""

PAGE_CACHE_KIB = 256
"""The page cache of a connection a process keeps open (SQLite's default: 2,000 KiB). An
orchestrating process keeps several (the manifest's, one per thread; the event log's index and
the databases of the runs it is writing), and each cache fills as its database grows: at 2 MB
apiece they made the process's memory grow with the folders it had run (SQLite's heap peaked at
6.1 MiB after 1,000 one-page folders, 2.5 with this cap; docs/benchmarks.md, "Many small
folders"). What a query needs beyond the cache, the operating system's file cache serves."""


def limit_page_cache(db: sqlite3.Connection) -> None:
    """Bound `db`'s page cache to `PAGE_CACHE_KIB`."""
    db.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")


class SqliteManifest(SqlManifest):
    """The embedded manifest: one SQLite file shared by every run on this machine."""

    BEGIN = "BEGIN IMMEDIATE"
    """Concurrent writers queue on the busy timeout instead of failing with 'database is
    locked' at commit."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise ManifestOpenError(
                f"cannot open the manifest {self.path}: {exc}; if the file is damaged, restore "
                "it from a backup or move it away (the next run rebuilds it and OCRs every page "
                "again)") from exc

    def _migrate(self) -> None:
        """Create or upgrade the schema to the newest version. Read without a lock first (the
        usual case: nothing to do), then again under `BEGIN IMMEDIATE`, so two processes
        opening an old manifest at once upgrade it once. A process killed midway leaves the
        old version (SQLite's DDL is transactional), and the next one upgrades it. Not a
        `manifest.commit` kill point: the crash tests count the commits of the manifest's
        writes, and opening one must not shift that count."""
        db = self._connection()
        if self._version(db) == len(SQLITE_MIGRATIONS):
            return
        db.execute(self.BEGIN)
        try:
            current = self._version(db)
            if current > len(SQLITE_MIGRATIONS):
                raise ManifestOpenError(
                    f"the manifest {self.path} is at schema version {current}, newer than this "
                    f"ocr-assets knows ({len(SQLITE_MIGRATIONS)}): upgrade ocr-assets on this "
                    "machine")
            for statements in SQLITE_MIGRATIONS[current:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(SQLITE_MIGRATIONS)}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _version(db: SqlConnection) -> int:
        return int(db.execute("PRAGMA user_version").fetchone()[0])

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self._use_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        limit_page_cache(db)
        return db

    def _use_wal(self, db: sqlite3.Connection) -> None:
        """Switch a file to write-ahead logging (a no-op once it is). The switch needs the file
        to itself, and SQLite answers "database is locked" at once, without its busy handler,
        while another process reads it: so several processes opening a file still in rollback
        mode (a new or an old manifest) take turns here."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise sqlite3.OperationalError(
                        f"{self.path}: {exc}; another process held the manifest for "
                        f"{BUSY_TIMEOUT_S:g} s") from exc
                time.sleep(0.01)

    def _lock_folder(self, db: SqlConnection, partition_key: str) -> None:
        """Nothing to do: `BEGIN IMMEDIATE` already makes every write transaction exclusive."""
