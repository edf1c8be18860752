"""A page's searchable PDF: the image read, with the words of the same pass as invisible text,
extracting to the page's text word for word."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from ocr_assets.engine.folder.searchable_pdf import extracted_words
from ocr_assets.engine.page.engines.tesserocr_engine import TesserocrEngine
from ocr_assets.engine.page.searchable_pdf import Direction, line_directions, page_pdf, tsv_lines
from ocr_assets.engine.page.worker import archival_key
from ocr_assets_tests.helpers import FRAKTUR_INSTALLED, new_run, require_program
from ocr_assets_tests.pdf_files import pdf_of_pages, with_text_layer

TSV = "\n".join([
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
    "1\t1\t0\t0\t0\t0\t0\t0\t600\t400\t-1\t",
    "4\t1\t1\t1\t1\t0\t10\t20\t300\t30\t-1\t",
    "5\t1\t1\t1\t1\t1\t10\t20\t100\t30\t91.5\tGrüße,",
    "5\t1\t1\t1\t1\t2\t120\t20\t60\t30\t-1\t ",
    "5\t1\t1\t1\t1\t3\t200\t20\t110\t30\t88\t\u017ftraße",
    "4\t1\t1\t1\t2\t0\t10\t60\t50\t30\t-1\t",
    "5\t1\t1\t1\t2\t1\t10\t60\t50\t30\t70\tend",
])


OVERLAPPING_TSV = "\n".join([
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
    "4\t1\t1\t1\t1\t0\t10\t20\t400\t40\t-1\t",
    "5\t1\t1\t1\t1\t1\t10\t20\t120\t40\t90\tyou\u2019",
    "5\t1\t1\t1\t1\t2\t100\t20\t30\t40\t90\tll",
    "5\t1\t1\t1\t1\t3\t140\t20\t150\t40\t90\t140",
    "5\t1\t1\t1\t1\t4\t250\t20\t60\t40\t90\t\u2014",
    "5\t1\t1\t1\t1\t5\t240\t20\t100\t40\t90\tback",
])
"""Word boxes that overlap, as Tesseract's do where a word touches the next ("you'" "ll",
"140" "—"), one even starting before the one it follows."""


@pytest.fixture(scope="module")
def pdftotext() -> Callable[[bytes], list[str]]:
    """The words poppler's `pdftotext -raw` extracts (content-stream order, no layout
    analysis)."""
    program = require_program("pdftotext", "poppler-utils",
                              "check the text a PDF reader extracts")

    def words(data: bytes) -> list[str]:
        return subprocess.run([program, "-raw", "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode("utf-8").split()
    return words


def test_the_pass_tsv_gives_lines_of_words_in_reading_order() -> None:
    lines = tsv_lines(TSV)
    assert [[w.text for w in line.words] for line in lines] == [["Grüße,", "\u017ftraße"], ["end"]]
    assert lines[0].words[1].box.left == 200 and lines[1].box.top == 60


def test_any_script_extracts_as_it_was_read(tmp_path: Path) -> None:
    """Long s, umlauts and sharp s come back as the same code points (UTF-16 codes, identity
    ToUnicode), and a page without words is its image alone."""
    image = tmp_path / "page.png"
    Image.new("L", (600, 400), 255).save(image, dpi=(300, 300))
    assert _words_of_pdf(page_pdf(image, TSV, "page.png")) == ["Grüße,", "\u017ftraße", "end"]
    assert _words_of_pdf(page_pdf(image, "", "page.png")) == []


def test_overlapping_word_boxes_still_extract_as_separate_words(
        tmp_path: Path, pdftotext: Callable[[bytes], list[str]]) -> None:
    image = tmp_path / "page.png"
    Image.new("L", (600, 100), 255).save(image, dpi=(300, 300))
    data = page_pdf(image, OVERLAPPING_TSV, "page.png")
    expected = ["you\u2019", "ll", "140", "\u2014", "back"]
    assert pdftotext(data) == expected
    assert _words_of_pdf(data) == expected


@pytest.mark.parametrize(("page", "lang", "turn"), [
    ("pages/phototest.tif", "eng", 0), ("pages/phototest.tif", "eng", 90),
    ("pages/phototest.tif", "eng", 270), ("pages/eurotext.tif", "eng", 0),
    ("pages/eurotext.tif", "eng", 90), ("pages/eurotext.tif", "eng", 270),
    pytest.param("fraktur/laube_europa0202_1837_0105.jpg", "script/Fraktur", 0,
                 marks=FRAKTUR_INSTALLED)])
def test_pdftotext_extracts_the_page_text_word_for_word(
        tmp_path: Path, fixtures_dir: Path, pdftotext: Callable[[bytes], list[str]],
        page: str, lang: str, turn: int) -> None:
    """Every shipped page, read as scanned, turned on either side too (Tesseract reads the
    lines of a sideways page as vertical, and the text layer turns those lines' text matrix);
    the Fraktur page with long s, read with its model."""
    image = tmp_path / (Path(page).stem + ".png")
    with Image.open(fixtures_dir / page) as scan:
        scan.rotate(turn, expand=True).save(image, dpi=scan.info.get("dpi", (300, 300)))
    reading = TesserocrEngine().recognise(image, tmp_path, lang=lang, psm=3, timeout_s=120)
    directions = line_directions(tsv_lines(reading.tsv))
    if turn:
        assert directions.count(Direction.RIGHT) < len(directions) / 4, "read as vertical lines"
    words = reading.text.split()
    assert len(words) > 50
    assert pdftotext(page_pdf(reading.image_path, reading.tsv, page)) == words


def _words_of_pdf(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    try:
        return extracted_words(" ".join(page.get_textpage().get_text_bounded()
                                        for page in document))
    finally:
        document.close()


def test_a_page_pdf_holds_its_image_and_extracts_to_its_text_word_for_word(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    assert run.process(workers=1, searchable_pdf=True).done == 1

    path = run.outputs.path(archival_key("phototest.tif", "pdf"))
    words = run.text("phototest.tif").split()
    assert len(words) > 50 and _words_of_pdf(path.read_bytes()) == words
    if shutil.which("pdftotext"):
        extracted = subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                   text=True, check=True).stdout
        assert extracted.split() == words, "poppler's pdftotext reads the same words"
    with pikepdf.open(path) as pdf:
        [page] = pdf.pages
        assert len(page.get_images()) == 1, "the scan is the page's one image"
        width_pt = float(page.mediabox[2])
    assert abs(width_pt - 640 / 200 * 72) < 1, "sized by the scan's resolution (200 dpi)"

    plain = new_run(tmp_path / "plain")
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", plain.folder)
    plain.process(workers=1)
    assert not plain.outputs.exists(archival_key("phototest.tif", "pdf"))
    assert plain.text("phototest.tif") == run.text("phototest.tif"), "the same text"


def test_a_kept_text_layer_page_is_the_source_page_as_it_is(tmp_path: Path,
                                                           fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    source = run.folder / "born.pdf"
    source.write_bytes(pdf_of_pages([fixtures_dir / "pages" / "phototest.tif"]))
    with_text_layer(source, "kept words only")
    assert run.process(workers=1, searchable_pdf=True, skip_text=True).done == 1
    page = run.outputs.path(archival_key("born.pdf", "pdf")).read_bytes()
    assert _words_of_pdf(page) == ["kept", "words", "only"]
