"""The previous build's `pages.parquet`, read as a stream, to take the rows of the folders that
did not change from it: how many rows it holds of each folder, then each of those folders' rows
in file order, a record batch at a time. Never the whole file in memory: what a build holds
does not grow with the corpus (docs/benchmarks.md, "Many small folders").

The file is sorted by partition and page (the build writes it so), so the folders it holds come
one after another, and a build that walks the included folders in the same order takes each
from where the last one ended. A file that is not sorted so, or of another schema, is not
reused at all: its folders are read again from their page outputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA
from ocr_assets.engine.store.outputs import OutputStore

ROWS_PER_READ = 4096
"""Rows read from the previous file at once."""


def partition_runs(source: BinaryIO,
                   columns: list[str] | None = None) -> Iterator[tuple[object, pa.Table]]:
    """The rows of the Parquet file `source` as runs of one partition each, in file order
    (a partition whose rows are not together comes as several runs)."""
    key: object = None
    pieces: list[pa.RecordBatch] = []
    for batch in pq.ParquetFile(source).iter_batches(batch_size=ROWS_PER_READ,
                                                     columns=columns):
        start = 0
        for run_key, run in itertools.groupby(batch.column("partition").to_pylist()):
            length = sum(1 for _ in run)
            if pieces and run_key != key:
                yield key, pa.Table.from_batches(pieces)
                pieces = []
            key = run_key
            pieces.append(batch.slice(start, length))
            start += length
    if pieces:
        yield key, pa.Table.from_batches(pieces)


def held_rows(corpus: OutputStore) -> dict[str, int]:
    """partition -> rows of it in the previous `pages.parquet`; empty when there is no file this
    build can take rows from: none, another schema, or not sorted by partition."""
    try:
        with corpus.open_read(PARQUET_KEY) as source:
            if not pq.ParquetFile(source).schema_arrow.equals(ARROW_SCHEMA,
                                                              check_metadata=False):
                return {}
            held: dict[str, int] = {}
            last = ""
            for key, rows in partition_runs(source, columns=["partition"]):
                if not isinstance(key, str) or key <= last:
                    return {}
                held[key], last = rows.num_rows, key
            return held
    except FileNotFoundError:
        return {}


class PreviousRows:
    """The previous file's rows of the folders asked for, asked in partition order."""

    def __init__(self, source: BinaryIO) -> None:
        self._runs = partition_runs(source)

    def take(self, key: str) -> pa.Table:
        """The rows of partition `key`, after those of every partition taken before it."""
        for run_key, rows in self._runs:
            if run_key == key:
                return rows
        raise RuntimeError(f"the previous corpus file no longer holds the rows of {key!r}: it "
                           "was replaced during this build; materialize ocr_corpus again")
