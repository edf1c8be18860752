"""A folder's searchable PDF: its done pages merged in page order, failed pages left out and
named, not rebuilt when nothing changed, PDF/A-2b on request, and verified as a reader sees it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

from ocr_assets.engine.folder.searchable_pdf import (
    FolderPdfError,
    build_folder_pdf,
    extracted_words,
    pdf_key,
    verify_folder_pdf,
)
from ocr_assets.engine.page.worker import archival_key
from ocr_assets_tests.helpers import new_run


def _folder(tmp_path: Path, fixtures_dir: Path):
    run = new_run(tmp_path)
    pages = fixtures_dir / "pages"
    shutil.copy(pages / "phototest.tif", run.folder / "page_10.tif")
    shutil.copy(pages / "eurotext.tif", run.folder / "page_2.tif")
    (run.folder / "page_3.tif").write_bytes((pages / "phototest.tif").read_bytes()[:300])
    report = run.process(searchable_pdf=True)
    assert (report.done, report.failed) == (2, 1)
    return run


def test_the_folder_pdf_holds_its_done_pages_in_order_and_names_the_failed_one(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = _folder(tmp_path, fixtures_dir)
    folder = run.scan_folder

    built = build_folder_pdf(folder)
    assert (built.pages, built.rebuilt, built.left_out) == (2, True, ("page_3.tif",))
    found = verify_folder_pdf(folder)
    assert found.passed and found.failed_pages == ["page_3.tif"]
    assert (found.pages_in_pdf, found.done_pages, found.word_match) == (2, 2, 1.0)
    document = pdfium.PdfDocument(folder.project.pdf_store.uri(pdf_key(folder)))
    try:
        first = extracted_words(document[0].get_textpage().get_text_bounded())
    finally:
        document.close()
    assert first == run.text("page_2.tif").split(), "page_2 before page_10"

    path = Path(folder.project.pdf_store.uri(pdf_key(folder)))
    written = path.stat().st_mtime_ns
    assert run.process(searchable_pdf=True).processed == 0, "done pages are not read again"
    again = build_folder_pdf(folder)
    assert not again.rebuilt and path.stat().st_mtime_ns == written, "nothing changed"

    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder / "page_1.tif")
    assert run.process(searchable_pdf=True).processed == 1
    assert build_folder_pdf(folder).rebuilt and verify_folder_pdf(folder).done_pages == 3


def test_a_broken_or_missing_text_layer_fails_the_verification(tmp_path: Path,
                                                              fixtures_dir: Path) -> None:
    run = _folder(tmp_path, fixtures_dir)
    folder = run.scan_folder
    build_folder_pdf(folder)
    path = Path(folder.project.pdf_store.uri(pdf_key(folder)))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        del pdf.pages[1]
        pdf.pages[0].obj.Contents = pdf.pages[0].obj.Contents[0]  # the image only
        pdf.save(path)
    found = verify_folder_pdf(folder)
    assert not found.passed and found.pages_in_pdf == 1 and found.broken == ["page_2.tif"]

    path.unlink()
    assert "cannot be read" in (verify_folder_pdf(folder).problem or "")


def test_a_done_page_without_its_page_pdf_is_one_clear_error(tmp_path: Path,
                                                            fixtures_dir: Path) -> None:
    run = _folder(tmp_path, fixtures_dir)
    run.outputs.delete(archival_key("page_2.tif", "pdf"))
    with pytest.raises(FolderPdfError, match=r"page page_2\.tif is done but has no page PDF"):
        build_folder_pdf(run.scan_folder)


def test_pdfa_is_written_only_when_pikepdf_validates_it(tmp_path: Path,
                                                        fixtures_dir: Path) -> None:
    run = _folder(tmp_path, fixtures_dir)
    folder = run.scan_folder
    built = build_folder_pdf(folder, pdfa=True)
    assert built.rebuilt and built.pdfa
    with pikepdf.open(folder.project.pdf_store.uri(pdf_key(folder))) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    assert verify_folder_pdf(folder).passed
    assert build_folder_pdf(folder, pdfa=False).rebuilt, "the choice is part of its signature"
