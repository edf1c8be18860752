"""The counts invariant trusts an unchanged folder's rows without listing its pages again,
and only then: every change on disk or in the rows since the listing means a full listing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.folder import invariants
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import Run, new_run


@pytest.fixture
def done_run(tmp_path: Path) -> Run:
    """A folder of three pages, OCRed by the instant fake engine: every page done."""
    run = new_run(tmp_path)
    for n in (1, 2, 3):
        Image.new("L", (40, 30), 255).save(run.folder / f"page_{n}.png")
    assert run.process(engine=fault(), workers=1, auto_rotate=False).done == 3
    return run


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every folder the invariant listed page by page (`discover_pages`), in call order."""
    calls: list[Path] = []
    discover = invariants.discover_pages

    def counting(folder: Path, root: Path | None = None, **limits: int):
        calls.append(folder)
        return discover(folder, root, **limits)

    monkeypatch.setattr(invariants, "discover_pages", counting)
    return calls


def counts(run: Run) -> invariants.CountsInvariant:
    return check_counts(run.scan_folder)


def test_an_unchanged_folder_is_checked_without_listing_its_pages(
        done_run: Run, listings: list[Path]) -> None:
    result = counts(done_run)

    assert result.passed, result.problems()
    assert (result.pages_on_disk, result.done) == (3, 3)
    assert listings == []


def test_a_page_added_on_disk_is_listed_and_breaks_the_invariant(
        done_run: Run, listings: list[Path]) -> None:
    Image.new("L", (40, 30), 255).save(done_run.folder / "page_4.png")

    result = counts(done_run)

    assert listings == [done_run.folder]
    assert result.without_row == ["page_4.png"]
    assert not result.passed


def test_a_page_removed_on_disk_is_listed_and_breaks_the_invariant(
        done_run: Run, listings: list[Path]) -> None:
    (done_run.folder / "page_2.png").unlink()

    result = counts(done_run)

    assert listings == [done_run.folder]
    assert result.row_without_page == ["page_2.png"]


def test_a_replaced_page_changes_the_signature_and_is_listed(
        done_run: Run, listings: list[Path]) -> None:
    page = done_run.folder / "page_3.png"
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert counts(done_run).passed
    assert listings == [done_run.folder]


def test_a_row_lost_from_the_manifest_is_caught_by_listing_the_folder(
        tmp_path: Path, done_run: Run, listings: list[Path]) -> None:
    with sqlite3.connect(tmp_path / "manifest.sqlite") as db:
        db.execute("DELETE FROM pages WHERE page_id = 'page_1.png'")

    result = counts(done_run)

    assert listings == [done_run.folder]
    assert result.without_row == ["page_1.png"]
    assert not result.passed


def test_a_listing_stored_without_its_page_ids_is_not_trusted(
        tmp_path: Path, done_run: Run, listings: list[Path]) -> None:
    with sqlite3.connect(tmp_path / "manifest.sqlite") as db:
        db.execute("UPDATE folder_listings SET pages_digest = NULL")

    assert counts(done_run).passed
    assert listings == [done_run.folder]
