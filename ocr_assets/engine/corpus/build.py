"""The aggregated corpus: one row per done page of every verified folder, in the formats
corpus users and archives expect.

- `pages.parquet`: for analysis (pandas, DuckDB, Spark);
- `pages.jsonl`: JSON Lines for streaming tools;
- `pages.sqlite`: SQLite with an FTS5 full-text index (`pages_fts`) for search
  (`ocr-assets search`, or any SQLite client).

A folder is in the corpus only when its blocking verdict passes (`selection.py`). The build is
incremental: each included folder's rows are kept as a part (`parts/<partition>.parquet`) with
a signature of its manifest rows, and only folders whose signature changed are re-read from the
page outputs; the others are taken from their part.
Everything is written through the output store, atomically; `state.json` (`state.py`) is
written last, so a build that dies midway is redone by the next one. Two builds never run at
once: the corpus asset and its check share a Dagster pool of one slot (`orchestration/
concurrency.py`), so one build's files are never mixed with another's.

The folders' rows are gathered into a few large frames as they are read (`FrameChunks`): a
pandas frame costs tens of KiB of its own whatever its rows, so one frame per folder held until
the end made the build's peak memory grow with the number of folders (about 30 KiB a one-page
folder: 45 MiB more at 1,000 folders; docs/benchmarks.md, "Many small folders").
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ocr_assets.engine.corpus.layout import (
    JSONL_KEY,
    PARQUET_KEY,
    PARTS_PREFIX,
    SQLITE_KEY,
)
from ocr_assets.engine.corpus.selection import included_partitions
from ocr_assets.engine.corpus.state import BuildState, read_state, write_state
from ocr_assets.engine.manifest import DONE, Manifest
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import OutputStore, read_json, read_text

if TYPE_CHECKING:
    from ocr_assets.engine.project import Project

CORPUS_COLUMNS = ("folder", "partition", "page", "text", "mean_confidence", "garbage_score",
                  "flags", "flag_reason", "words", "chars", "engine", "engine_version",
                  "settings", "fingerprint")
"""`settings` is the JSON of the settings that produced the text (language, psm, engine,
orientation detection), from the page's facts file."""

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
"""Folder frames concatenated into one chunk: bounds what small folders' frames cost at once."""


class FrameChunks:
    """Folders' corpus rows gathered as they come into a few large frames, in order: what is
    held grows with the rows, not with the number of folders."""

    def __init__(self, folders_per_chunk: int = FOLDERS_PER_CHUNK) -> None:
        self.folders_per_chunk = folders_per_chunk
        self.rows = 0
        self._chunks: list[pd.DataFrame] = []
        self._pending: list[pd.DataFrame] = []

    def add(self, frame: pd.DataFrame) -> None:
        """Take a folder's rows (an empty frame adds nothing)."""
        if not len(frame):
            return
        self.rows += len(frame)
        self._pending.append(frame)
        if len(self._pending) >= self.folders_per_chunk:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._chunks.append(pd.concat(self._pending, ignore_index=True))
            self._pending = []

    def frames(self) -> list[pd.DataFrame]:
        """Every row taken, in order, as a few frames."""
        self._flush()
        return list(self._chunks)

    def frame(self) -> pd.DataFrame:
        """Every row taken, in order, as one frame with the corpus's columns."""
        frames = self.frames()
        return (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=list(CORPUS_COLUMNS)))


def partition_frame(manifest: Manifest, outputs: OutputStore, partition_key: str,
                    folder_name: str) -> pd.DataFrame:
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
    return pd.DataFrame.from_records(records, columns=list(CORPUS_COLUMNS))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _read_parquet(store: OutputStore, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(store.read_bytes(key)))


def _update_sqlite(corpus: OutputStore, frames: Iterable[pd.DataFrame],
                   drop: Iterable[str], rebuild: bool) -> None:
    """Delete the rows of the partitions in `drop` from `pages.sqlite` and insert the rows of
    `frames`, starting from the previous file unless `rebuild`; the file is uploaded whole
    (atomic in any store)."""
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
                for frame in frames:
                    db.executemany(
                        f"INSERT INTO pages ({columns}) VALUES ({marks})",
                        frame.astype(object).where(frame.notna(), None).itertuples(
                            index=False, name=None))
        finally:
            db.close()
        corpus.write_bytes(SQLITE_KEY, path.read_bytes())


def build_corpus(project: Project) -> CorpusSummary:
    """Bring `pages.parquet`, `pages.jsonl` and `pages.sqlite` in the project's corpus store up
    to date, re-reading only the folders that changed since the previous build."""
    summary = CorpusSummary()
    manifest, pages_store, corpus = project.manifest, project.ocr_store, project.corpus_store
    selection = included_partitions(project)
    included, summary.excluded, summary.waiting = (selection.included, selection.excluded,
                                                   selection.waiting)
    previous = read_state(corpus) or BuildState()
    parts = corpus.child(PARTS_PREFIX)
    state = BuildState(left_out={key: signature for key, signature in selection.signatures.items()
                                 if key not in included})
    changed, rows = FrameChunks(), FrameChunks()
    for key, folder_name in included.items():
        state.included[key] = selection.signatures[key]
        part_key = f"{key}.parquet"
        if previous.included.get(key) == state.included[key] and parts.exists(part_key):
            rows.add(_read_parquet(parts, part_key))
            summary.reused.append(key)
            continue
        frame = partition_frame(manifest, pages_store.child(key), key, folder_name)
        parts.write_bytes(part_key, _parquet_bytes(frame))
        changed.add(frame)
        rows.add(frame)
        summary.reread.append(key)
    summary.removed = sorted(previous.included.keys() - included.keys())
    for key in summary.removed:
        parts.delete(f"{key}.parquet")

    outputs_exist = all(corpus.exists(k) for k in (PARQUET_KEY, JSONL_KEY, SQLITE_KEY))
    if summary.reread or summary.removed or not outputs_exist:
        corpus_frame = rows.frame()
        corpus.write_bytes(PARQUET_KEY, _parquet_bytes(corpus_frame))
        jsonl = corpus_frame.to_json(orient="records", lines=True, force_ascii=False)
        corpus.write_bytes(JSONL_KEY, (jsonl or "").encode("utf-8"))
        if previous.included and corpus.exists(SQLITE_KEY):
            _update_sqlite(corpus, changed.frames(), [*summary.removed, *summary.reread],
                           rebuild=False)
        else:  # no trusted previous database: every included folder goes in
            _update_sqlite(corpus, rows.frames(), (), rebuild=True)
    write_state(corpus, state)
    summary.rows = rows.rows
    summary.folders = len(included)
    summary.parquet, summary.jsonl, summary.sqlite = (
        corpus.uri(PARQUET_KEY), corpus.uri(JSONL_KEY), corpus.uri(SQLITE_KEY))
    return summary


def read_corpus(corpus: OutputStore,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The written corpus (`pages.parquet`); `FileNotFoundError` when it was never built."""
    return pd.read_parquet(io.BytesIO(corpus.read_bytes(PARQUET_KEY)),
                           columns=columns)
