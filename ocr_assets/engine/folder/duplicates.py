"""Duplicate scans: a page whose scan was already read takes that reading instead of an OCR.

The same scan in two folders, or twice in one (a box scanned twice, a volume delivered again),
has the same content key (`manifest.content_key`: the SHA-256 of the file's bytes, and the
page's number in a multi-page file). A page about to be OCRed whose content key has a done row
read with the same recipe (`OcrSettings.recipe_key`: language, psm, ...) and the same engine
takes that page's text and its files (`.txt`, the `.json` facts, the hOCR/ALTO documents the
folder asks for) instead, and its row and facts say which page it took them from
(`reused_from`). Only a done source is taken, never one in flight in another run: two runs that
meet the same scan at once both OCR it, and neither waits on the other's lease. A source that
changes while it is copied (its folder re-read it meanwhile) is not taken either: its row must
be the same after the copy as before. A folder turns this off with `reuse_duplicates = false`
in its `folder.toml`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.discovery import Page
from ocr_assets.engine.manifest import DONE, PageOutcome, PageRecord
from ocr_assets.engine.naming import display_name, output_name_for
from ocr_assets.engine.page.worker import TEXT_LAYER_ENGINE, archival_key, output_keys
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore, write_json

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder


def source_name(row: PageRecord) -> str:
    """How a row and a facts file name the page a duplicate took its text from."""
    return f"{row.partition_key}/{row.page_id}"


@dataclass(frozen=True)
class _Copy:
    """A source page's files, read into memory before its row is checked again."""

    source: PageRecord
    text: bytes
    facts: dict[str, object]
    documents: dict[str, bytes]


def _documents(settings: OcrSettings) -> tuple[str, ...]:
    """The per-page documents a page written with `settings` has beside its text and facts:
    its archival formats and, when asked for, its searchable PDF (the folder's PDF is merged
    from these, so a duplicate needs its own copy)."""
    return (*settings.archival_formats, *(("pdf",) if settings.searchable_pdf else ()))


def _read_source(row: PageRecord, outputs: OutputStore, settings: OcrSettings) -> _Copy | None:
    """The source's text, facts and the documents `settings` ask for; None when one
    is missing or unreadable (the source's folder is being re-read or forgotten)."""
    if row.output_name is None:
        return None
    text_key, facts_key = output_keys(row.output_name)
    try:
        facts = json.loads(outputs.read_bytes(facts_key))
        documents = {document: outputs.read_bytes(archival_key(row.output_name, document))
                     for document in _documents(settings)}
        text = outputs.read_bytes(text_key)
    except (OSError, ValueError):
        return None
    return _Copy(row, text, facts, documents) if isinstance(facts, dict) else None


def take_duplicate(folder: ScanFolder, page: Page, fingerprint: str, content_key: str,
                   settings: OcrSettings) -> PageOutcome | None:
    """Write `page`'s outputs from a done page with the same content, recipe and engine, and
    return its outcome (`reused_from` set); None when there is no such page to take them from,
    and the page is OCRed as usual. `settings` are the folder's own (`folder.toml` applied)."""
    started = time.perf_counter()
    manifest, recipe = folder.manifest, settings.recipe_key()
    engines = {settings.engine, TEXT_LAYER_ENGINE}
    for row in manifest.done_copies(content_key, recipe):
        if (row.partition_key, row.page_id) == (folder.key, page.page_id):
            continue
        if row.engine not in engines:
            continue
        copy = _read_source(row, folder.project.ocr_store.child(row.partition_key), settings)
        if copy is None or manifest.page(row.partition_key, row.page_id) != row:
            continue
        try:
            return _write_copy(folder, page, fingerprint, copy, recipe, started)
        except OSError:
            return None  # its OCR writes the same files, and fails with what is wrong
    return None


def _write_copy(folder: ScanFolder, page: Page, fingerprint: str, copy: _Copy, recipe: str,
                started: float) -> PageOutcome:
    """The duplicate's files, written as the worker writes a page's (documents, text, then
    its facts last), and its outcome."""
    source = copy.source
    output_name = output_name_for(page.page_id)
    text_key, facts_key = output_keys(output_name)
    for document, content in copy.documents.items():
        folder.outputs.write_bytes(archival_key(output_name, document), content)
    folder.outputs.write_bytes(text_key, copy.text)
    ms = round((time.perf_counter() - started) * 1000)
    write_json(folder.outputs, facts_key, {
        **copy.facts,
        "folder": display_name(folder.name),
        "partition": folder.key,
        "page": page.page_id,
        "source": display_name(page.path.name),
        "frame": None if page.frame is None else page.frame + 1,
        "fingerprint": fingerprint,
        "reused_from": {"partition": source.partition_key, "page": source.page_id,
                        "folder": copy.facts.get("folder")},
        "ms": ms,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return PageOutcome(status=DONE, fingerprint=fingerprint, size=page.size,
                       mtime_ns=page.mtime_ns, ms=ms, mean_confidence=source.mean_confidence,
                       words=source.words, chars=source.chars,
                       garbage_score=source.garbage_score, flags=source.flags,
                       flag_reason=source.flag_reason, output_name=output_name,
                       engine=source.engine, recipe=recipe, reused_from=source_name(source))
