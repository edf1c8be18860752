"""Cleaning (unpaper): a specked page comes back clean at its size and resolution and reads far
better as a folder's recipe option; without unpaper the error says which package to install."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.page.clean import check_clean_ready, clean_image
from ocr_assets_tests.helpers import ground_truth, new_run, require_program

SPECK_SHARE = 0.01
"""Share of the page's pixels that start a 2x2 black speck."""


@pytest.fixture(scope="module")
def unpaper() -> str:
    return require_program("unpaper", "unpaper", "clean pages (clean = true)")


def specked(page: Path, target: Path) -> Path:
    """`page` in greyscale with black specks strewn over it (dust, a dirty scanner glass), its
    resolution kept."""
    with Image.open(page) as image:
        dirty, dpi = image.convert("L"), image.info["dpi"]
    pixels, (width, height) = dirty.load(), dirty.size
    chance = random.Random(7)
    for _ in range(int(width * height * SPECK_SHARE)):
        x, y = chance.randrange(width - 1), chance.randrange(height - 1)
        for dx, dy in ((0, 0), (0, 1), (1, 0), (1, 1)):
            pixels[x + dx, y + dy] = 0
    dirty.save(target, dpi=dpi)
    return target


def _dark_share(path: Path, box: tuple[int, int, int, int]) -> float:
    with Image.open(path) as image:
        region = image.convert("L").crop(box)
    return sum(region.histogram()[:128]) / (region.width * region.height)


def test_specks_are_removed_size_and_resolution_kept(
        tmp_path: Path, fixtures_dir: Path, unpaper: str) -> None:
    dirty = specked(fixtures_dir / "pages" / "phototest.tif", tmp_path / "dirty.png")
    cleaned = clean_image(dirty, tmp_path, timeout_s=60, source_name="dirty.png")
    with Image.open(dirty) as before, Image.open(cleaned) as after:
        assert after.size == before.size
        assert after.info["dpi"] == pytest.approx(before.info["dpi"], abs=1)
        width, height = after.size
    margin = (0, height - 60, width, height)  # below the last line of print
    before, after = _dark_share(dirty, margin), _dark_share(cleaned, margin)
    assert before > 0.02 and after < before / 4, "most specks gone (touching ones stay blobs)"


def test_a_folder_that_cleans_reads_a_specked_page_far_better(
        tmp_path: Path, fixtures_dir: Path, unpaper: str) -> None:
    page = fixtures_dir / "pages" / "phototest.tif"
    truth = ground_truth(page)
    errors = {}
    for clean in (False, True):
        run = new_run(tmp_path / str(clean))
        specked(page, run.folder / "dirty.png")
        assert run.process(workers=1, clean=clean).done == 1
        errors[clean] = cer(truth, run.text("dirty.png"))
    assert errors[False] > 0.5 and errors[True] < 0.2, errors


def test_without_unpaper_the_error_names_the_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install unpaper"):
        check_clean_ready()
    with pytest.raises(PageError) as error:
        clean_image(fixtures_dir / "pages" / "phototest.tif", tmp_path, timeout_s=60,
                    source_name="phototest.tif")
    assert error.value.category == FailureCategory.ENGINE_ERROR
    assert "phototest.tif" in error.value.message and "unpaper" in error.value.message
