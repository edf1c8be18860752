"""The embedded instance's event log: Dagster's SQLite event log with its databases kept open,
one connection per database and process, instead of opened and closed for every event.

Why: a folder's run records about 18 events per folder (materializations, check results, the
observation, planned events), and the stock SQLite storage writes each asset or check event
through two or three fresh connections (its run's database, then the index twice), each a new
SQLAlchemy engine, a connect, a commit and a close that checkpoints the write-ahead log. On a
folder of one small page that was most of the folder's orchestration (docs/benchmarks.md,
"Many small folders").

What it keeps open: the index database for the life of the process, and the databases of the
few runs this process is writing or reading (a small LRU set, each closed when its run ends,
which checkpoints its write-ahead log into the database file). Both are guarded by the
storage's own lock and re-opened in a forked child, which never touches what it inherited.
A run that ended in this process is read afterwards (its check results, its alerts) through a
connection of its own, closed after the read, as the stock storage does: kept open, each such
database held its page cache, 2-3 MiB for a run of 200 folders, in a process that runs one
after another (docs/benchmarks.md, "Many small folders").

The one thing a kept connection changes for a reader: the stock storage's close folded each
event into the run's database file, whose modification the UI's live run view watches; a kept
connection appends to the write-ahead log (`<run>.db-wal`) instead. So this storage's `watch`
follows both files, and the webserver, which reads the same `dagster.yaml`, sees each event as
it is written.

The project's commands add it to the `dagster.yaml` they write into the instance's home
(`instance.render_instance_yaml`); an instance created before keeps its data, since the files
and schema are Dagster's own, and Dagster's default storage reads what this one wrote.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as db
from dagster._core.events import DagsterEventType
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import StaticPool
from watchdog.observers import Observer

from ocr_assets.engine.manifest.sqlite import limit_page_cache

if TYPE_CHECKING:
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.event_log.base import EventHandlerFn
    from dagster._serdes import ConfigurableClassData
    from sqlalchemy.engine import Connection, Engine
    from watchdog.events import FileSystemEvent

# Runs whose databases one process keeps open at once: a run's own process writes one, the
# webserver reads the few a user is watching; an older one is closed when a new one opens.
OPEN_RUN_DATABASES = 4

RUN_ENDED = frozenset({DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE,
                       DagsterEventType.RUN_CANCELED})


def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
    """WAL with synchronous=NORMAL: a commit is durable against a crash of the process, and
    only the last commits may be lost to a power cut (the run's own manifest is the page truth).
    The page cache bounded as the manifest's is: this connection stays open."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    limit_page_cache(dbapi_connection)


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose databases stay open, one connection each per process."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: dict[int, OrderedDict[str, Engine]] = {}
        self._ended: set[str] = set()
        self._tables_found: set[str] = set()
        self._asset_key_index_cols = False
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any,
    ) -> KeptOpenSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """This process's engine for `shard`, opened on first use. A forked child gets its own
        and never touches (or closes) what it inherited. Called under `_db_lock`."""
        engines = self._engines.setdefault(os.getpid(), OrderedDict())
        engine = engines.get(shard)
        if engine is not None:
            engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard), poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        db.event.listen(engine, "connect", _configure_connection)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        engines[shard] = engine
        runs_open = [name for name in engines if name != INDEX_SHARD_NAME]
        for oldest in runs_open[:-OPEN_RUN_DATABASES]:
            engines.pop(oldest).dispose()
        return engine

    def _close(self, shard: str) -> None:
        """Close this process's connection to `shard`: SQLite then checkpoints its write-ahead
        log into the database file. Called under `_db_lock`."""
        engine = self._engines.get(os.getpid(), OrderedDict()).pop(shard, None)
        if engine is not None:
            engine.dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if shard in self._ended:
            with super()._connect(shard) as conn:
                yield conn
            return
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index has `table_name`, asked once per process: the stock storage opens
        a new engine to ask before every check event (`supports_asset_checks`). A table found
        stays (migrations add tables, none drops one); one missing is asked for again. Asked
        through a connection of its own, as the stock storage does: callers hold the index's."""
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        """The stock storage reads the asset table's columns before every asset event; they
        are read once per process here, and again only while the migration is missing."""
        if not self._asset_key_index_cols:
            self._asset_key_index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._asset_key_index_cols

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(event)
        if event.is_dagster_event and event.dagster_event_type in RUN_ENDED:
            with self._db_lock:
                self._close(event.run_id)
                self._ended.add(event.run_id)

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._db_lock:
            self._close(run_id)

    def wipe(self) -> None:
        with self._db_lock:
            for shard in [name for name in self._engines.get(os.getpid(), {})
                          if name != INDEX_SHARD_NAME]:
                self._close(shard)
        super().wipe()

    def watch(self, run_id: str, cursor: str | None, callback: EventHandlerFn) -> None:
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _RunLogWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (
            watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))

    def dispose(self) -> None:
        """Stop the watch first: its thread reads the watched runs' databases, and a read that
        came after the engines were closed would open one again, and keep it open."""
        super().dispose()
        with self._db_lock:
            for engine in self._engines.pop(os.getpid(), OrderedDict()).values():
                engine.dispose()


class _RunLogWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watch of a run's database, following its write-ahead log as well: a writer
    that keeps its connection open changes the `-wal` file, not the database file."""

    def __init__(self, storage: KeptOpenSqliteEventLogStorage, run_id: str,
                 callback: EventHandlerFn, cursor: str | None) -> None:
        super().__init__(storage, run_id, callback, cursor)
        # watchdog's handler keeps its patterns here and offers no setter.
        self._patterns = [self._log_path, f"{self._log_path}-wal"]

    def on_created(self, event: FileSystemEvent) -> None:
        self._process_log()

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()
