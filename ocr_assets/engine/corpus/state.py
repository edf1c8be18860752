"""`state.jsonl`: what the last complete corpus build saw of each folder.

Written last by a build, so a build that dies midway leaves the previous state, and the next
build redoes what this one did not finish. It records the signature (`selection.
partition_signature`) of every registered folder as the build saw it, and whether the folder
is in the corpus: a folder in the corpus whose signature is unchanged is taken from the
previous `pages.parquet`, not re-read. The corpus check compares these with the manifest of
the moment to tell a folder the build got wrong from one that changed after it.

Why JSON Lines in partition order (a header line, then a line per folder): builds and checks
walk it beside the registered folders one folder at a time (`ordered.aligned`), so neither
holds the state of every folder. Version 2 was one JSON object of every folder's signature
(`state.json`), read whole; a build finding only that re-reads every folder once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ocr_assets.engine.corpus.layout import LEGACY_STATE_KEY, STATE_KEY
from ocr_assets.engine.corpus.ordered import NotInPartitionOrder, in_partition_order
from ocr_assets.engine.store.outputs import OutputStore, read_json

STATE_VERSION = 3
"""3: JSON Lines in partition order; 2 and 1 (`state.json`, one object) are not trusted."""


@dataclass(frozen=True)
class SeenFolder:
    """What a build saw of one folder."""

    signature: str
    included: bool


def _entries(lines: IO[str]) -> Iterator[tuple[str, SeenFolder]]:
    """The folder lines after the header, as (partition, what the build saw)."""
    for line in lines:
        entry = json.loads(line)
        yield entry["partition"], SeenFolder(entry["signature"], entry["included"] is True)


def _trusted(lines: IO[str]) -> bool:
    """Whether `lines` is a whole state of this version: its header, then folder lines that
    parse, in partition order. Read through once before the state is walked, so a damaged or
    foreign file is found before a build or a check has acted on half of it."""
    try:
        header = json.loads(lines.readline() or "null")
        if not isinstance(header, dict) or header.get("version") != STATE_VERSION:
            return False
        for _ in in_partition_order(_entries(lines)):
            pass
    except (ValueError, KeyError, TypeError, NotInPartitionOrder):
        return False
    return True


@contextmanager
def open_state(corpus: OutputStore) -> Iterator[Iterator[tuple[str, SeenFolder]] | None]:
    """The last complete build's state, as a walk in partition order; None when there is none
    to trust (never built, an older version's, or damaged)."""
    try:
        source = corpus.open_read(STATE_KEY)
    except FileNotFoundError:
        yield None
        return
    with source, io.TextIOWrapper(source, encoding="utf-8") as lines:
        if not _trusted(lines):
            yield None
            return
        lines.seek(0)
        lines.readline()
        yield _entries(lines)


def legacy_partitions(corpus: OutputStore) -> list[str]:
    """The included folders of a version-1 state: that version kept a part per folder
    (`parts/<partition>.parquet`), which a newer build deletes."""
    try:
        state = read_json(corpus, LEGACY_STATE_KEY)
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    if not isinstance(state, dict) or state.get("version") != 1:
        return []
    return list(state.get("partitions", {}))


class StateWriter:
    """A build's state, written a folder at a time in partition order to a local file (closed
    on leaving the `with` block), put in the corpus store once the build's files are
    (`publish_state`)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")
        self._file.write(json.dumps({"version": STATE_VERSION}) + "\n")
        self._last: str | None = None

    def __enter__(self) -> StateWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._file.close()

    def add(self, partition: str, signature: str, included: bool) -> None:
        if self._last is not None and partition <= self._last:
            raise ValueError(f"state line for {partition!r} after {self._last!r}: the folders "
                             "must come in partition order")
        self._last = partition
        self._file.write(json.dumps({"partition": partition, "signature": signature,
                                     "included": included}, ensure_ascii=False) + "\n")


def publish_state(corpus: OutputStore, path: Path) -> None:
    """Put the state a `StateWriter` wrote at `path` in `corpus` (atomically), and delete an
    older version's."""
    corpus.put_file(STATE_KEY, path)
    corpus.delete(LEGACY_STATE_KEY)
