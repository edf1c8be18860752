"""Corpus build time for a large synthetic corpus: full, then after one folder changed.

The page texts are synthetic (deterministic pseudo-words, about a page of text each) and their
manifest rows are written through the manifest's interface; no image and no OCR is involved,
only what the corpus build reads: the manifest, the text files, and the scan folders (empty
placeholder pages). Each folder's rows are synced with its listing signature, as a run stores
it, so the blocking verdict of an unchanged folder compares signatures instead of listing its
pages (`invariants.rows_match_folder`); the changed folder is listed again.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import time_call
from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.build import build_corpus
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.manifest import DONE, Manifest, PageOutcome, open_manifest
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project
from ocr_assets.engine.store.outputs import LocalStore

WORDS_PER_PAGE = 300
SYLLABLES = ("ka", "te", "ro", "mi", "su", "na", "lo", "ve", "di", "an", "er", "in", "ch", "st")


@dataclass
class CorpusResult:
    pages: int
    folders: int
    text_mib: float
    full_s: float
    incremental_s: float
    changed_pages: int
    rows_full: int
    rows_incremental: int
    parquet_mib: float
    jsonl_mib: float


def _page_text(rng: random.Random) -> str:
    words = ("".join(rng.choices(SYLLABLES, k=rng.randint(1, 4)))
             for _ in range(WORDS_PER_PAGE))
    lines, line = [], []
    for word in words:
        line.append(word)
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    return "\n".join([*lines, " ".join(line)]) + "\n"


def _write_folder(manifest: Manifest, scans_root: Path, ocr_root: Path, key: str, pages: int,
                  rng: random.Random) -> int:
    """(Re)write every page of one folder as done with a fresh text; returns its bytes."""
    outputs = LocalStore(ocr_root / key)
    outputs.root.mkdir(parents=True, exist_ok=True)
    (scans_root / key).mkdir(parents=True, exist_ok=True)
    page_ids = [f"page_{index + 1:05d}.tif" for index in range(pages)]
    for page_id in page_ids:
        (scans_root / key / page_id).touch()
    manifest.sync_pages(key, page_ids, listing_signature=folder_signature(scans_root / key))
    written = 0
    for page_id in page_ids:
        text = _page_text(rng)
        output_name = output_name_for(page_id)
        # Set-up only: a plain write, not the engine's fsynced one (100,000 fsyncs).
        outputs.path(output_keys(output_name)[0]).write_text(text, encoding="utf-8")
        written += len(text.encode("utf-8"))
        manifest.record(key, page_id, PageOutcome(
            status=DONE, fingerprint=f"sha256:{rng.getrandbits(256):064x}", size=1,
            mtime_ns=1, ms=1, mean_confidence=90.0, words=WORDS_PER_PAGE, chars=len(text),
            garbage_score=0.0, output_name=output_name, engine="synthetic"))
    return written


def measure_corpus(root: Path, *, pages: int, folders: int, seed: int = 6) -> CorpusResult:
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    manifest = open_manifest(root / "manifest.sqlite")
    scans_root, ocr_root = root / "scans", root / "ocr"
    per_folder = pages // folders
    keys = [f"box_{number + 1:03d}" for number in range(folders)]
    try:
        text_bytes = 0
        for key in keys:
            manifest.register_folder(key, key, key.encode())
            text_bytes += _write_folder(manifest, scans_root, ocr_root, key, per_folder, rng)
        project = Project(ProjectConfig(data_root=str(root), scans_root=str(scans_root)),
                          manifest)
        full_s, full = time_call(lambda: build_corpus(project))
        _write_folder(manifest, scans_root, ocr_root, keys[0], per_folder, rng)
        incremental_s, incremental = time_call(lambda: build_corpus(project))
    finally:
        manifest.close()
    return CorpusResult(
        pages=per_folder * folders, folders=folders, text_mib=round(text_bytes / 2**20, 1),
        full_s=full_s, incremental_s=incremental_s, changed_pages=per_folder,
        rows_full=full.rows, rows_incremental=incremental.rows,
        parquet_mib=round(Path(full.parquet).stat().st_size / 2**20, 1),
        jsonl_mib=round(Path(full.jsonl).stat().st_size / 2**20, 1))
