"""The empty and garbage detector against labelled pages (`quality_calibration`).

Without the shared set, a quick few: the shipped text pages, a generated scribble page, a
mirrored page and a blank one, every one classified right. With it, the whole labelled set,
whose precision and recall docs/quality.md reports, from the session's one reading of the shared
set (`shared_ocr`, which the CLI-parity, accuracy and bad-inputs tests read too): precision
and recall at least 0.95, and its hardest pages (a 1548 Fraktur page, a Latin and German title
page, a one-line page, the blank and near-blank inputs) each classified right.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ocr_assets_tests.helpers import FIXTURES
from ocr_assets_tests.quality_calibration import (
    EMPTY,
    GARBAGE,
    TEXT,
    LabelledFile,
    calibrate,
    calibration_of,
    labelled_files,
    markdown,
)
from ocr_assets_tests.shared_ocr import SharedOcr, mirrored_page, scribble_page

GOAL = 0.95
SHARED_FEW = {
    "pages/OCR-D_gt_structure_text/aepinus_bekentnis_1548_0006_B.tif": (TEXT, "deu"),
    "pages/OCR-D_gt_structure_text/herder_geschichte03_1787_0007.jpg": (TEXT, "deu"),
    "bad/sparse_trainingtimes.tif": (TEXT, "eng"),
    "bad/blank_cover_laube_1837_0310.jpg": (EMPTY, "deu"),
    "bad/nearblank_endpaper_laube_1837_0309.jpg": (EMPTY, "deu"),
    "bad/nearblank_backcover_vischer_1858_0081.jpg": (EMPTY, "deu"),
    "bad/old-style-jpeg-compression.tif": (EMPTY, "eng"),
}


def quick_set(tmp_path: Path) -> list[LabelledFile]:
    generated = tmp_path / "generated"
    generated.mkdir()
    blank = generated / "blank.png"
    Image.new("L", (1700, 2200), 250).save(blank, dpi=(200, 200))
    return [LabelledFile(FIXTURES / "pages" / "phototest.tif", TEXT, "eng"),
            LabelledFile(FIXTURES / "pages" / "eurotext.tif", TEXT, "eng"),
            LabelledFile(blank, EMPTY, "eng"),
            LabelledFile(scribble_page(1, generated / "scribble.png"), GARBAGE, "eng"),
            LabelledFile(mirrored_page(FIXTURES / "pages" / "phototest.tif",
                                       generated / "mirrored.png"), GARBAGE, "eng")]


def assert_goal(result, *, exact: bool) -> None:
    table = markdown(result)
    assert not result.failed, f"labelled pages failed: {result.failed}\n{table}"
    if exact:
        assert not result.mistakes(), table
    assert result.precision >= GOAL and result.recall >= GOAL, table


def test_quick_labelled_pages_are_all_classified_right(tmp_path: Path) -> None:
    result = calibrate(quick_set(tmp_path), tmp_path / "work")
    assert len(result.verdicts) == 5
    assert_goal(result, exact=True)


def test_hardest_shared_pages_are_classified_right(shared_testdata: Path,
                                                   shared_ocr: SharedOcr) -> None:
    files = [LabelledFile(shared_testdata / name, label, lang)
             for name, (label, lang) in SHARED_FEW.items()]
    assert all(shared_ocr.lang(item.path) == item.lang for item in files)
    result = calibration_of(shared_ocr, files)
    assert len(result.verdicts) == len(files)
    assert_goal(result, exact=True)


def test_precision_and_recall_on_every_labelled_page(shared_testdata: Path,
                                                     shared_ocr: SharedOcr) -> None:
    result = calibration_of(shared_ocr, labelled_files(shared_testdata, shared_ocr.generated))
    labelled = [v for v in result.verdicts if v.label is not None]
    assert len(labelled) >= 80, markdown(result)
    assert {v.label for v in labelled} == {TEXT, EMPTY, GARBAGE}
    assert_goal(result, exact=False)
