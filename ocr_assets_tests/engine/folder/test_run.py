"""A folder's OCR as one unit (`ocr_folder`): the report is where the folder stands after the
retry pass, and `failed_again` reads failed pages again that a plain run leaves alone."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ocr_assets.engine.folder.run import ocr_folder
from ocr_assets.engine.manifest import DONE
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import new_run

ENGINE = fault()


def test_a_page_failed_for_good_is_read_again_only_when_asked(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    Image.new("L", (400, 300), 255).save(run.folder / "plate.png")
    Image.new("L", (40, 30), 255).save(run.folder / "small.png")
    strict = OcrSettings(engine=ENGINE, workers=1, max_megapixels=0.05, auto_rotate=False)

    first = ocr_folder(run.scan_folder, settings=strict)
    assert run.manifest.pages(run.key)["plate.png"].error_category == "too_large"
    assert (first.report.done, first.report.failed) == (1, 1)

    plain = ocr_folder(run.scan_folder, settings=strict)
    assert (plain.report.processed, plain.retry.tried) == (0, 0), \
        "a plain run leaves a page failed for good on the same input alone"

    fixed = OcrSettings(engine=ENGINE, workers=1, auto_rotate=False)  # the limit raised
    again = ocr_folder(run.scan_folder, settings=fixed, failed_again=True)
    rows = run.manifest.pages(run.key)
    assert (again.report.processed, rows["plate.png"].status) == (1, DONE)
    assert (again.report.done, again.report.failed) == (2, 0), "the counts after both passes"
    assert rows["small.png"].attempts == 1, "a done page is not read again"


def test_the_report_counts_what_the_retry_pass_recovered(tmp_path: Path) -> None:
    """Tesseract reads nothing of the page as filed (Leptonica cannot decode it); the retry
    pass hands it a Pillow-decoded PNG (`page.png`, without the fault's marker) and reads it."""
    run = new_run(tmp_path)
    Image.new("L", (40, 30), 255).save(run.folder / "p.fault-leptonica-unreadable.png")
    folder_run = ocr_folder(run.scan_folder, settings=OcrSettings(
        engine=ENGINE, workers=1, auto_rotate=False))
    row = run.manifest.pages(run.key)["p.fault-leptonica-unreadable.png"]
    assert (row.status, row.attempts) == (DONE, 2)
    assert (folder_run.retry.tried, folder_run.retry.recovered) == (1, 1)
    assert (folder_run.report.done, folder_run.report.failed, folder_run.report.recovered) == (
        1, 0, 1), "the report counts the folder after the retry pass, not after the first"
    assert folder_run.report.total_s >= folder_run.report.elapsed_s
