"""The corpus's three files written together, rows appended in order, in a local directory,
then put in the corpus store: `pages.parquet` (row groups of bounded size), `pages.jsonl` (a
line per row) and `pages.sqlite` (its FTS5 index following by triggers).

Why a stream and local files: a corpus of 100,000 pages holds hundreds of MB of text, and
building each file whole in memory (the Parquet and JSON Lines bytes, the previous database
read into memory) cost several times that. Here a build holds one row group at most, and each
file is uploaded from disk in blocks (`OutputStore.put_file`), atomically in every store.

The database is updated, not rebuilt, when the previous build's is there to start from: the
rows of the folders that left or changed are deleted (`forget`) and only the rows read again are
inserted. It is uploaded only when it then holds exactly the corpus's rows; one that does not
(the previous file did not match the previous build: a build that died midway) is built again
from the new `pages.parquet`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ocr_assets.engine.corpus.layout import JSONL_KEY, PARQUET_KEY, SQLITE_KEY
from ocr_assets.engine.corpus.previous import open_parquet, partition_pieces
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA, CORPUS_COLUMNS, SQLITE_SCHEMA
from ocr_assets.engine.store.atomic import COPY_BLOCK
from ocr_assets.engine.store.outputs import OutputStore

ROWS_PER_BATCH = 1024
"""Rows converted to Python at once when JSON Lines and SQLite are written."""
ROW_GROUP_BYTES = 1 << 20
"""Rows gathered into one Parquet row group: at most this many bytes of Arrow data (or
`ROW_GROUP_ROWS` rows), the most a build holds at once. 4 MiB groups made a build after one
folder changed peak 52-64 MiB above its start at 20,000-60,000 pages of text, 31-48 with 1 MiB
(Arrow's own peak 17.6 -> 9.2 MiB: the group, its encoding and the previous file's group read
back), in the same time and a file 0.9 % larger (docs/benchmarks.md, "Many small folders")."""
ROW_GROUP_ROWS = 65_536


def row_tuples(table: pa.Table) -> Iterator[tuple[object, ...]]:
    """The table's rows as tuples in `CORPUS_COLUMNS` order, a batch at a time."""
    for batch in table.to_batches(max_chunksize=ROWS_PER_BATCH):
        yield from zip(*(batch.column(name).to_pylist() for name in CORPUS_COLUMNS),
                       strict=True)


def _open_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    # A private copy that is uploaded whole once committed, or thrown away: no journal and no
    # fsync to protect it (30 % of the full-text build's time on 10,000 pages).
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(SQLITE_SCHEMA)
    return db


def _insert(db: sqlite3.Connection, rows: Iterable[tuple[object, ...]]) -> None:
    columns, marks = ", ".join(CORPUS_COLUMNS), ", ".join("?" * len(CORPUS_COLUMNS))
    db.executemany(f"INSERT INTO pages ({columns}) VALUES ({marks})", rows)


class CorpusFiles:
    """The three files of one build in `directory`. With `previous_database` (the previous
    build's `pages.sqlite` copied there), the database starts from it less the rows of the
    partitions `forget` is called for, and only rows appended with `fresh` go in; without,
    every row does."""

    def __init__(self, directory: Path, *, previous_database: bool) -> None:
        self._directory = directory
        self._parquet = pq.ParquetWriter(directory / PARQUET_KEY, ARROW_SCHEMA)
        self._jsonl = (directory / JSONL_KEY).open("w", encoding="utf-8")
        self._incremental = previous_database
        self._db = _open_database(directory / SQLITE_KEY)
        self._group: list[pa.Table] = []
        self._group_bytes = self._group_rows = 0
        self.rows = 0

    def forget(self, partition: str) -> None:
        """Delete the previous build's rows of `partition` from the database (it left the
        corpus, or its rows are read again)."""
        if self._incremental:
            self._db.execute("DELETE FROM pages WHERE partition = ?", (partition,))

    def append(self, rows: pa.Table, *, fresh: bool) -> None:
        """Rows that come after every row appended before them; `fresh` when they were read
        from the page outputs in this build (not taken from the previous files)."""
        self.rows += rows.num_rows
        for row in row_tuples(rows):
            self._jsonl.write(json.dumps(dict(zip(CORPUS_COLUMNS, row, strict=True)),
                                         ensure_ascii=False))
            self._jsonl.write("\n")
        if fresh or not self._incremental:
            _insert(self._db, row_tuples(rows))
        self._group.append(rows)
        self._group_bytes += rows.nbytes
        self._group_rows += rows.num_rows
        if self._group_bytes >= ROW_GROUP_BYTES or self._group_rows >= ROW_GROUP_ROWS:
            self._write_group()

    def _write_group(self) -> None:
        if self._group:
            self._parquet.write_table(pa.concat_tables(self._group),
                                      row_group_size=ROW_GROUP_ROWS)
        self._group, self._group_bytes, self._group_rows = [], 0, 0

    def publish(self, corpus: OutputStore) -> None:
        """Close the files and put them in `corpus`, the database rebuilt first when it does
        not hold every row."""
        self._write_group()
        self._parquet.close()
        self._jsonl.close()
        self._db.commit()
        [(held,)] = self._db.execute("SELECT COUNT(*) FROM pages").fetchall()
        self._db.close()
        if held != self.rows:
            self._rebuild_database()
        for key in (PARQUET_KEY, JSONL_KEY, SQLITE_KEY):
            corpus.put_file(key, self._directory / key)

    def _rebuild_database(self) -> None:
        """A database of every row of the new `pages.parquet`, read as the previous file is
        (a row group at a time, no read-ahead)."""
        path = self._directory / SQLITE_KEY
        path.unlink()
        db = _open_database(path)
        try:
            with db, (self._directory / PARQUET_KEY).open("rb") as source:
                for _, rows in partition_pieces(open_parquet(source)):
                    _insert(db, row_tuples(rows))
        finally:
            db.close()

    def discard(self) -> None:
        """Close what is open after a failed build (the directory goes with it)."""
        self._parquet.close()
        self._jsonl.close()
        self._db.close()


def copy_previous_database(corpus: OutputStore, directory: Path) -> bool:
    """Copy the previous build's `pages.sqlite` into `directory`, where `CorpusFiles` updates
    it, a block at a time; False when there is none."""
    try:
        with corpus.open_read(SQLITE_KEY) as source, \
                (directory / SQLITE_KEY).open("wb") as target:
            shutil.copyfileobj(source, target, COPY_BLOCK)
    except FileNotFoundError:
        return False
    return True
