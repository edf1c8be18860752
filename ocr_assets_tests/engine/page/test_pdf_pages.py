"""PDF pages through the whole folder run: a folder that mixes PDFs and images read by the real
Tesseract, and `skip_text` keeping a PDF's text layer instead of OCRing it."""

from __future__ import annotations

import shutil
from pathlib import Path

from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.page.worker import TEXT_LAYER_ENGINE, output_keys
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import Run, ground_truth, new_run
from ocr_assets_tests.pdf_files import blank_pages_pdf, pdf_of_pages, with_text_layer

LAYER = "Kept from the OCR the scanner made of this page"


def facts(run: Run, page_id: str) -> dict:
    row = run.manifest.pages(run.key)[page_id]
    return read_json(run.outputs, output_keys(row.output_name)[1])


def test_a_folder_of_pdfs_and_images_reads_each_pdf_page_like_its_scan(
        tmp_path: Path, fixtures_dir: Path) -> None:
    pages = fixtures_dir / "pages"
    run = new_run(tmp_path)
    (run.folder / "box.pdf").write_bytes(pdf_of_pages([pages / "phototest.tif",
                                                      pages / "eurotext.tif"]))
    shutil.copy(pages / "phototest.tif", run.folder)
    shutil.copy(pages / "eurotext.tif", run.folder)

    report = run.process(workers=2)

    assert (report.pages, report.done, report.failed) == (4, 4, 0)
    for page_id, scan in (("box.pdf#1", "phototest.tif"), ("box.pdf#2", "eurotext.tif")):
        truth = ground_truth(pages / scan)
        from_pdf, from_scan = cer(truth, run.text(page_id)), cer(truth, run.text(scan))
        assert from_pdf <= from_scan + 0.01, (page_id, from_pdf, from_scan)
    page_facts = facts(run, "box.pdf#1")
    assert (page_facts["source"], page_facts["frame"]) == ("box.pdf", 1)
    assert page_facts["image"]["steps"] == ["pdf_page_1", "rendered_200dpi"]
    assert page_facts["text_layer"] is None
    assert check_counts(run.scan_folder).passed


def test_skip_text_keeps_a_text_layer_and_ocrs_pages_without_one(tmp_path: Path,
                                                                 fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    layered = run.folder / "layered.pdf"
    layered.write_bytes(pdf_of_pages([fixtures_dir / "pages" / "phototest.tif"]))
    with_text_layer(layered, LAYER)
    (run.folder / "plain.pdf").write_bytes(blank_pages_pdf(1))

    first = run.process(engine=fault())
    assert first.done == 2
    assert run.text("layered.pdf") != LAYER, "a text layer is OCRed again by default"

    (run.folder / "folder.toml").write_text("skip_text = true\n")
    again = run.process(engine=fault())

    assert again.processed == 2, "skip_text is in the recipe: both pages are read again"
    rows = run.manifest.pages(run.key)
    assert run.text("layered.pdf") == LAYER
    assert rows["layered.pdf"].engine == TEXT_LAYER_ENGINE
    kept = facts(run, "layered.pdf")
    assert (kept["text_layer"], kept["engine"], kept["image"]) == ("kept", TEXT_LAYER_ENGINE,
                                                                  None)
    assert kept["settings"]["skip_text"] is True
    assert kept["engine_version"].startswith("pdfium ")
    assert kept["flags"] == [] and kept["words"] == len(LAYER.split())
    plain = facts(run, "plain.pdf")
    assert plain["text_layer"] is None and plain["engine"] != TEXT_LAYER_ENGINE
    assert check_counts(run.scan_folder).passed
