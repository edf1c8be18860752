"""Which files of a folder are pages, in which order, and which are refused or ignored."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from PIL import Image

from ocr_assets.engine.folder.discovery import discover_pages
from ocr_assets_tests.pdf_files import blank_pages_pdf, encrypted, pdf_of_pages


def test_images_are_found_by_extension_and_by_content_and_the_rest_is_ignored(
        tmp_path: Path, fixtures_dir: Path) -> None:
    phototest = fixtures_dir / "pages" / "phototest.tif"
    shutil.copy(phototest, tmp_path / "page_1.tif")
    shutil.copy(phototest, tmp_path / "scan_without_extension")  # a TIFF, found by its bytes
    Image.new("L", (40, 30), 255).save(tmp_path / "page_2.PNG")
    Image.new("RGB", (40, 30), "white").save(tmp_path / "odd_name.data", format="JPEG")
    (tmp_path / "notes.txt").write_text("box 1, shelf 4\n")
    (tmp_path / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    (tmp_path / "checksums.md5").write_text("d41d8cd98f00b204e9800998ecf8427e  page_1.tif\n")
    shutil.copy(phototest, tmp_path / ".hidden.tif")

    listing = discover_pages(tmp_path)

    assert [p.page_id for p in listing.pages] == [
        "odd_name.data", "page_1.tif", "page_2.PNG", "scan_without_extension"]
    assert listing.ignored == [".hidden.tif", "checksums.md5", "notes.txt", "Thumbs.db"]
    assert listing.refused == {}
    page = listing.pages[1]
    assert page.path == tmp_path / "page_1.tif"
    assert page.frame is None
    assert page.size == phototest.stat().st_size
    assert page.mtime_ns == (tmp_path / "page_1.tif").stat().st_mtime_ns


def test_pages_are_in_natural_order_including_subfolders(tmp_path: Path) -> None:
    names = ["page_10.png", "page_2.png", "page_1.png", "Page_3.png", "page_100.png",
             "sub/page_2.png", "sub/page_10.png", "sub10/a.png", "sub2/a.png"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("1", (8, 8), 1).save(tmp_path / name)

    ids = [p.page_id for p in discover_pages(tmp_path).pages]

    assert ids == ["page_1.png", "page_2.png", "Page_3.png", "page_10.png", "page_100.png",
                   "sub/page_2.png", "sub/page_10.png", "sub2/a.png", "sub10/a.png"]
    assert ids == [p.page_id for p in discover_pages(tmp_path).pages]  # stable


def test_every_frame_of_a_multipage_tiff_is_a_page(tmp_path: Path, fixtures_dir: Path) -> None:
    shutil.copy(fixtures_dir / "odd" / "multipage.tiff", tmp_path / "scan.tiff")
    frames = [Image.new("L", (60, 40), shade) for shade in (255, 200, 150, 100)]
    frames[0].save(tmp_path / "book.tif", save_all=True, append_images=frames[1:])

    pages = discover_pages(tmp_path).pages

    assert [(p.page_id, p.frame) for p in pages] == [
        ("book.tif#1", 0), ("book.tif#2", 1), ("book.tif#3", 2), ("book.tif#4", 3),
        ("scan.tiff#1", 0), ("scan.tiff#2", 1), ("scan.tiff#3", 2)]
    assert {p.path.name for p in pages} == {"book.tif", "scan.tiff"}


def test_a_single_frame_tiff_is_one_page_without_frame_suffix(tmp_path: Path,
                                                              fixtures_dir: Path) -> None:
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", tmp_path)
    assert [(p.page_id, p.frame) for p in discover_pages(tmp_path).pages] == [
        ("phototest.tif", None)]


def test_a_pyramid_tiff_is_one_page_not_one_per_resolution(tmp_path: Path,
                                                           shared_testdata: Path) -> None:
    pyramid = shared_testdata / "bad" / "indian-ferns_0004_pyramid.tif"
    with Image.open(pyramid) as image:
        assert image.n_frames == 6  # the full page and five reduced-resolution copies
    shutil.copy(pyramid, tmp_path)

    pages = discover_pages(tmp_path).pages

    assert [(p.page_id, p.frame) for p in pages] == [("indian-ferns_0004_pyramid.tif", None)]


def test_broken_and_empty_files_are_still_pages_so_they_fail_visibly(
        tmp_path: Path, fixtures_dir: Path) -> None:
    for name in ("zero_bytes.tif", "broken.png", "truncated_jpeg.jpg"):
        shutil.copy(fixtures_dir / "odd" / name, tmp_path)
    assert [p.page_id for p in discover_pages(tmp_path).pages] == [
        "broken.png", "truncated_jpeg.jpg", "zero_bytes.tif"]


def test_a_symlink_to_a_file_outside_the_root_is_refused(tmp_path: Path,
                                                         fixtures_dir: Path) -> None:
    root, folder, outside = tmp_path / "scans", tmp_path / "scans" / "box", tmp_path / "elsewhere"
    folder.mkdir(parents=True)
    outside.mkdir()
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", outside / "secret.tif")
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", root / "shared.tif")
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", folder / "page_1.tif")
    (folder / "escape.tif").symlink_to(outside / "secret.tif")
    (folder / "inside.tif").symlink_to(root / "shared.tif")

    listing = discover_pages(folder, root=root)

    assert [p.page_id for p in listing.pages] == ["inside.tif", "page_1.tif"]
    assert list(listing.refused) == ["escape.tif"]
    assert "outside the scans root" in listing.refused["escape.tif"]
    # Without a root, the folder itself is the boundary: the link to the root is refused too.
    assert set(discover_pages(folder).refused) == {"escape.tif", "inside.tif"}


def test_symlink_loops_and_symlinked_folders_are_refused(tmp_path: Path,
                                                         fixtures_dir: Path) -> None:
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", tmp_path / "page_1.tif")
    (tmp_path / "loop_a.tif").symlink_to(tmp_path / "loop_b.tif")
    (tmp_path / "loop_b.tif").symlink_to(tmp_path / "loop_a.tif")
    (tmp_path / "self.tif").symlink_to(tmp_path / "self.tif")
    (tmp_path / "dangling.tif").symlink_to(tmp_path / "missing.tif")
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", sub / "page_2.tif")
    (sub / "back_up").symlink_to(tmp_path, target_is_directory=True)  # a directory cycle

    listing = discover_pages(tmp_path)

    assert [p.page_id for p in listing.pages] == ["page_1.tif", "sub/page_2.tif"]
    assert set(listing.refused) == {"loop_a.tif", "loop_b.tif", "self.tif", "dangling.tif",
                                    "sub/back_up"}
    assert "loop" in listing.refused["self.tif"]
    assert "not followed" in listing.refused["sub/back_up"]



def test_text_that_starts_like_a_pnm_or_bmp_magic_number_is_ignored_not_a_page(
        tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("P2 torn corner, page 4\n")
    (tmp_path / "box.csv").write_text("BM,box,shelf\n")
    (tmp_path / "readme").write_text("P5 pages missing from this box\n")
    (tmp_path / "BMW_manual_notes").write_text("BMW workshop manual, scanned 2019\n")
    Image.new("L", (40, 30), 255).save(tmp_path / "not_really.json", format="PNG")

    listing = discover_pages(tmp_path)

    assert listing.pages == []
    assert listing.ignored == ["BMW_manual_notes", "box.csv", "not_really.json", "notes.txt",
                               "readme"]


def test_pnm_and_bmp_pages_without_extension_are_found_by_their_header(tmp_path: Path) -> None:
    Image.new("L", (40, 30), 255).save(tmp_path / "grey_scan", format="PPM")  # P5 binary PGM
    Image.new("RGB", (40, 30), "white").save(tmp_path / "bitmap_scan", format="BMP")
    (tmp_path / "ascii_scan").write_bytes(b"P1\n# written by a scanner\n2 2\n0 1\n1 0\n")

    listing = discover_pages(tmp_path)

    assert [p.page_id for p in listing.pages] == ["ascii_scan", "bitmap_scan", "grey_scan"]
    assert listing.ignored == []


def test_every_page_of_a_pdf_is_a_page_named_like_tiff_frames(tmp_path: Path,
                                                               fixtures_dir: Path) -> None:
    pages = fixtures_dir / "pages"
    (tmp_path / "book.pdf").write_bytes(pdf_of_pages([pages / "phototest.tif",
                                                      pages / "eurotext.tif"]))
    (tmp_path / "leaflet.PDF").write_bytes(pdf_of_pages([pages / "phototest.tif"]))
    (tmp_path / "export").write_bytes(blank_pages_pdf(3))  # found by its first bytes
    shutil.copy(pages / "phototest.tif", tmp_path / "page_1.tif")

    pages_found = discover_pages(tmp_path).pages

    assert [(p.page_id, p.frame) for p in pages_found] == [
        ("book.pdf#1", 0), ("book.pdf#2", 1), ("export#1", 0), ("export#2", 1),
        ("export#3", 2), ("leaflet.PDF", None), ("page_1.tif", None)]


def test_a_pdf_that_cannot_be_counted_or_is_too_long_is_one_page_that_will_fail(
        tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot a document\n")
    (tmp_path / "empty.pdf").write_bytes(blank_pages_pdf(0))
    encrypted(blank_pages_pdf(2), tmp_path / "locked.pdf", "secret")
    (tmp_path / "long.pdf").write_bytes(blank_pages_pdf(30))
    (tmp_path / "liar.pdf").write_bytes(blank_pages_pdf(2, count=10**9))

    listing = discover_pages(tmp_path, max_pdf_pages=20)

    assert [(p.page_id, p.frame) for p in listing.pages] == [
        ("broken.pdf", None), ("empty.pdf", None), ("liar.pdf#1", 0), ("liar.pdf#2", 1),
        ("locked.pdf", None), ("long.pdf", None)]
    assert len(discover_pages(tmp_path, max_pdf_pages=30).pages) == 6 + 29


def test_thousands_of_pages_are_counted_without_loading_one(tmp_path: Path) -> None:
    (tmp_path / "register.pdf").write_bytes(blank_pages_pdf(4000))
    started = time.perf_counter()
    pages = discover_pages(tmp_path).pages
    assert len(pages) == 4000 and pages[-1].page_id == "register.pdf#4000"
    assert time.perf_counter() - started < 5
