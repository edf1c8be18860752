"""Generated hostile inputs in ONE batch (the shared `bad/` set has its own test in
`engine/page/test_bad_inputs.py`): zero bytes, real pages truncated at several offsets, a text file
named `.tif`, a 400-megapixel blank PNG that is tiny on disk, a GIF decompression bomb, a
symlink loop, an unreadable file, a FIFO that would block a reader forever.

Each page becomes exactly one recorded failure with a category and a message, or a page read
correctly; what is not a page (the loop, the FIFO) is refused with the reason; and the batch
always finishes, with every page terminal. The recognition is the fault engine's instant fake
(the image checks, decoding and normalisation in front of it are the real ones)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from PIL import Image

from ocr_assets.engine.errors import FailureCategory
from ocr_assets.engine.folder.discovery import discover_pages
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import new_run, write_huge_png

CATEGORIES = {str(c) for c in FailureCategory}


def noisy_png() -> bytes:
    """A PNG whose data does not compress away, so a cut anywhere lands in real pixels."""
    image = Image.frombytes("L", (300, 200), os.urandom(300 * 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_hostile_inputs_each_get_one_outcome_and_the_batch_finishes(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    folder = run.folder
    (folder / "zero.tif").write_bytes(b"")
    tiff = (fixtures_dir / "pages" / "phototest.tif").read_bytes()
    png = noisy_png()
    cuts = {"tiff": [8, 200, len(tiff) // 2, len(tiff) - 100],
            "png": [8, 40, len(png) // 3, len(png) - 20]}
    for offset in cuts["tiff"]:
        (folder / f"cut_{offset}.tif").write_bytes(tiff[:offset])
    for offset in cuts["png"]:
        (folder / f"cut_{offset}.png").write_bytes(png[:offset])
    (folder / "letter.tif").write_text("Dear archivist,\nthis is not a scan.\n")
    write_huge_png(folder / "blank_400mp.png", 20000, 20000)
    shutil.copy(fixtures_dir / "odd" / "decompression_bomb.gif", folder / "bomb.gif")
    (folder / "loop.png").symlink_to("loop.png")
    os.mkfifo(folder / "fifo.png")
    unreadable = folder / "locked.png"
    Image.new("L", (80, 60), 255).save(unreadable)
    unreadable.chmod(0)
    Image.new("L", (120, 60), 255).save(folder / "good.png")

    report = run.process(engine=fault(), workers=2)

    assert (folder / "blank_400mp.png").stat().st_size < 1_000_000
    rows = run.manifest.pages(run.key)
    assert report.pending == 0 and report.pages == len(rows) == 14
    for page_id, row in rows.items():
        assert row.status in (DONE, FAILED), page_id
        if row.status == FAILED:
            assert row.error_category in CATEGORIES and row.error_message, page_id
        else:
            source = folder / page_id
            assert run.text(page_id) == fake_text(source.read_bytes()), page_id
    category = {page_id: row.error_category for page_id, row in rows.items()}
    assert category["zero.tif"] == category["letter.tif"] == "unreadable_image"
    assert category["blank_400mp.png"] == category["bomb.gif"] == "too_large"
    for offset in cuts["tiff"][:2] + cuts["png"][:3]:  # cut inside the header or the pixels
        name = f"cut_{offset}.{'tif' if offset in cuts['tiff'] else 'png'}"
        assert category[name] == "unreadable_image", name
    assert rows["good.png"].status == DONE
    if os.geteuid() != 0:  # root reads a file whatever its mode: then it is simply done
        assert category["locked.png"] == "io_error"
    assert "looping symlink" in report.refused["loop.png"]
    assert "not a regular file" in report.refused["fifo.png"]
    counts = check_counts(run.scan_folder)
    assert counts.passed, counts.problems()

    again = run.process(engine=fault(), workers=2)  # deterministic failures are not redone
    assert (again.processed, again.pending) == (0, 0)


def test_discovery_never_opens_a_fifo_even_without_an_image_extension(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "README")  # no extension: the first bytes would be read to sniff it
    listing = discover_pages(tmp_path)  # would block forever if it opened the FIFO
    assert listing.pages == [] and "not a regular file" in listing.refused["README"]
