"""A re-run of an all-done batch: thousands of pages checked, no OCR at all.

OCRing 10,000 pages for this would take hours, so the batch is made done the way the engine
would leave it: tiny page images on disk, one `done` manifest row per page with the file's
size, mtime and fingerprint (written through the manifest's own interface), and each page's
text file. A first `ocr-assets run` materializes the partitions (with no OCR: every page is
already done); the second is the measured re-run. A `tesseract` on PATH in front of the real
one counts every OCR call; the manifest's attempts must not move either.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from benchmarks.machine import Timed, run_measured, time_call
from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.batch import plan_folder
from ocr_assets.engine.folder.registry import list_scan_folders, register_folders
from ocr_assets.engine.manifest import DONE, PageOutcome, open_manifest
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.fingerprint import file_fingerprint
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore

COUNTING_TESSERACT = """#!/bin/sh
# Counts OCR calls (not --version or --list-langs), then runs the real Tesseract.
case "$1" in --*) ;; *) echo "$1" >> "{log}" ;; esac
exec "{real}" "$@"
"""


@dataclass
class RerunResult:
    pages: int
    folders: int
    first: Timed
    rerun: Timed
    plan_s: float
    """`plan_folder` over every folder, in this process (what the re-run does per folder,
    without the interpreter start and Dagster's import)."""
    ocr_calls: int
    """Tesseract calls on an image, over both runs, seen by the counting `tesseract`."""
    attempts_changed: int
    """Pages whose manifest attempts moved (a claim is an attempt)."""
    todo_after: int
    """Pages a plan still wants to OCR after the re-run."""


def _tiny_page() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def make_done_batch(root: Path, *, pages: int, folders: int) -> tuple[Path, Path]:
    """A scans root of `pages` pages in `folders` folders, and a data root where all are done."""
    scans, data = root / "scans", root / "data"
    for path in (scans, data):
        if path.exists():
            shutil.rmtree(path)
    image = _tiny_page()
    per_folder = -(-pages // folders)
    for number in range(folders):
        folder = scans / f"box_{number + 1:03d}"
        folder.mkdir(parents=True)
        for index in range(min(per_folder, pages - number * per_folder)):
            (folder / f"page_{index + 1:05d}.png").write_bytes(image)
    manifest = open_manifest(data / "manifest.sqlite")
    try:
        scan = list_scan_folders(scans)
        register_folders(manifest, scan)
        for key, name in scan.folders.items():
            outputs = LocalStore(data / "ocr" / key)
            outputs.root.mkdir(parents=True)
            page_paths = sorted((scans / name).iterdir())
            manifest.sync_pages(key, [path.name for path in page_paths])
            for path in page_paths:
                stat = path.stat()
                output_name = output_name_for(path.name)
                # Set-up only: a plain write, not the engine's fsynced one (10,000 fsyncs).
                text_path = outputs.path(output_keys(output_name)[0])
                text_path.write_text(f"text of {key}/{path.name}\n", encoding="utf-8")
                manifest.record(key, path.name, PageOutcome(
                    status=DONE, fingerprint=file_fingerprint(path), size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns, ms=0, words=4, chars=len(text_path.name),
                    mean_confidence=95.0, garbage_score=0.0, output_name=output_name,
                    engine="pytesseract"))
    finally:
        manifest.close()
    return scans, data


def _attempts(data: Path) -> dict[tuple[str, str], int]:
    manifest = open_manifest(data / "manifest.sqlite")
    try:
        return {(folder.partition_key, page_id): row.attempts
                for folder in manifest.folders()
                for page_id, row in manifest.pages(folder.partition_key).items()}
    finally:
        manifest.close()


def _plan_all(scans: Path, data: Path) -> int:
    """Pages still to OCR after planning every folder (must be 0)."""
    project = Project(ProjectConfig(data_root=str(data), scans_root=str(scans)))
    try:
        return sum(len(plan_folder(project.folder(key), OcrSettings()).todo)
                   for key in project.scan().folders)
    finally:
        project.close()


def measure_rerun(root: Path, *, pages: int, folders: int) -> RerunResult:
    scans, data = make_done_batch(root, pages=pages, folders=folders)
    shim_dir, log = root / "counting-bin", root / "ocr-calls.log"
    shim_dir.mkdir(exist_ok=True)
    log.write_text("")
    real = shutil.which("tesseract")
    if real is None:
        raise SystemExit("the tesseract program is not on PATH: run scripts/setup.sh")
    shim = shim_dir / "tesseract"
    shim.write_text(COUNTING_TESSERACT.format(log=log, real=real))
    shim.chmod(0o755)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("OCR_ASSETS_")}
    env.pop("DAGSTER_HOME", None)
    # Its pages are one tiny image repeated: a page to OCR must be OCRed, not taken as a copy.
    env.update({"OCR_ASSETS_SCANS": str(scans), "OCR_ASSETS_DATA": str(data),
                "OCR_ASSETS_REUSE_DUPLICATES": "0",
                "PATH": f"{shim_dir}{os.pathsep}{env.get('PATH', '')}"})
    before = _attempts(data)
    command = [sys.executable, "-m", "ocr_assets.cli", "run"]
    first = run_measured(command, env=env)
    rerun = run_measured(command, env=env)
    for timed in (first, rerun):
        if timed.returncode != 0:
            raise SystemExit(f"`ocr-assets run` on the all-done batch exited "
                             f"{timed.returncode}: {timed.stderr[-2000:]}")
    plan_s, todo = time_call(lambda: _plan_all(scans, data))
    after = _attempts(data)
    changed = sum(before[key] != after.get(key) for key in before)
    calls = len(log.read_text().splitlines())
    return RerunResult(pages, folders, first, rerun, plan_s, calls, changed, int(todo))
