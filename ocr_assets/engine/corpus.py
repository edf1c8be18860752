"""The aggregated corpus: one row per done page of every complete folder, in the formats
corpus users expect (Parquet for analysis, JSON Lines for streaming tools).

A folder whose pages are not all terminal (pending or running rows) is left out: its text is
not final; so is a folder with too many failed pages (`invariants.failure_ratio`). The corpus
is written through the output store, atomically, so readers never see half a file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ocr_assets.engine.invariants import DEFAULT_MAX_FAILED_SHARE, failure_ratio
from ocr_assets.engine.manifest import DONE, FAILED, Manifest
from ocr_assets.engine.storage import OutputStore, open_store, read_text
from ocr_assets.engine.worker import output_keys

PARQUET_KEY, JSONL_KEY = "pages.parquet", "pages.jsonl"
CORPUS_COLUMNS = ("folder", "partition", "page", "text", "mean_confidence", "garbage_score",
                  "flags", "flag_reason", "words", "chars", "engine", "fingerprint")


@dataclass
class CorpusSummary:
    rows: int = 0
    folders: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    """partition key -> why it is not in the corpus."""
    missing_text: list[str] = field(default_factory=list)
    """`partition/page` of done pages whose text file is gone (a tampered or lost output)."""
    parquet: str | None = None
    """Where `pages.parquet` was written (a path, or a URL for an object store)."""
    jsonl: str | None = None


def corpus_frame(manifest: Manifest, ocr_root: Path | str | OutputStore,
                 summary: CorpusSummary | None = None,
                 max_failed_share: float = DEFAULT_MAX_FAILED_SHARE) -> pd.DataFrame:
    """Rows of every done page of every complete folder within the failure limit, in folder
    then page order; the texts are read from the page-output store `ocr_root` (or its
    directory or URL)."""
    summary = summary if summary is not None else CorpusSummary()
    pages_store = open_store(ocr_root)
    records: list[dict[str, object]] = []
    for folder in manifest.folders():
        rows = manifest.pages(folder.partition_key)
        unfinished = sum(r.status not in (DONE, FAILED) for r in rows.values())
        if unfinished:
            summary.excluded[folder.partition_key] = f"{unfinished} pages not yet terminal"
            continue
        ratio = failure_ratio(rows, max_failed_share)
        if not ratio.passed:
            summary.excluded[folder.partition_key] = ratio.describe()
            continue
        summary.folders += 1
        outputs = pages_store.child(folder.partition_key)
        for page_id in sorted(rows):
            row = rows[page_id]
            if row.status != DONE or row.output_name is None:
                continue
            text_key, _ = output_keys(row.output_name)
            try:
                text = read_text(outputs, text_key)
            except FileNotFoundError:
                summary.missing_text.append(f"{folder.partition_key}/{page_id}")
                continue
            records.append({
                "folder": folder.folder_name, "partition": folder.partition_key,
                "page": page_id, "text": text, "mean_confidence": row.mean_confidence,
                "garbage_score": row.garbage_score, "flags": row.flags,
                "flag_reason": row.flag_reason, "words": row.words, "chars": row.chars,
                "engine": row.engine, "fingerprint": row.fingerprint,
            })
    return pd.DataFrame.from_records(records, columns=list(CORPUS_COLUMNS))


def build_corpus(manifest: Manifest, ocr_root: Path | str | OutputStore,
                 corpus_root: Path | str | OutputStore,
                 max_failed_share: float = DEFAULT_MAX_FAILED_SHARE) -> CorpusSummary:
    """Write `pages.parquet` and `pages.jsonl` into the corpus store `corpus_root`."""
    summary = CorpusSummary()
    frame = corpus_frame(manifest, ocr_root, summary, max_failed_share)
    summary.rows = len(frame)
    corpus = open_store(corpus_root)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    corpus.write_bytes(PARQUET_KEY, buffer.getvalue())
    jsonl = frame.to_json(orient="records", lines=True, force_ascii=False)
    corpus.write_bytes(JSONL_KEY, (jsonl or "").encode("utf-8"))
    summary.parquet, summary.jsonl = corpus.uri(PARQUET_KEY), corpus.uri(JSONL_KEY)
    return summary


def read_corpus(corpus_root: Path | str | OutputStore,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The written corpus (`pages.parquet`); `FileNotFoundError` when it was never built."""
    return pd.read_parquet(io.BytesIO(open_store(corpus_root).read_bytes(PARQUET_KEY)),
                           columns=columns)
