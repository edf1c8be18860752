"""What the Dagster catalog says about the assets besides their code: who owns them, how they
are tagged, and the columns of the tables they write (`dagster/column_schema`), so a user can
search, filter and read them in the UI. The column lists are the engine's own, described here;
a test holds the two equal."""

from __future__ import annotations

import dagster as dg

from ocr_assets.engine.corpus.schema import CORPUS_COLUMNS
from ocr_assets.engine.folder.reports import REPORT_COLUMNS

OWNERS = ["team:digitisation"]
"""The team that answers for the scans, the text and the corpus (a Dagster owner: an email or
`team:<name>`)."""


def tags(layer: str) -> dict[str, str]:
    """The catalog tags of an asset: its domain, and its layer (`input`, `pages`, `report`,
    `quality`, `deliverable`, `corpus`)."""
    return {"domain": "ocr", "layer": layer}


def _schema(columns: tuple[str, ...], described: dict[str, tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, described[name][0],
                                                  description=described[name][1])
                                   for name in columns])


CORPUS_SCHEMA = _schema(CORPUS_COLUMNS, {
    "folder": ("string", "the scan folder's name as on disk"),
    "partition": ("string", "the folder's partition key"),
    "page": ("string", "the page id: its path in the folder, `#n` for a frame of a multi-page "
                       "file"),
    "text": ("string", "the page's OCR text"),
    "mean_confidence": ("float", "Tesseract's mean word confidence, 0-100"),
    "garbage_score": ("float", "how much the text looks like noise, 0-1"),
    "flags": ("string", "comma-separated flags: partial, empty, garbage"),
    "flag_reason": ("string", "why, one reason per flag"),
    "words": ("int", "words read"),
    "chars": ("int", "characters read"),
    "engine": ("string", "the OCR engine"),
    "engine_version": ("string", "its version"),
    "settings": ("string", "JSON of the settings that produced the text"),
    "fingerprint": ("string", "the page file's content hash"),
})
"""`pages.parquet`, `pages.jsonl` and the `pages` table of `pages.sqlite`."""

REPORT_SCHEMA = _schema(REPORT_COLUMNS, {
    "page": ("string", "the page id"),
    "status": ("string", "failed, or done when the retry pass recovered it"),
    "category": ("string", "the failure category (unreadable_image, too_large, timeout, ...)"),
    "message": ("string", "what happened and what to do"),
    "attempts": ("int", "reads of the page so far"),
    "retry_outcome": ("string", "recovered, still_failing, not_retried or not_yet_retried"),
    "retry_strategies": ("string", "the retry pass's strategies tried, in order"),
    "recovered_by": ("string", "the strategy that read the page, when one did"),
    "first_category": ("string", "the category of the first failure"),
    "fingerprint": ("string", "the page file's content hash"),
    "updated_at": ("datetime", "when the row last changed (UTC)"),
})
"""`failed_pages.csv` and `.json` of a folder."""
