"""Hostile PDFs in ONE batch, beside good PDF pages and an image: truncated, damaged but
repairable, a page PDFium cannot load, encrypted, without pages, thousands of pages, a page of
huge dimensions, JavaScript inside, a decompression bomb, text named `.pdf`.

Each file's pages become recorded outcomes with a category and a message that names the file,
the readable pages of a damaged PDF are read, the batch finishes with every page terminal, the
counts invariant holds, and a second run redoes nothing. The recognition is the fault engine's
instant fake; the opening, guards and rendering in front of it are the real ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.folder.retry import retry_failed_pages
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.engine.project import Project, ScanFolder
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import Run, new_run
from ocr_assets_tests.pdf_files import (
    CATALOG,
    blank_pages_pdf,
    content_bomb_pdf,
    encrypted,
    hand_made_pdf,
    image_bomb_pdf,
    javascript_pdf,
    pdf_of_pages,
)

UNREADABLE, TOO_LARGE = "unreadable_document", "too_large"


def limited_folder(run: Run, **config: object) -> ScanFolder:
    """The run's folder in a project whose configuration is `config` (the limits a deployment
    sets), so the run, its invariant and its retry pass list the folder alike."""
    project = Project(ProjectConfig(data_root=str(run.out_root.parent),
                                    scans_root=str(run.folder.parent), **config), run.manifest)
    return ScanFolder(project, run.key, run.folder.name, run.folder)


def one_page_missing() -> bytes:
    """Three pages in the page tree, the second an object that does not exist."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"
    return hand_made_pdf([CATALOG, b"<< /Type /Pages /Kids [3 0 R 9 0 R 4 0 R] /Count 3 >>",
                          page, page])


@pytest.fixture
def batch(tmp_path: Path, fixtures_dir: Path) -> tuple[Run, ScanFolder]:
    run = new_run(tmp_path)
    folder, pages = run.folder, fixtures_dir / "pages"
    scans = pdf_of_pages([pages / "phototest.tif", pages / "eurotext.tif"])
    (folder / "good.pdf").write_bytes(scans)
    (folder / "truncated.pdf").write_bytes(scans[:len(scans) // 2])
    (folder / "no_trailer.pdf").write_bytes(scans[:-40])  # repaired by PDFium
    (folder / "page_missing.pdf").write_bytes(one_page_missing())
    encrypted(scans, folder / "locked.pdf", "secret")
    (folder / "empty.pdf").write_bytes(blank_pages_pdf(0))
    (folder / "register.pdf").write_bytes(blank_pages_pdf(3000))
    (folder / "huge_page.pdf").write_bytes(blank_pages_pdf(1, media_box=b"[0 0 14400 14400]"))
    (folder / "script.pdf").write_bytes(javascript_pdf())
    (folder / "bomb.pdf").write_bytes(image_bomb_pdf(15000))  # 225 MP of deflated zeros
    (folder / "letter.pdf").write_text("Dear archivist, the PDF follows.\n")
    shutil.copy(pages / "phototest.tif", folder / "loose_page.tif")
    return run, limited_folder(run, engine=fault(), workers=2, max_pdf_pages=1000)


def test_hostile_pdfs_each_get_their_outcome_and_the_batch_finishes(
        batch: tuple[Run, ScanFolder]) -> None:
    run, folder = batch
    assert (run.folder / "bomb.pdf").stat().st_size < 1_000_000

    report = process_folder(folder)

    rows = run.manifest.pages(run.key)
    assert report.pending == 0 and report.refused == {} and report.ignored == []
    outcome = {page_id: (row.status, row.error_category) for page_id, row in rows.items()}
    assert outcome == {
        "good.pdf#1": (DONE, None), "good.pdf#2": (DONE, None),
        "no_trailer.pdf#1": (DONE, None), "no_trailer.pdf#2": (DONE, None),
        "page_missing.pdf#1": (DONE, None), "page_missing.pdf#2": (FAILED, UNREADABLE),
        "page_missing.pdf#3": (DONE, None),
        "script.pdf": (DONE, None), "loose_page.tif": (DONE, None),
        "truncated.pdf": (FAILED, UNREADABLE), "locked.pdf": (FAILED, UNREADABLE),
        "empty.pdf": (FAILED, UNREADABLE), "letter.pdf": (FAILED, UNREADABLE),
        "register.pdf": (FAILED, TOO_LARGE), "huge_page.pdf": (FAILED, TOO_LARGE),
        "bomb.pdf": (FAILED, TOO_LARGE),
    }
    message = {page_id: row.error_message or "" for page_id, row in rows.items()}
    assert "truncated.pdf: cannot be read as a PDF" in message["truncated.pdf"]
    assert "encrypted with a password" in message["locked.pdf"]
    assert "has no pages" in message["empty.pdf"]
    assert "3000 pages, above the limit of 1000" in message["register.pdf"]
    assert "huge_page.pdf: 60000x60000 at 300 dpi" in message["huge_page.pdf"]
    assert "bomb.pdf: holds a 15000x15000 image" in message["bomb.pdf"]
    assert "page_missing.pdf page 2: PDFium cannot load the page" in message[
        "page_missing.pdf#2"]

    counts = check_counts(folder)
    assert counts.passed, counts.problems()
    assert (counts.pages_on_disk, counts.done, counts.failed) == (16, 8, 8)

    again = process_folder(folder)  # deterministic failures are not redone
    assert (again.processed, again.pending) == (0, 0)
    retried = retry_failed_pages(folder)
    assert retried.tried == 0 and set(retried.not_retried) == {
        page_id for page_id, (status, _) in outcome.items() if status == FAILED}
    assert "replace the file" in retried.not_retried["locked.pdf"]


def test_a_content_stream_bomb_costs_only_its_worker(tmp_path: Path, fixtures_dir: Path) -> None:
    """PDFium inflates a page's content stream whole, without a limit: a 1.5 GB stream in a
    1.5 MB file is stopped by the worker's memory limit, and the other pages go through."""
    run = new_run(tmp_path)
    (run.folder / "bomb.pdf").write_bytes(content_bomb_pdf(1_500_000_000))
    (run.folder / "good.pdf").write_bytes(pdf_of_pages([fixtures_dir / "pages" / "phototest.tif"]))
    assert (run.folder / "bomb.pdf").stat().st_size < 2_000_000

    report = run.process(engine=fault(), workers=2, worker_memory_mb=1024, max_attempts=1)

    rows = run.manifest.pages(run.key)
    assert report.pending == 0 and rows["good.pdf"].status == DONE
    assert rows["bomb.pdf"].status == FAILED
    assert rows["bomb.pdf"].error_category in {"worker_crashed", "out_of_memory"}
