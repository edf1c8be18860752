"""One PDF page: why a PDF cannot be read, the scan's resolution, the guards before rendering,
the rendered page, the text layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.pdf import (
    is_pdf,
    open_pdf,
    page_count,
    pdf_page,
    render_page,
    scan_dpi,
    text_layer,
)
from ocr_assets_tests.pdf_files import (
    blank_pages_pdf,
    encrypted,
    image_bomb_pdf,
    pdf_of_pages,
    with_text_layer,
)


@pytest.fixture
def scans_pdf(tmp_path: Path, fixtures_dir: Path) -> Path:
    """phototest (640x480 at 200 dpi) and eurotext (1024x800 at 300 dpi), one page each."""
    pages = fixtures_dir / "pages"
    path = tmp_path / "scans.pdf"
    path.write_bytes(pdf_of_pages([pages / "phototest.tif", pages / "eurotext.tif"]))
    return path


def failure(path: Path, frame: int | None = None, max_pages: int = 100) -> PageError:
    with pytest.raises(PageError) as error, pdf_page(path, frame, max_pages):
        pass
    return error.value


def test_a_pdf_is_known_by_its_extension_or_its_first_bytes(tmp_path: Path) -> None:
    (tmp_path / "scan.PDF").write_bytes(b"not really")
    (tmp_path / "export").write_bytes(blank_pages_pdf(1))
    (tmp_path / "note").write_text("PDF to follow")
    assert is_pdf(tmp_path / "scan.PDF") and is_pdf(tmp_path / "export")
    assert not is_pdf(tmp_path / "note")


def test_each_page_is_rendered_at_the_resolution_of_its_scan(scans_pdf: Path,
                                                             tmp_path: Path) -> None:
    assert page_count(scans_pdf) == 2
    for frame, (dpi, size) in enumerate([(200, (640, 480)), (300, (1024, 800))]):
        with pdf_page(scans_pdf, frame, 100) as page:
            assert scan_dpi(page) == pytest.approx(dpi, rel=1e-3)
            image = render_page(page, scans_pdf, frame, tmp_path, max_megapixels=120,
                                max_side_px=10000)
        assert (image.width, image.height) == size
        assert image.steps == (f"pdf_page_{frame + 1}", f"rendered_{dpi}dpi")
        with Image.open(image.path) as png:
            assert png.mode == "L" and png.size == size
            assert round(png.info["dpi"][0]) == dpi


def test_a_page_without_a_scan_is_rendered_at_300_dpi_and_downscaled_by_rendering(
        tmp_path: Path) -> None:
    path = tmp_path / "blank.pdf"
    path.write_bytes(blank_pages_pdf(1))
    with pdf_page(path, None, 100) as page:
        assert scan_dpi(page) is None
        full = render_page(page, path, None, tmp_path, max_megapixels=120, max_side_px=10000)
        assert (full.width, full.height) == (2550, 3300)
        small = render_page(page, path, None, tmp_path, max_megapixels=120, max_side_px=1650)
    assert (small.width, small.height) == (1275, 1650)
    assert small.steps == ("pdf_page_1", "no_scanned_image", "rendered_300dpi",
                           "downscale_0.500")


@pytest.mark.parametrize(("make", "message"), [
    (lambda path: path.write_bytes(b"%PDF-1.4\nnothing else\n"), "cannot be read as a PDF"),
    (lambda path: path.write_bytes(b""), "cannot be read as a PDF"),
    (lambda path: path.write_bytes(blank_pages_pdf(0)), "has no pages"),
    (lambda path: encrypted(blank_pages_pdf(1), path, "secret"), "encrypted with a password"),
])
def test_a_pdf_that_cannot_be_read_says_why(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.pdf"
    make(path)
    error = failure(path)
    assert error.category == FailureCategory.UNREADABLE_DOCUMENT
    assert message in error.message and "bad.pdf" in error.message
    assert page_count(path) is None


def test_the_reason_is_this_documents_own_not_an_earlier_ones(tmp_path: Path) -> None:
    encrypted(blank_pages_pdf(1), tmp_path / "locked.pdf", "secret")
    (tmp_path / "empty.pdf").write_bytes(blank_pages_pdf(0))
    assert "password" in failure(tmp_path / "locked.pdf").message
    assert "has no pages" in failure(tmp_path / "empty.pdf").message


def test_a_pdf_encrypted_only_against_editing_is_read(tmp_path: Path) -> None:
    encrypted(blank_pages_pdf(2), tmp_path / "owner_only.pdf", "")
    assert page_count(tmp_path / "owner_only.pdf") == 2


def test_too_many_pages_and_a_page_that_is_gone_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(blank_pages_pdf(30))
    error = failure(path, None, max_pages=20)
    assert error.category == FailureCategory.TOO_LARGE
    assert "30 pages, above the limit of 20 pages" in error.message
    error = failure(path, 40)
    assert error.category == FailureCategory.UNREADABLE_DOCUMENT
    assert "now has 30 pages" in error.message


def test_a_huge_page_and_an_image_bomb_are_refused_before_rendering(tmp_path: Path) -> None:
    huge = tmp_path / "huge.pdf"
    huge.write_bytes(blank_pages_pdf(1, media_box=b"[0 0 14400 14400]"))  # 200 x 200 inches
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(image_bomb_pdf(12000))  # 144 MP of pixels drawn into one point
    assert bomb.stat().st_size < 300_000
    for path, message in ((huge, "60000x60000 at 300 dpi is 3600 MP"),
                          (bomb, "holds a 12000x12000 image of 144 MP")):
        with pdf_page(path, None, 100) as page, pytest.raises(PageError) as error:
            render_page(page, path, None, tmp_path, max_megapixels=120, max_side_px=10000)
        assert error.value.category == FailureCategory.TOO_LARGE
        assert message in error.value.message and "raise max_megapixels" in error.value.message
    assert not (tmp_path / "page.png").exists()


def test_the_text_layer_is_read_and_a_scan_without_one_has_none(scans_pdf: Path) -> None:
    with pdf_page(scans_pdf, 0, 100) as page:
        assert text_layer(page) == ""
    with_text_layer(scans_pdf, "Kept from an earlier OCR")
    with pdf_page(scans_pdf, 1, 100) as page:
        assert text_layer(page) == "Kept from an earlier OCR"


def test_open_pdf_gives_the_document(scans_pdf: Path) -> None:
    with open_pdf(scans_pdf) as document:
        assert len(document) == 2
