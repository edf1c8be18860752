"""Deskew (Leptonica): the angle of a page laid askew, a straightened copy only when it is
askew, and a skewed shipped page read better with it, as a folder's recipe option."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.page.deskew import deskew_image
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.helpers import ground_truth, new_run


def skewed(page: Path, degrees: float, target: Path) -> Path:
    """`page` laid `degrees` askew (counter-clockwise), white brought in, its dpi kept."""
    with Image.open(page) as image:
        image.convert("L").rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                                  fillcolor=255).save(target, dpi=image.info["dpi"])
    return target


@pytest.fixture(scope="module")
def phototest(fixtures_dir: Path) -> Path:
    return fixtures_dir / "pages" / "phototest.tif"


@pytest.mark.parametrize("degrees", [-3, 4, 7])
def test_the_angle_is_found_and_a_straight_copy_written(tmp_path: Path, phototest: Path,
                                                        degrees: int) -> None:
    path, found = deskew_image(skewed(phototest, degrees, tmp_path / "skewed.png"),
                               tmp_path / "straight.png")
    assert found.applied and found.angle == pytest.approx(degrees, abs=0.3)
    assert path == tmp_path / "straight.png"
    with Image.open(path) as straight:
        assert straight.info["dpi"] == pytest.approx((200, 200), abs=1)


def test_a_straight_page_goes_on_unchanged(tmp_path: Path, phototest: Path) -> None:
    path, found = deskew_image(phototest, tmp_path / "straight.png")
    assert path == phototest and not found.applied
    assert not (tmp_path / "straight.png").exists()


def test_a_file_leptonica_cannot_read_fails_the_page_with_what_to_do(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(PageError) as error:
        deskew_image(broken, tmp_path / "straight.png")
    assert error.value.category == FailureCategory.UNREADABLE_IMAGE
    assert "broken.png" in error.value.message and 'deskew = "off"' in error.value.message


def test_a_folder_that_deskews_reads_a_skewed_page_better(tmp_path: Path,
                                                         phototest: Path) -> None:
    truth = ground_truth(phototest)
    plain, straightened = new_run(tmp_path / "plain"), new_run(tmp_path / "deskewed")
    skewed(phototest, 7, plain.folder / "page.png")
    shutil.copy(plain.folder / "page.png", straightened.folder / "page.png")
    (straightened.folder / "folder.toml").write_text('deskew = "always"\n', encoding="utf-8")
    plain.process(workers=1)
    straightened.process(workers=1)
    before, after = cer(truth, plain.text("page.png")), cer(truth, straightened.text("page.png"))
    assert after < 0.05 < before, f"CER {before:.2%} without deskew, {after:.2%} with it"
    facts = read_json(straightened.outputs, output_keys("page.png")[1])
    assert isinstance(facts, dict) and facts["deskew"]["applied"]
    assert facts["settings"]["deskew"] == "always"
