"""A folder's page estimate from its listing: what the automation sizes a run by."""

from __future__ import annotations

from pathlib import Path

from ocr_assets.engine.folder.size import CONTAINER_BYTES_PER_PAGE, estimate_pages


def test_images_count_one_page_and_containers_one_per_64_kib(tmp_path: Path) -> None:
    folder = tmp_path / "box"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "b.JPG", "sub/c.jp2", "no_extension"):
        (folder / name).write_bytes(b"x")
    (folder / "small.tif").write_bytes(b"x" * 100)
    (folder / "book.pdf").write_bytes(b"x" * (10 * CONTAINER_BYTES_PER_PAGE + 5))
    for name in ("notes.txt", "Thumbs.db", ".hidden.png", "checksums.md5"):
        (folder / name).write_bytes(b"x")

    assert estimate_pages(folder) == 4 + 1 + 10, \
        "4 images, a small TIFF is still a page, a PDF of 10 x 64 KiB about 10; notes are none"


def test_a_folder_that_is_gone_or_empty_has_no_pages(tmp_path: Path) -> None:
    assert estimate_pages(tmp_path / "gone") == 0
    (tmp_path / "empty").mkdir()
    assert estimate_pages(tmp_path / "empty") == 0
