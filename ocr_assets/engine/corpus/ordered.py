"""Walks over folders in partition order, side by side.

A corpus build and its check compare several lists of folders: the folders registered now,
the ones the last build saw (`state.py`) and the ones a written `pages.parquet` holds. Each
comes sorted by partition key, so they are compared by walking them together, one folder at a
time, instead of loading any of them whole: what a build or a check holds then does not grow
with the number of folders (docs/benchmarks.md, "Many small folders").
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

SAMPLE_SIZE = 50
"""Items a `Tally` names, and the rows of the UI's metadata tables (`metadata.TABLE_ROWS`)."""


class NotInPartitionOrder(Exception):
    """A walk whose partitions do not come in strictly ascending order (a file written by an
    older version), so it cannot be compared one folder at a time."""


def in_partition_order(pairs: Iterable[tuple[str, T]]) -> Iterator[tuple[str, T]]:
    """`pairs` as they come; `NotInPartitionOrder` as soon as a partition is not after the one
    before it (Python's string order, the code-point order every walk here uses)."""
    last: str | None = None
    for key, item in pairs:
        if not isinstance(key, str) or (last is not None and key <= last):
            raise NotInPartitionOrder
        last = key
        yield key, item


def aligned(*walks: Iterable[tuple[str, T]]) -> Iterator[tuple[str, list[T | None]]]:
    """(partition, [its item in each walk, None where absent]) over every partition of the
    walks, in order. Each walk must be in partition order (`in_partition_order`)."""
    tagged = [_tagged(index, walk) for index, walk in enumerate(walks)]
    merged = heapq.merge(*tagged, key=lambda entry: (entry[0], entry[1]))
    for key, entries in itertools.groupby(merged, key=lambda entry: entry[0]):
        row: list[T | None] = [None] * len(walks)
        for _, index, item in entries:
            row[index] = item
        yield key, row


def _tagged(index: int, walk: Iterable[tuple[str, T]]) -> Iterator[tuple[str, int, T]]:
    for key, item in in_partition_order(walk):
        yield key, index, item


@dataclass
class Tally(Generic[T]):
    """How many, and the first `SAMPLE_SIZE`: what a summary of a walk over thousands of
    folders reports without holding them all."""

    count: int = 0
    sample: list[T] = field(default_factory=list)

    def add(self, item: T) -> None:
        self.count += 1
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(item)
