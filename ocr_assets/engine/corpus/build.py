"""The aggregated corpus: one row per done page of every verified folder, in the formats
corpus users and archives expect.

- `pages.parquet`: for analysis (pandas, DuckDB, Spark);
- `pages.jsonl`: JSON Lines for streaming tools;
- `pages.sqlite`: SQLite with an FTS5 full-text index (`pages_fts`) for search
  (`ocr-assets search`, or any SQLite client).

A folder is in the corpus only when its blocking verdict passes (`selection.py`). The build is
incremental: the rows of a folder whose manifest rows are unchanged since the previous build
(the signatures in `state.json`, `state.py`) are taken from the previous `pages.parquet`; only
the folders that changed are read again from their page outputs, and the SQLite index is
updated, not rebuilt. Two builds never run at once: the corpus asset and its check share a
Dagster pool of one slot (`orchestration/concurrency.py`), so one build's files are never
mixed with another's. Everything is written through the output store, atomically, and
`state.json` last, so a build that dies midway is redone by the next one; a folder whose rows
the previous files do not hold after all (such a build) is read again too.

Why Arrow tables and no frame or file per folder: what a pandas frame, or a Parquet writer,
costs whatever its rows made the build's memory grow with the number of folders (tens of KiB a
folder: tens of MiB more at 1,000 small folders, docs/benchmarks.md, "Many small folders").
The rows are read a chunk of folders at a time into one Arrow table each, and written from
there in order: what is held grows with the rows, not with the folders.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocr_assets.engine.corpus.layout import JSONL_KEY, PARQUET_KEY, PARTS_PREFIX, SQLITE_KEY
from ocr_assets.engine.corpus.selection import CorpusSelection, included_partitions
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

ARROW_SCHEMA = pa.schema([
    ("folder", pa.string()), ("partition", pa.string()), ("page", pa.string()),
    ("text", pa.string()), ("mean_confidence", pa.float64()), ("garbage_score", pa.float64()),
    ("flags", pa.string()), ("flag_reason", pa.string()), ("words", pa.int64()),
    ("chars", pa.int64()), ("engine", pa.string()), ("engine_version", pa.string()),
    ("settings", pa.string()), ("fingerprint", pa.string())])
"""The corpus's columns with their types, the same in every build. `settings` is the JSON of
the settings that produced the text (language, psm, engine, orientation detection), from the
page's facts file."""
CORPUS_COLUMNS = tuple(ARROW_SCHEMA.names)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    id INTEGER PRIMARY KEY,
    folder TEXT NOT NULL, partition TEXT NOT NULL, page TEXT NOT NULL, text TEXT NOT NULL,
    mean_confidence REAL, garbage_score REAL, flags TEXT, flag_reason TEXT, words INTEGER,
    chars INTEGER, engine TEXT, engine_version TEXT, settings TEXT, fingerprint TEXT,
    UNIQUE (partition, page)
);
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(
    text, content='pages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS pages_ai AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS pages_ad AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""
"""The documented FTS5 external-content pattern: the index follows the table by triggers."""


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


FOLDERS_PER_CHUNK = 64
"""Folders read into one Arrow table: bounds what many small folders cost at once."""
ROWS_PER_BATCH = 1024
"""Rows converted to Python at once when JSON Lines and SQLite are written."""


def partition_records(manifest: Manifest, outputs: OutputStore, partition_key: str,
                      folder_name: str) -> list[dict[str, object]]:
    """The corpus rows of one folder's done pages, read from its page outputs."""
    records: list[dict[str, object]] = []
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
        records.append({
            "folder": folder_name, "partition": partition_key, "page": page_id,
            "text": read_text(outputs, text_key), "mean_confidence": row.mean_confidence,
            "garbage_score": row.garbage_score, "flags": row.flags,
            "flag_reason": row.flag_reason, "words": row.words, "chars": row.chars,
            "engine": row.engine, "engine_version": facts.get("engine_version"),
            "settings": json.dumps(settings, sort_keys=True) if settings else None,
            "fingerprint": row.fingerprint,
        })
    return records


def read_folders(manifest: Manifest, pages_store: OutputStore, folders: dict[str, str],
                 folders_per_chunk: int = FOLDERS_PER_CHUNK) -> Iterator[pa.Table]:
    """The rows of `folders` (partition key -> folder name), in their order, one Arrow table
    per chunk of folders."""
    keys = list(folders)
    for start in range(0, len(keys), folders_per_chunk):
        records = [record for key in keys[start:start + folders_per_chunk]
                   for record in partition_records(manifest, pages_store.child(key), key,
                                                   folders[key])]
        yield pa.Table.from_pylist(records, schema=ARROW_SCHEMA)


def _previous_rows(corpus: OutputStore, previous: BuildState,
                   selection: CorpusSelection) -> tuple[pa.Table, set[str]]:
    """The previous build's rows of the included folders it saw as they are now, and those
    folders' keys. A folder whose rows the previous `pages.parquet` does not hold, in number,
    is left out, to be read again."""
    unchanged = {key for key in selection.included
                 if previous.included.get(key) == selection.signatures[key]}
    if not unchanged or not corpus.exists(PARQUET_KEY):
        return ARROW_SCHEMA.empty_table(), set()
    table = pq.read_table(io.BytesIO(corpus.read_bytes(PARQUET_KEY)))
    if not table.schema.equals(ARROW_SCHEMA, check_metadata=False):  # not written by this build
        return ARROW_SCHEMA.empty_table(), set()
    table = table.filter(pc.is_in(table["partition"], pa.array(sorted(unchanged))))
    held = dict(zip(*table.group_by("partition").aggregate([("page", "count")]).to_pydict()
                    .values(), strict=True))
    reusable = {key for key in unchanged if held.get(key, 0) == selection.done[key]}
    if reusable != unchanged:
        table = table.filter(pc.is_in(table["partition"], pa.array(sorted(reusable))))
    return table, reusable


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _row_tuples(table: pa.Table) -> Iterator[tuple[object, ...]]:
    """The table's rows as tuples in `CORPUS_COLUMNS` order, a batch at a time."""
    for batch in table.to_batches(max_chunksize=ROWS_PER_BATCH):
        yield from zip(*(batch.column(name).to_pylist() for name in CORPUS_COLUMNS),
                       strict=True)


def _jsonl_bytes(table: pa.Table) -> bytes:
    buffer = io.StringIO()
    for row in _row_tuples(table):
        buffer.write(json.dumps(dict(zip(CORPUS_COLUMNS, row, strict=True)),
                                ensure_ascii=False))
        buffer.write("\n")
    return buffer.getvalue().encode("utf-8")


def _write_sqlite(corpus: OutputStore, tables: Iterable[pa.Table], drop: Iterable[str], *,
                  rebuild: bool, rows: int) -> bool:
    """Delete the rows of the partitions in `drop` from `pages.sqlite` and insert the rows of
    `tables`, starting from the previous file unless `rebuild`; the file is uploaded whole
    (atomic in any store), and only when it holds `rows` rows: False when it does not (a
    previous file that did not match the previous build), and nothing was uploaded."""
    with tempfile.TemporaryDirectory(prefix="ocr-assets-corpus-") as tmp:
        path = Path(tmp) / SQLITE_KEY
        if not rebuild and corpus.exists(SQLITE_KEY):
            path.write_bytes(corpus.read_bytes(SQLITE_KEY))
        db = sqlite3.connect(path)
        try:
            # A private copy that is uploaded whole once committed, or thrown away: no journal
            # and no fsync to protect it (30 % of the full-text build's time on 10,000 pages).
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            with db:
                db.executescript(SQLITE_SCHEMA)
                for key in drop:
                    db.execute("DELETE FROM pages WHERE partition = ?", (key,))
                columns = ", ".join(CORPUS_COLUMNS)
                marks = ", ".join("?" * len(CORPUS_COLUMNS))
                for table in tables:
                    db.executemany(f"INSERT INTO pages ({columns}) VALUES ({marks})",
                                   _row_tuples(table))
            [(held,)] = db.execute("SELECT COUNT(*) FROM pages").fetchall()
        finally:
            db.close()
        if held != rows:
            return False
        corpus.write_bytes(SQLITE_KEY, path.read_bytes())
        return True


def _remove_legacy_parts(corpus: OutputStore) -> None:
    """Delete the per-folder parts (`parts/<partition>.parquet`) an older version kept."""
    parts = corpus.child(PARTS_PREFIX)
    for key in legacy_partitions(corpus):
        parts.delete(f"{key}.parquet")


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
    kept, reusable = _previous_rows(corpus, previous, selection)
    summary.reused = [key for key in included if key in reusable]
    summary.reread = [key for key in included if key not in reusable]
    summary.removed = sorted(previous.included.keys() - included.keys())
    state = BuildState(
        included={key: selection.signatures[key] for key in included},
        left_out={key: signature for key, signature in selection.signatures.items()
                  if key not in included})
    outputs_exist = all(corpus.exists(k) for k in (PARQUET_KEY, JSONL_KEY, SQLITE_KEY))
    summary.rows = kept.num_rows
    if summary.reread or summary.removed or not outputs_exist:
        changed = list(read_folders(manifest, pages_store,
                                    {key: included[key] for key in summary.reread}))
        table = pa.concat_tables([kept, *changed]).sort_by(
            [("partition", "ascending"), ("page", "ascending")])
        summary.rows = table.num_rows
        corpus.write_bytes(PARQUET_KEY, _parquet_bytes(table))
        corpus.write_bytes(JSONL_KEY, _jsonl_bytes(table))
        updated = previous.included and corpus.exists(SQLITE_KEY) and _write_sqlite(
            corpus, changed, [*summary.removed, *summary.reread], rebuild=False,
            rows=table.num_rows)
        if not updated:  # no trusted previous database: every included folder goes in
            _write_sqlite(corpus, [table], (), rebuild=True, rows=table.num_rows)
    write_state(corpus, state)
    summary.folders = len(included)
    summary.parquet, summary.jsonl, summary.sqlite = (
        corpus.uri(PARQUET_KEY), corpus.uri(JSONL_KEY), corpus.uri(SQLITE_KEY))
    return summary


def read_corpus(corpus: OutputStore,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The written corpus (`pages.parquet`); `FileNotFoundError` when it was never built."""
    return pd.read_parquet(io.BytesIO(corpus.read_bytes(PARQUET_KEY)),
                           columns=columns)
