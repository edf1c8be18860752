"""Opening and normalising page images: what Tesseract is handed, and what is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.decode import PreparedImage, prepare_image
from ocr_assets_tests.helpers import write_huge_png

WHITE, BLACK = (255, 255, 255), (0, 0, 0)


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare_image sets Pillow's global pixel limit; give it back after each test."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def prepare(path: Path, work_dir: Path, frame: int | None = None, *,
            max_megapixels: float = 120.0, max_side_px: int = 10000) -> PreparedImage:
    work_dir.mkdir(exist_ok=True)
    return prepare_image(path, frame, work_dir, max_megapixels=max_megapixels,
                         max_side_px=max_side_px)


def failure(path: Path, work_dir: Path, **limits: float) -> PageError:
    with pytest.raises(PageError) as caught:
        prepare(path, work_dir, **limits)
    return caught.value


def test_a_plain_bilevel_tiff_goes_to_tesseract_untouched(tmp_path: Path,
                                                          fixtures_dir: Path) -> None:
    page = fixtures_dir / "pages" / "phototest.tif"
    prepared = prepare(page, tmp_path / "work")
    assert prepared == PreparedImage(page, False, 640, 480, ())
    assert not any((tmp_path / "work").iterdir())


def test_exif_orientation_is_applied(tmp_path: Path, fixtures_dir: Path) -> None:
    page = fixtures_dir / "odd" / "hopper_orientation_6.jpg"
    prepared = prepare(page, tmp_path / "work")

    assert prepared.normalised
    assert prepared.steps == ("exif_transpose",)
    with Image.open(page) as original, Image.open(prepared.path) as result:
        assert original.getexif()[0x0112] == 6
        upright = original.convert("RGB").transpose(Image.Transpose.ROTATE_270)
        assert result.mode == "RGB"
        assert result.tobytes() == upright.tobytes()
        assert result.tobytes() != original.convert("RGB").tobytes()


def test_exif_orientation_turns_a_landscape_scan_upright(tmp_path: Path) -> None:
    scan = Image.new("RGB", (300, 100), "white")
    exif = scan.getexif()
    exif[0x0112] = 8  # stored turned: display rotated 90 degrees counter-clockwise
    scan.save(tmp_path / "scan.jpg", exif=exif)

    prepared = prepare(tmp_path / "scan.jpg", tmp_path / "work")

    assert (prepared.width, prepared.height) == (100, 300)
    assert "exif_transpose" in prepared.steps


def test_cmyk_becomes_rgb_without_a_rotation_step(tmp_path: Path, fixtures_dir: Path) -> None:
    prepared = prepare(fixtures_dir / "odd" / "pil_sample_cmyk.jpg", tmp_path / "work")

    assert prepared.normalised
    assert prepared.steps == ("cmyk_to_rgb",)
    with Image.open(prepared.path) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (100, 100))


def test_16_bit_greyscale_becomes_8_bit_and_keeps_its_contrast(tmp_path: Path,
                                                                fixtures_dir: Path) -> None:
    page = fixtures_dir / "odd" / "16bit.cropped.tif"
    prepared = prepare(page, tmp_path / "work")

    assert prepared.steps == ("I;16_to_L",)
    with Image.open(page) as original, Image.open(prepared.path) as result:
        assert original.mode == "I;16"
        assert result.mode == "L"
        low, high = result.getextrema()
        assert high - low > 100  # scaled into 0..255, not clipped to one grey


def test_palette_with_transparency_is_laid_on_white_paper(tmp_path: Path,
                                                           fixtures_dir: Path) -> None:
    # The page's paper is palette entry 0 and transparent; its stored colour is black, so a
    # naive conversion would give a black page with black text.
    with Image.open(fixtures_dir / "pages" / "phototest.tif") as page:
        ink = page.convert("L").point(lambda v: 1 if v < 128 else 0)
    palette_page = Image.frombytes("P", ink.size, ink.tobytes())  # 0 = paper, 1 = ink
    palette_page.putpalette([0, 0, 0] * 256)
    palette_page.save(tmp_path / "page.png", transparency=0)
    ink_pixels = ink.histogram()[1]
    assert 1000 < ink_pixels < 640 * 480 // 2

    prepared = prepare(tmp_path / "page.png", tmp_path / "work")

    assert prepared.steps == ("palette_to_rgba", "alpha_on_white")
    with Image.open(prepared.path) as result:
        assert result.mode == "RGB"
        colours = dict((colour, n) for n, colour in result.getcolors())
        assert colours == {WHITE: 640 * 480 - ink_pixels, BLACK: ink_pixels}


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    scan = Image.new("RGBA", (200, 100), (0, 0, 0, 0))  # transparent black paper
    for x in range(50, 150):
        scan.putpixel((x, 50), (0, 0, 0, 255))  # an opaque black line of "ink"
    scan.save(tmp_path / "page.png")

    prepared = prepare(tmp_path / "page.png", tmp_path / "work")

    assert prepared.steps == ("alpha_on_white",)
    with Image.open(prepared.path) as result:
        assert result.mode == "RGB"
        assert result.getpixel((10, 10)) == WHITE
        assert result.getpixel((100, 50)) == BLACK


def test_one_frame_of_a_multipage_tiff_is_extracted(tmp_path: Path, fixtures_dir: Path) -> None:
    prepared = prepare(fixtures_dir / "odd" / "multipage.tiff", tmp_path / "work", frame=2)
    assert prepared.normalised
    assert prepared.steps[0] == "frame_3"
    with Image.open(prepared.path) as result:
        assert result.size == (20, 20)
        assert result.mode == "RGB"


def test_a_page_above_max_side_is_downscaled_and_its_dpi_follows(tmp_path: Path,
                                                                   fixtures_dir: Path) -> None:
    prepared = prepare(fixtures_dir / "pages" / "phototest.tif", tmp_path / "work",
                       max_side_px=320)

    assert prepared.normalised
    assert prepared.steps == ("downscale_0.500",)
    assert (prepared.width, prepared.height) == (320, 240)
    with Image.open(prepared.path) as result:
        assert result.size == (320, 240)
        assert result.info["dpi"] == pytest.approx((100, 100), abs=0.1)  # 200 dpi halved


@pytest.mark.parametrize("max_megapixels", [100.0, 300.0])
def test_a_huge_image_is_refused_before_decoding(tmp_path: Path, max_megapixels: float) -> None:
    # 20000 x 20000 = 400 MP, a few hundred KB on disk: above 2x the limit Pillow refuses to
    # open it at all; between 1x and 2x it warns, which the engine turns into a refusal too.
    page = tmp_path / "huge.png"
    write_huge_png(page, 20000, 20000)
    assert page.stat().st_size < 1_000_000

    error = failure(page, tmp_path / "work", max_megapixels=max_megapixels)

    assert error.category == FailureCategory.TOO_LARGE
    assert error.message.startswith("huge.png: 400 MP, above the limit of "
                                    f"{max_megapixels:g} MP (OCR_ASSETS_MAX_MEGAPIXELS = "
                                    f"{max_megapixels:g} MP)")
    assert "raise max_megapixels" in error.message and "downscale the scan" in error.message
    assert "decompression bomb" not in error.message, "Pillow's own words leaked out"


def test_the_size_check_comes_before_any_pixel_is_decoded(tmp_path: Path) -> None:
    # A huge header over a corrupt pixel stream: decoding would fail as unreadable_image, so
    # too_large proves the refusal happened first.
    write_huge_png(tmp_path / "huge.png", 20000, 20000)
    data = bytearray((tmp_path / "huge.png").read_bytes())
    data[60:80] = b"\x00" * 20
    (tmp_path / "corrupt_huge.png").write_bytes(bytes(data))

    error = failure(tmp_path / "corrupt_huge.png", tmp_path / "work", max_megapixels=300)

    assert error.category == FailureCategory.TOO_LARGE


def test_a_huge_later_frame_of_a_multipage_tiff_is_refused_before_it_is_decoded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size check at open sees the first frame only; a later frame is checked when the
    engine seeks to it, before Pillow allocates its pixels (every allocation is noted)."""
    page = tmp_path / "book.tif"
    small, huge = Image.new("L", (100, 100), 255), Image.new("L", (2000, 2000), 255)
    small.save(page, save_all=True, append_images=[huge], compression="tiff_lzw")
    allocated: list[tuple[int, int]] = []
    original_new = Image.core.new

    def noting_new(mode: str, size: tuple[int, int], *args: object):
        allocated.append(tuple(size))
        return original_new(mode, size, *args)

    monkeypatch.setattr(Image.core, "new", noting_new)

    with pytest.raises(PageError) as caught:
        prepare(page, tmp_path / "w1", frame=1, max_megapixels=1)

    assert caught.value.category == FailureCategory.TOO_LARGE
    assert caught.value.message.startswith(
        "book.tif frame 2: 2000x2000 is 4 MP, above the limit of 1 MP "
        "(OCR_ASSETS_MAX_MEGAPIXELS = 1 MP)")
    assert "raise max_megapixels" in caught.value.message
    assert (2000, 2000) not in allocated, "the oversized frame's pixels were allocated"
    assert prepare(page, tmp_path / "w2", frame=0, max_megapixels=1).width == 100
    assert (100, 100) in allocated  # the witness sees the allocations that do happen


def test_an_image_within_the_limit_is_read(tmp_path: Path) -> None:
    write_huge_png(tmp_path / "big.png", 3000, 3000)  # 9 MP
    assert prepare(tmp_path / "big.png", tmp_path / "w1").width == 3000
    error = failure(tmp_path / "big.png", tmp_path / "w2", max_megapixels=5)
    assert error.category == FailureCategory.TOO_LARGE
    assert "raise max_megapixels" in error.message.lower()


@pytest.mark.parametrize(("name", "category"), [
    ("truncated_jpeg.jpg", FailureCategory.UNREADABLE_IMAGE),
    ("broken.png", FailureCategory.UNREADABLE_IMAGE),
    ("zero_bytes.tif", FailureCategory.UNREADABLE_IMAGE),
    ("png_decompression_dos.png", FailureCategory.UNREADABLE_IMAGE),
    ("decompression_bomb.gif", FailureCategory.TOO_LARGE),
])
def test_broken_files_fail_with_their_category(tmp_path: Path, fixtures_dir: Path, name: str,
                                               category: FailureCategory) -> None:
    error = failure(fixtures_dir / "odd" / name, tmp_path / "work")
    assert error.category == category
    assert name in error.message


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_a_truncated_copy_of_a_real_page_is_unreadable(tmp_path: Path, fixtures_dir: Path,
                                                       keep: float) -> None:
    # eurotext.tif keeps its directory at the end: any cut loses it, or the pixels.
    data = (fixtures_dir / "pages" / "eurotext.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: int(len(data) * keep)])
    error = failure(tmp_path / "cut.tif", tmp_path / "work")
    assert error.category == FailureCategory.UNREADABLE_IMAGE


def test_a_file_that_vanished_is_an_io_error(tmp_path: Path) -> None:
    error = failure(tmp_path / "gone.png", tmp_path / "work")
    assert error.category == FailureCategory.IO_ERROR


def test_an_unwritable_work_dir_is_an_io_error(tmp_path: Path, fixtures_dir: Path) -> None:
    shutil.copy(fixtures_dir / "odd" / "pil_sample_cmyk.jpg", tmp_path)
    with pytest.raises(PageError) as caught:
        prepare_image(tmp_path / "pil_sample_cmyk.jpg", None, tmp_path / "missing" / "dir",
                      max_megapixels=120, max_side_px=10000)
    assert caught.value.category == FailureCategory.IO_ERROR
