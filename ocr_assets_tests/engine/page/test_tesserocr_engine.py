"""The kept-loaded engine (tesserocr): chosen by configuration, same results contract as the
CLI backend, no state carried from one page to the next, clear errors when models are missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.page.engines.base import parse_tsv
from ocr_assets.engine.page.engines.registry import check_engine_ready, get_engine
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.helpers import ground_truth, new_run

tesserocr_engine = pytest.importorskip(
    "ocr_assets.engine.page.engines.tesserocr_engine",
    reason="tesserocr is not installed (scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def backend() -> tesserocr_engine.TesserocrEngine:
    return tesserocr_engine.TesserocrEngine()


def test_a_folder_ocred_with_tesserocr_reads_the_pages_and_says_which_engine(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    pages = [fixtures_dir / "pages" / name for name in ("phototest.tif", "eurotext.tif")]
    for page in pages:
        shutil.copy(page, run.folder / page.name)

    report = run.process(engine="tesserocr")

    assert (report.done, report.failed) == (2, 0), report.failures
    for page in pages:
        assert cer(ground_truth(page), run.text(page.name)) < 0.05
        row = run.manifest.pages(run.key)[page.name]
        assert row.engine == "tesserocr"
        assert row.words and row.words > 20 and row.mean_confidence > 80
        facts = read_json(run.outputs, output_keys(row.output_name)[1])
        assert facts["engine"] == "tesserocr"
        assert facts["engine_version"].startswith("5.")


def test_no_state_carries_from_one_page_to_the_next(backend, tmp_path: Path,
                                                    fixtures_dir: Path) -> None:
    phototest = fixtures_dir / "pages" / "phototest.tif"
    eurotext = fixtures_dir / "pages" / "eurotext.tif"
    options = {"lang": "eng", "psm": 3, "timeout_s": 60}
    alone = backend.recognise(phototest, tmp_path, **options)
    backend.recognise(eurotext, tmp_path, **options)
    again = backend.recognise(phototest, tmp_path, **options)
    assert again == alone
    assert alone.image_read and len(alone.words) == len(alone.confidences) > 20


def test_the_page_segmentation_mode_is_applied_per_page(backend, tmp_path: Path,
                                                        fixtures_dir: Path) -> None:
    page = fixtures_dir / "pages" / "phototest.tif"
    auto = backend.recognise(page, tmp_path, lang="eng", psm=3, timeout_s=60)
    one_line = backend.recognise(page, tmp_path, lang="eng", psm=7, timeout_s=60)
    assert auto.text.count("\n") > 5
    assert one_line.text.strip().count("\n") == 0


def test_a_file_leptonica_cannot_read_is_reported_as_not_read(backend, tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("this is text, not a PNG\n")
    output = backend.recognise(not_an_image, tmp_path, lang="eng", psm=3, timeout_s=60)
    assert not output.image_read and output.text == ""


def test_a_missing_language_fails_before_the_batch_and_per_page(tmp_path: Path,
                                                                fixtures_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="tesseract-ocr-xyz"):
        check_engine_ready("tesserocr", "eng+xyz")
    with pytest.raises(PageError) as caught:
        get_engine("tesserocr").recognise(fixtures_dir / "pages" / "phototest.tif", tmp_path,
                                           lang="xyz", psm=3, timeout_s=60)
    assert caught.value.category == FailureCategory.MISSING_LANGUAGE


def test_tessdata_comes_from_the_option_then_the_environment(tmp_path: Path,
                                                             monkeypatch) -> None:
    installed = tesserocr_engine.find_tessdata()
    assert (installed / "eng.traineddata").is_file()
    with pytest.raises(RuntimeError, match=r"holds no \*\.traineddata"):
        tesserocr_engine.find_tessdata(str(tmp_path))
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="TESSDATA_PREFIX names"):
        tesserocr_engine.find_tessdata()
    assert tesserocr_engine.find_tessdata(str(installed)) == installed
    with pytest.raises(RuntimeError, match="TESSDATA_PREFIX"):
        check_engine_ready("tesserocr", "eng")
    check_engine_ready(f"tesserocr:{installed}", "eng")


def test_tsv_is_parsed_with_or_without_the_clis_header_row() -> None:
    rows = ("1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n"
            "5\t1\t1\t1\t1\t1\t10\t10\t40\t12\t96.5\tHello\n"
            "5\t1\t1\t1\t1\t2\t60\t10\t40\t12\t-1\t \n")
    header = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
              "height\tconf\ttext\n")
    assert parse_tsv(rows) == parse_tsv(header + rows) == (("Hello",), (96.5,), True)
