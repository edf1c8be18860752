"""The embedded instance's event log: Dagster's SQLite event log with the cross-run index
database kept open, one connection per process, instead of opened and closed for every event.

Why: a folder's run records about 16 events per folder (materializations, check results, the
observation, planned events), and the stock SQLite storage writes each asset or check event
through two or three fresh connections (its run's database, then the index twice), each a new
SQLAlchemy engine, a connect, a commit and a close that checkpoints the write-ahead log. On a
folder of one small page that was 0.17 s of the folder's 0.18 s of orchestration
(docs/benchmarks.md, "Many small folders"). The index database is only ever queried, never
watched, so one open connection (guarded by the storage's own lock, re-opened in a forked
child) changes nothing a reader sees; the per-run databases stay as Dagster writes them,
because the UI's live run view watches their files for changes.

The project's commands add it to the `dagster.yaml` they write into the instance's home
(`instance.render_instance_yaml`); an instance created before keeps its data, since the files
and schema are Dagster's own, and Dagster's default storage reads what this one wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from dagster._serdes import ConfigurableClassData
    from sqlalchemy.engine import Connection, Engine


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class IndexKeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose index database is one connection per process."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._index_engines: dict[int, Engine] = {}
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any,
    ) -> IndexKeptOpenSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _index_engine(self) -> Engine:
        """This process's engine for the index database. A forked child gets its own and never
        touches (or closes) the connection it inherited."""
        engine = self._index_engines.get(os.getpid())
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(INDEX_SHARD_NAME), poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                              "check_same_thread": False})
            db.event.listen(engine, "connect", _relaxed_sync)
            if INDEX_SHARD_NAME not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(INDEX_SHARD_NAME)
            self._index_engines[os.getpid()] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if shard != INDEX_SHARD_NAME:
            with super()._connect(shard) as conn:
                yield conn
            return
        with self._db_lock, self._index_engine().connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        engine = self._index_engines.pop(os.getpid(), None)
        if engine is not None:
            engine.dispose()
        super().dispose()
