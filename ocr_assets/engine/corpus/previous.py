"""The previous build's `pages.parquet`, read as a stream, to take the rows of the folders that
did not change from it: how many rows it holds of each folder (a walk beside the folders),
then each of those folders' rows in file order, a record batch at a time. Never the whole file
in memory: what a build holds does not grow with the corpus (docs/benchmarks.md, "Many small
folders").

The file is sorted by partition and page (the build writes it so), so the folders it holds come
one after another, and a build that walks the included folders in the same order takes each
from where the last one ended. A file that is not sorted so, or of another schema, is not
reused at all: its folders are read again from their page outputs. The corpus check walks the
written file the same way, a folder at a time (`partition_groups`, `verify.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.engine.corpus.ordered import in_partition_order
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA
from ocr_assets.engine.store.outputs import OutputStore

ROWS_PER_READ = 4096
"""Rows read from the previous file at once."""


def open_parquet(source: BinaryIO) -> pq.ParquetFile:
    """The Parquet file `source`, without Arrow's read-ahead (`pre_buffer`), which buffered the
    column chunks of the row groups to come: the memory of an incremental build grew with the
    corpus (measured: docs/benchmarks.md, "Many small folders")."""
    return pq.ParquetFile(source, pre_buffer=False)


def partition_pieces(parquet: pq.ParquetFile,
                     columns: list[str] | None = None) -> Iterator[tuple[object, pa.Table]]:
    """The rows of `parquet` in file order, a row group at a time, as pieces of at most
    `ROWS_PER_READ` rows of one partition each (a partition's rows come as consecutive pieces,
    or, in a file not sorted by partition, as several runs of them)."""
    for group in range(parquet.num_row_groups):
        rows = parquet.read_row_group(group, columns=columns, use_threads=False)
        yield from _pieces_of(rows)


def _pieces_of(rows: pa.Table) -> Iterator[tuple[object, pa.Table]]:
    for batch in rows.to_batches(max_chunksize=ROWS_PER_READ):
        start = 0
        for key, run in itertools.groupby(batch.column("partition").to_pylist()):
            length = sum(1 for _ in run)
            yield key, pa.Table.from_batches([batch.slice(start, length)])
            start += length


def partition_groups(parquet: pq.ParquetFile,
                     columns: list[str] | None = None) -> Iterator[tuple[str, list[pa.Table]]]:
    """(partition, its pieces) of `parquet`, one partition at a time in file order;
    `NotInPartitionOrder` when a partition comes before, or again after, one already passed.
    Holds one partition's pieces: for its few short columns, not for its text."""
    groups = ((key, [rows for _, rows in pieces]) for key, pieces in
              itertools.groupby(partition_pieces(parquet, columns), key=lambda piece: piece[0]))
    return in_partition_order(groups)


@contextmanager
def held_rows(corpus: OutputStore) -> Iterator[Iterator[tuple[str, int]]]:
    """(partition, its rows in the previous `pages.parquet`) in partition order, as a walk
    (`ordered.aligned`); an empty walk when there is no file this build can take rows from:
    none, or another schema. A file not sorted by partition raises `NotInPartitionOrder`
    during the walk."""
    try:
        source = corpus.open_read(PARQUET_KEY)
    except FileNotFoundError:
        yield iter(())
        return
    with source:
        parquet = open_parquet(source)  # its footer read once, for both uses
        if not parquet.schema_arrow.equals(ARROW_SCHEMA, check_metadata=False):
            yield iter(())
            return
        yield ((key, sum(rows.num_rows for rows in pieces))
               for key, pieces in partition_groups(parquet, columns=["partition"]))


class PreviousRows:
    """The previous file's rows of the folders asked for, asked in partition order, from its
    `partition_pieces` (none when no folder is taken from it)."""

    def __init__(self, pieces: Iterator[tuple[object, pa.Table]]) -> None:
        self._pieces = pieces
        self._next: tuple[object, pa.Table] | None = next(self._pieces, None)

    def take(self, key: str) -> Iterator[pa.Table]:
        """The rows of partition `key`, a piece at a time, after those of every partition
        taken before it (read to the end before the next is asked for)."""
        while self._next is not None and self._next[0] != key:
            self._next = next(self._pieces, None)
        if self._next is None:
            raise RuntimeError(f"the previous corpus file no longer holds the rows of {key!r}: "
                               "it was replaced during this build; materialize ocr_corpus "
                               "again")
        while self._next is not None and self._next[0] == key:
            yield self._next[1]
            self._next = next(self._pieces, None)
