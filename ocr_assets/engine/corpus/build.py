"""The aggregated corpus: one row per done page of every verified folder, in the formats
corpus users and archives expect.

- `pages.parquet`: for analysis (pandas, DuckDB, Spark);
- `pages.jsonl`: JSON Lines for streaming tools;
- `pages.sqlite`: SQLite with an FTS5 full-text index (`pages_fts`) for search
  (`ocr-assets search`, or any SQLite client).

A folder is in the corpus only when its blocking verdict passes (`selection.py`). The build is
incremental: the rows of a folder whose manifest rows are unchanged since the previous build
(the signatures in `state.jsonl`, `state.py`) are taken from the previous `pages.parquet`
(`previous.py`); only the folders that changed are read again from their page outputs, and the
SQLite index is updated, not rebuilt (`files.py`). Two builds never run at once: the corpus
asset and its check share a Dagster pool of one slot (`orchestration/concurrency.py`), so one
build's files are never mixed with another's. Everything is written through the output store,
atomically, and `state.jsonl` last, so a build that dies midway is redone by the next one; a
folder whose rows the previous files do not hold after all (such a build) is read again too.

Why a stream, in partition order, in two passes: the first walks the registered folders beside
the previous state and the previous file's rows (`ordered.aligned`), deciding folder by folder
and writing its plan and the new state to a temporary directory; the second writes the rows as
they are read, the included folders one after another, a chunk of rows at a time. What a build
holds is one folder's verdict, a chunk of rows and a Parquet row group, whatever the number of
folders, their size or the size of the corpus (a frame or a file per folder, then the whole
corpus in memory, then every folder's signature and verdict at once, made it grow:
docs/benchmarks.md, "Many small folders").
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from ocr_assets.engine.corpus.files import CorpusFiles, copy_previous_database
from ocr_assets.engine.corpus.layout import (
    JSONL_KEY,
    PARQUET_KEY,
    PARTS_PREFIX,
    SQLITE_KEY,
    STATE_KEY,
)
from ocr_assets.engine.corpus.ordered import NotInPartitionOrder, Tally, aligned
from ocr_assets.engine.corpus.previous import (
    PreviousRows,
    held_rows,
    open_parquet,
    partition_pieces,
)
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA
from ocr_assets.engine.corpus.selection import INCLUDED, WAITING, FolderChoice, folder_choices
from ocr_assets.engine.corpus.state import (
    SeenFolder,
    StateWriter,
    legacy_partitions,
    open_state,
    publish_state,
)
from ocr_assets.engine.manifest import DONE, Manifest
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import OutputStore, read_json, read_text

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project


@dataclass
class CorpusSummary:
    """What a build did. The folders are counted, and named up to `ordered.SAMPLE_SIZE`:
    a summary of 100,000 folders does not hold their names."""

    rows: int = 0
    folders: int = 0
    excluded: Tally[tuple[str, str]] = field(default_factory=Tally)
    """(partition key, why it is not in the corpus: a blocking rule it breaks)."""
    waiting: Tally[str] = field(default_factory=Tally)
    """Registered folders not OCRed yet: no failure, their first run is still to come."""
    reread: Tally[str] = field(default_factory=Tally)
    """Partitions whose pages were read from the page outputs in this build."""
    reused: Tally[str] = field(default_factory=Tally)
    """Partitions taken unchanged from the previous build."""
    removed: Tally[str] = field(default_factory=Tally)
    """Partitions of the previous build that are no longer included."""
    parquet: str | None = None
    """Where `pages.parquet` was written (a path, or a URL for an object store)."""
    jsonl: str | None = None
    sqlite: str | None = None


ROWS_PER_CHUNK = 256
"""Pages read from their outputs into one Arrow table: bounds what a build holds of them,
whether they come from many small folders or from one large one. 1,024 pages of text (about
2 MB, more than a row group) made a build peak 5-8 MiB higher at 20,000 pages, for no gain in
time (docs/benchmarks.md, "Many small folders")."""
REUSE, REREAD, DROP = "reuse", "reread", "drop"
"""What a build does with a folder (a line of its plan): take its rows from the previous
file, read them from its page outputs, or delete the previous build's rows of it."""
PLAN_NAME = "plan.jsonl"
"""The build's plan in its temporary directory: a line per folder it writes or drops."""


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


def read_folders(manifest: Manifest, pages_store: OutputStore, folders: Iterable[tuple[str, str]],
                 rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[pa.Table]:
    """The rows of `folders` ((partition key, folder name) pairs), in their order, one Arrow
    table per `rows_per_chunk` rows (the last one shorter)."""
    records: list[dict[str, object]] = []
    for key, name in folders:
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


def _decide(choice: FolderChoice | None, seen: SeenFolder | None, held: int | None,
            summary: CorpusSummary) -> str | None:
    """What the build does with one folder (None: nothing), counted in `summary`. An included
    folder is taken from the previous file only when the previous build included it with the
    same signature and the file holds exactly its done pages."""
    was_included = seen is not None and seen.included
    if choice is None or choice.verdict != INCLUDED:
        if choice is not None and choice.verdict == WAITING:
            summary.waiting.add(choice.partition)
        elif choice is not None:
            summary.excluded.add((choice.partition, choice.reason))
        return DROP if was_included else None
    summary.folders += 1
    if was_included and seen.signature == choice.signature and held == choice.done:
        summary.rows += held
        return REUSE
    return REREAD


def _plan(project: Project, directory: Path, *, trust_previous: bool) -> CorpusSummary:
    """The build's first pass: every registered folder's verdict, beside what the previous
    build saw of it and the rows the previous file holds of it, one folder at a time. Writes
    the plan (`PLAN_NAME`) and the new state (`STATE_KEY`) to `directory`;
    `NotInPartitionOrder` when the previous file is not sorted by partition (the caller plans
    again without trusting it)."""
    summary = CorpusSummary()
    with ExitStack() as stack:
        plan = stack.enter_context((directory / PLAN_NAME).open("w", encoding="utf-8"))
        state = stack.enter_context(StateWriter(directory / STATE_KEY))
        seen = stack.enter_context(open_state(project.corpus_store)) if trust_previous else None
        if seen is None:
            if trust_previous:
                _remove_legacy_parts(project.corpus_store)
            seen, held = iter(()), iter(())
        else:
            held = stack.enter_context(held_rows(project.corpus_store))
        for key, (choice, was, rows) in aligned(folder_choices(project), seen, held):
            if choice is not None:
                state.add(key, choice.signature, choice.verdict == INCLUDED)
            action = _decide(choice, was, rows, summary)
            if action is not None:
                _note(plan, summary, key, choice.folder if choice else "", action)
    return summary


def _note(plan: IO[str], summary: CorpusSummary, key: str, folder: str, action: str) -> None:
    plan.write(json.dumps([key, folder, action], ensure_ascii=False) + "\n")
    {REUSE: summary.reused, REREAD: summary.reread, DROP: summary.removed}[action].add(key)


def _planned(path: Path, files: CorpusFiles) -> Iterator[tuple[str, str, str]]:
    """The plan's folders to write, in order, as (partition, folder, action); the database
    forgets the previous rows of every folder not reused, dropped ones included."""
    with path.open(encoding="utf-8") as plan:
        for line in plan:
            key, folder, action = json.loads(line)
            if action != REUSE:
                files.forget(key)
            if action != DROP:
                yield key, folder, action


def _ordered_rows(manifest: Manifest, pages_store: OutputStore,
                  planned: Iterator[tuple[str, str, str]], previous: PreviousRows
                  ) -> Iterator[tuple[pa.Table, bool]]:
    """The corpus's rows in partition order, each piece with whether it was read again: the
    reused folders' from `previous`, the others' from their page outputs, a chunk of rows of
    consecutive folders at a time."""
    for action, run in itertools.groupby(planned, key=lambda entry: entry[2]):
        if action == REUSE:
            for key, _, _ in run:
                yield from ((rows, False) for rows in previous.take(key))
        else:
            folders = ((key, folder) for key, folder, _ in run)
            yield from ((rows, True) for rows in read_folders(manifest, pages_store, folders))


def _write_files(project: Project, directory: Path, reuse: bool) -> int:
    """The build's second pass: the three files written from the plan and published; returns
    the rows written. Only a build that `reuse`s folders starts from the previous files (its
    rows, its database); one that reads every folder again writes all anew."""
    corpus = project.corpus_store
    with ExitStack() as previous_file:
        rows = PreviousRows(partition_pieces(open_parquet(
            previous_file.enter_context(corpus.open_read(PARQUET_KEY)))) if reuse
            else iter(()))
        files = CorpusFiles(directory, previous_database=reuse and copy_previous_database(
            corpus, directory))
        try:
            for piece, fresh in _ordered_rows(project.manifest, project.ocr_store,
                                              _planned(directory / PLAN_NAME, files), rows):
                files.append(piece, fresh=fresh)
        except BaseException:
            files.discard()
            raise
        files.publish(corpus)
    return files.rows


def build_corpus(project: Project) -> CorpusSummary:
    """Bring `pages.parquet`, `pages.jsonl` and `pages.sqlite` in the project's corpus store up
    to date, re-reading only the folders that changed since the previous build.

    Two passes, so that what a build holds does not grow with the number of folders: the
    first decides, folder by folder, and writes the plan and the new state to a temporary
    directory; the second, when anything changed, writes the files from the plan."""
    corpus = project.corpus_store
    with tempfile.TemporaryDirectory(prefix="ocr-assets-corpus-") as tmp:
        directory = Path(tmp)
        try:
            summary = _plan(project, directory, trust_previous=True)
        except NotInPartitionOrder:  # an older version's file: nothing is taken from it
            summary = _plan(project, directory, trust_previous=False)
        outputs_exist = all(corpus.exists(k) for k in (PARQUET_KEY, JSONL_KEY, SQLITE_KEY))
        if summary.reread.count or summary.removed.count or not outputs_exist:
            summary.rows = _write_files(project, directory, reuse=summary.reused.count > 0)
        publish_state(corpus, directory / STATE_KEY)
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
