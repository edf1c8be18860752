"""The aggregated corpus: one row per done page of every verified folder, in the formats
corpus users and archives expect.

- `pages.parquet`: for analysis (pandas, DuckDB, Spark);
- `pages.jsonl`: JSON Lines for streaming tools;
- `pages.sqlite`: SQLite with an FTS5 full-text index (`pages_fts`) for search
  (`ocr-assets search`, or any SQLite client).

A folder is in the corpus only when its blocking verdict passes (`selection.py`). The build is
incremental: the rows of a folder whose manifest rows are unchanged since the previous build
(the signatures in `state.json`, `state.py`) are taken from the previous `pages.parquet`
(`previous.py`); only the folders that changed are read again from their page outputs, and the
SQLite index is updated, not rebuilt (`files.py`). Two builds never run at once: the corpus
asset and its check share a Dagster pool of one slot (`orchestration/concurrency.py`), so one
build's files are never mixed with another's. Everything is written through the output store,
atomically, and `state.json` last, so a build that dies midway is redone by the next one; a
folder whose rows the previous files do not hold after all (such a build) is read again too.

Why a stream, in partition order: the rows are written as they are read, the included folders
one after another, a chunk of rows at a time; what a build holds is a chunk of rows and a
Parquet row group, whatever the number of folders, their size or the size of the corpus (a
frame or a file per folder, and then the whole corpus in memory, made it grow with both:
docs/benchmarks.md, "Many small folders").
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from ocr_assets.engine.corpus.files import CorpusFiles, copy_previous_database
from ocr_assets.engine.corpus.layout import JSONL_KEY, PARQUET_KEY, PARTS_PREFIX, SQLITE_KEY
from ocr_assets.engine.corpus.previous import (
    PreviousRows,
    held_rows,
    open_parquet,
    partition_pieces,
)
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA
from ocr_assets.engine.corpus.selection import included_partitions
from ocr_assets.engine.corpus.state import (
    BuildState,
    legacy_partitions,
    read_state,
    write_state,
)
from ocr_assets.engine.manifest import DONE, Manifest
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import OutputStore, read_json, read_text

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project


@dataclass
class CorpusSummary:
    rows: int = 0
    folders: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    """partition key -> why it is not in the corpus (a blocking rule it breaks)."""
    waiting: list[str] = field(default_factory=list)
    """Registered folders not OCRed yet: no failure, their first run is still to come."""
    reread: list[str] = field(default_factory=list)
    """Partitions whose pages were read from the page outputs in this build."""
    reused: list[str] = field(default_factory=list)
    """Partitions taken unchanged from the previous build."""
    removed: list[str] = field(default_factory=list)
    """Partitions of the previous build that are no longer included."""
    parquet: str | None = None
    """Where `pages.parquet` was written (a path, or a URL for an object store)."""
    jsonl: str | None = None
    sqlite: str | None = None


ROWS_PER_CHUNK = 1024
"""Pages read from their outputs into one Arrow table: bounds what a build holds of them,
whether they come from many small folders or from one large one."""


def partition_records(manifest: Manifest, outputs: OutputStore, partition_key: str,
                      folder_name: str) -> Iterator[dict[str, object]]:
    """The corpus rows of one folder's done pages, read from its page outputs as they are
    asked for."""
    for page_id, row in sorted(manifest.pages(partition_key).items()):
        if row.status != DONE or row.output_name is None:
            continue
        text_key, facts_key = output_keys(row.output_name)
        try:
            facts = read_json(outputs, facts_key)
        except FileNotFoundError:
            facts = {}
        facts = facts if isinstance(facts, dict) else {}
        settings = facts.get("settings")
        yield {
            "folder": folder_name, "partition": partition_key, "page": page_id,
            "text": read_text(outputs, text_key), "mean_confidence": row.mean_confidence,
            "garbage_score": row.garbage_score, "flags": row.flags,
            "flag_reason": row.flag_reason, "words": row.words, "chars": row.chars,
            "engine": row.engine, "engine_version": facts.get("engine_version"),
            "settings": json.dumps(settings, sort_keys=True) if settings else None,
            "fingerprint": row.fingerprint,
        }


def read_folders(manifest: Manifest, pages_store: OutputStore, folders: dict[str, str],
                 rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[pa.Table]:
    """The rows of `folders` (partition key -> folder name), in their order, one Arrow table
    per `rows_per_chunk` rows (the last one shorter)."""
    records: list[dict[str, object]] = []
    for key, name in folders.items():
        for record in partition_records(manifest, pages_store.child(key), key, name):
            records.append(record)
            if len(records) == rows_per_chunk:
                yield pa.Table.from_pylist(records, schema=ARROW_SCHEMA)
                records = []
    if records:
        yield pa.Table.from_pylist(records, schema=ARROW_SCHEMA)


def _remove_legacy_parts(corpus: OutputStore) -> None:
    """Delete the per-folder parts (`parts/<partition>.parquet`) an older version kept."""
    parts = corpus.child(PARTS_PREFIX)
    for key in legacy_partitions(corpus):
        parts.delete(f"{key}.parquet")


def _ordered_rows(manifest: Manifest, pages_store: OutputStore, included: dict[str, str],
                  reusable: set[str], previous: PreviousRows) -> Iterator[tuple[pa.Table, bool]]:
    """The corpus's rows in partition order, each piece with whether it was read again: the
    `reusable` folders' from `previous`, the others' from their page outputs, a chunk of rows
    of consecutive folders at a time."""
    reread: dict[str, str] = {}
    for key in sorted(included):
        if key not in reusable:
            reread[key] = included[key]
            continue
        if reread:
            yield from ((rows, True) for rows in read_folders(manifest, pages_store, reread))
            reread = {}
        yield from ((rows, False) for rows in previous.take(key))
    yield from ((rows, True) for rows in read_folders(manifest, pages_store, reread))


def build_corpus(project: Project) -> CorpusSummary:
    """Bring `pages.parquet`, `pages.jsonl` and `pages.sqlite` in the project's corpus store up
    to date, re-reading only the folders that changed since the previous build."""
    summary = CorpusSummary()
    manifest, pages_store, corpus = project.manifest, project.ocr_store, project.corpus_store
    selection = included_partitions(project)
    included, summary.excluded, summary.waiting = (selection.included, selection.excluded,
                                                   selection.waiting)
    previous = read_state(corpus)
    if previous is None:
        _remove_legacy_parts(corpus)
        previous = BuildState()
    unchanged = {key for key in included
                 if previous.included.get(key) == selection.signatures[key]}
    held = held_rows(corpus) if unchanged else {}
    reusable = {key for key in unchanged if held.get(key) == selection.done[key]}
    summary.reused = [key for key in included if key in reusable]
    summary.reread = [key for key in included if key not in reusable]
    summary.removed = sorted(previous.included.keys() - included.keys())
    summary.rows = sum(held[key] for key in reusable)
    outputs_exist = all(corpus.exists(k) for k in (PARQUET_KEY, JSONL_KEY, SQLITE_KEY))
    if summary.reread or summary.removed or not outputs_exist:
        with tempfile.TemporaryDirectory(prefix="ocr-assets-corpus-") as tmp, \
                ExitStack() as previous_file:
            directory = Path(tmp)
            rows = PreviousRows(partition_pieces(open_parquet(
                previous_file.enter_context(corpus.open_read(PARQUET_KEY)))) if reusable
                else iter(()))
            files = CorpusFiles(
                directory, drop=[*summary.removed, *summary.reread],
                previous_database=bool(previous.included)
                and copy_previous_database(corpus, directory))
            try:
                for piece, fresh in _ordered_rows(manifest, pages_store, included, reusable,
                                                  rows):
                    files.append(piece, fresh=fresh)
            except BaseException:
                files.discard()
                raise
            files.publish(corpus)
            summary.rows = files.rows
    write_state(corpus, BuildState(
        included={key: selection.signatures[key] for key in included},
        left_out={key: signature for key, signature in selection.signatures.items()
                  if key not in included}))
    summary.folders = len(included)
    summary.parquet, summary.jsonl, summary.sqlite = (
        corpus.uri(PARQUET_KEY), corpus.uri(JSONL_KEY), corpus.uri(SQLITE_KEY))
    return summary


def read_corpus(corpus: OutputStore,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The written corpus (`pages.parquet`), or only its `columns`, read from the file as
    they are needed (two short columns of a large corpus cost only theirs); `FileNotFoundError`
    when it was never built."""
    with corpus.open_read(PARQUET_KEY) as source:
        return pd.read_parquet(source, columns=columns)
