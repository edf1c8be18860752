"""`process_folder` end to end on real pages with real Tesseract: idempotence, changed and
removed inputs, failures that stay put, retries, and the counts invariant."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from PIL import Image

from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import DONE, FAILED, PENDING
from ocr_assets.engine.manifest.leases import run_owner
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import Run, new_run


def outputs_of(run: Run) -> dict[str, int]:
    """Every output file with its modification time."""
    return {p.name: p.stat().st_mtime_ns for p in run.out_dir.iterdir()}


def rows_snapshot(run: Run) -> dict[str, tuple]:
    return {page_id: (r.status, r.attempts, r.updated_at, r.fingerprint, r.error_category)
            for page_id, r in run.manifest.pages(run.key).items()}


def assert_counts_hold(run: Run) -> None:
    counts = check_counts(run.scan_folder)
    assert counts.passed, counts.problems()


def test_first_run_does_every_page_and_a_second_run_does_no_ocr(tmp_path: Path,
                                                                 fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder / "page_1.tif")
    Image.new("L", (300, 200), 255).save(run.folder / "page_2.png")  # a blank page
    shutil.copy(fixtures_dir / "odd" / "truncated_jpeg.jpg", run.folder / "page_3.jpg")
    (run.folder / "checksums.md5").write_text("not a page\n")

    first = run.process()

    assert (first.pages, first.done, first.failed, first.pending) == (3, 2, 1, 0)
    assert (first.processed, first.skipped) == (3, 0)
    assert first.pages == first.done + first.failed
    assert first.ignored == ["checksums.md5"]
    assert "quick brown dog" in run.text("page_1.tif")
    rows = run.manifest.pages(run.key)
    assert rows["page_2.png"].flags == "empty"
    assert rows["page_3.jpg"].error_category == "unreadable_image"
    assert "truncated" in rows["page_3.jpg"].error_message
    assert [r.page_id for r in first.failures] == ["page_3.jpg"]
    assert sorted(outputs_of(run)) == ["page_1.tif.json", "page_1.tif.txt", "page_2.png.json",
                                       "page_2.png.txt"]
    assert_counts_hold(run)

    before_rows, before_files = rows_snapshot(run), outputs_of(run)
    second = run.process()

    assert (second.processed, second.skipped) == (0, 3)
    assert (second.pages, second.done, second.failed, second.pending) == (3, 2, 1, 0)
    assert rows_snapshot(run) == before_rows  # no attempt counted, nothing rewritten
    assert outputs_of(run) == before_files


def test_changed_touched_removed_and_repaired_pages(tmp_path: Path, fixtures_dir: Path) -> None:
    pages = fixtures_dir / "pages"
    run = new_run(tmp_path)
    shutil.copy(pages / "phototest.tif", run.folder / "a.tif")
    Image.new("L", (300, 200), 255).save(run.folder / "b.png")
    Image.new("L", (300, 200), 255).save(run.folder / "c.png")
    shutil.copy(fixtures_dir / "odd" / "truncated_jpeg.jpg", run.folder / "d.jpg")
    first = run.process()
    assert (first.done, first.failed) == (3, 1)
    attempts = {p: r.attempts for p, r in run.manifest.pages(run.key).items()}

    # b.png gets other bytes (a real page now); a.tif is only touched; c.png is removed.
    shutil.copy(pages / "phototest.tif", run.folder / "b.png")  # a TIFF named .png: still read
    later = time.time_ns() + 5_000_000_000
    os.utime(run.folder / "a.tif", ns=(later, later))
    (run.folder / "c.png").unlink()

    second = run.process()

    assert second.processed == 1  # b.png only
    assert second.removed == 1
    assert (second.pages, second.done, second.failed, second.pending) == (3, 2, 1, 0)
    rows = run.manifest.pages(run.key)
    assert "c.png" not in rows
    assert not any(p.name.startswith("c.png") for p in run.out_dir.iterdir())
    assert "quick brown dog" in run.text("b.png")
    assert rows["b.png"].attempts == attempts["b.png"] + 1
    assert rows["a.tif"].attempts == attempts["a.tif"]
    assert rows["a.tif"].mtime_ns == later  # the new stat is remembered: no hashing next time
    assert rows["d.jpg"].attempts == 1  # a deterministic failure is not retried
    assert_counts_hold(run)

    # The broken scan is replaced by a good one: it is redone and succeeds.
    shutil.copy(pages / "phototest.tif", run.folder / "d.jpg")
    third = run.process()
    assert third.processed == 1
    assert (third.pages, third.done, third.failed) == (3, 3, 0)
    assert run.manifest.pages(run.key)["d.jpg"].error_category is None
    assert_counts_hold(run)


def test_a_done_page_whose_text_file_was_lost_is_redone(tmp_path: Path,
                                                        fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    run.process(workers=1)
    text_path = run.out_dir / output_keys("phototest.tif")[0]
    text_path.unlink()

    again = run.process(workers=1)

    assert again.processed == 1
    assert "quick brown dog" in text_path.read_text()


def test_a_transient_failure_is_retried_up_to_max_attempts(tmp_path: Path,
                                                           fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    settings = {"workers": 1, "page_timeout_s": 0.001, "max_attempts": 2}

    first = run.process(**settings)
    row = run.manifest.pages(run.key)["phototest.tif"]
    assert (first.failed, row.error_category, row.attempts) == (1, "timeout", 1)

    second = run.process(**settings)
    row = run.manifest.pages(run.key)["phototest.tif"]
    assert (second.processed, row.error_category, row.attempts) == (1, "timeout", 2)

    third = run.process(**settings)  # attempts exhausted: left failed, no OCR
    assert (third.processed, third.skipped, third.failed) == (0, 1, 1)
    assert run.manifest.pages(run.key)["phototest.tif"].attempts == 2
    assert_counts_hold(run)


def test_a_page_leased_by_another_live_run_is_left_to_it(tmp_path: Path,
                                                         fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    run.manifest.sync_pages(run.key, ["phototest.tif"])
    assert run.manifest.claim(run.key, "phototest.tif", run_owner(), lease_s=3600)

    report = run.process(workers=1)

    assert (report.processed, report.in_flight_elsewhere) == (0, 1)
    assert report.pending == 1
    assert run.manifest.pages(run.key)["phototest.tif"].status != DONE
    assert not check_counts(run.scan_folder).passed


def test_a_page_of_a_dead_run_is_taken_over_once_its_lease_expired(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    run.manifest.sync_pages(run.key, ["phototest.tif"])
    assert run.manifest.claim(run.key, "phototest.tif", "dead-host:1:abc", lease_s=-1)

    report = run.process(workers=1)

    assert (report.processed, report.done, report.pending) == (1, 1, 0)
    row = run.manifest.pages(run.key)["phototest.tif"]
    assert (row.status, row.lease_owner, row.attempts) == (DONE, None, 2)


def test_pages_in_subfolders_and_similarly_named_files_keep_separate_outputs(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    (run.folder / "sub").mkdir()
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder / "sub" / "page.tif")
    Image.new("L", (300, 200), 255).save(run.folder / "sub__page.tif")

    report = run.process()

    assert (report.pages, report.done) == (2, 2)
    rows = run.manifest.pages(run.key)
    assert rows["sub/page.tif"].output_name != rows["sub__page.tif"].output_name
    assert "quick brown dog" in run.text("sub/page.tif")
    assert "quick brown dog" not in run.text("sub__page.tif")
    assert rows["sub__page.tif"].flags == "empty"
    assert_counts_hold(run)


def test_a_broken_file_fails_alone_among_good_pages(tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    for number in range(1, 4):
        shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder / f"page_{number}.tif")
    truncated = (fixtures_dir / "pages" / "phototest.tif").read_bytes()[:5000]
    (run.folder / "page_4.tif").write_bytes(truncated)

    report = run.process()

    rows = run.manifest.pages(run.key)
    assert {p: r.status for p, r in rows.items()} == {
        "page_1.tif": DONE, "page_2.tif": DONE, "page_3.tif": DONE, "page_4.tif": FAILED}
    assert rows["page_4.tif"].error_category == "unreadable_image"
    assert report.pages == report.done + report.failed == 4
    assert PENDING not in {r.status for r in rows.values()}
    assert_counts_hold(run)


def test_the_largest_pages_are_scheduled_first(tmp_path: Path) -> None:
    """Longest-processing-time-first: a folder's run waits for its last page, so the small
    pages go last and the workers' idle tail is short. Equal sizes keep the page order."""
    run = new_run(tmp_path)
    for name, side in {"p1.png": 60, "p2.png": 400, "p4.png": 900, "p5.png": 200}.items():
        Image.effect_noise((side, side), 64).save(run.folder / name)
    shutil.copy(run.folder / "p1.png", run.folder / "p3.png")
    finished: list[str] = []
    process_folder(run.scan_folder, on_page=lambda page, _: finished.append(page),
                   settings=OcrSettings(workers=1, engine=fault(), auto_rotate=False))

    assert finished == ["p4.png", "p2.png", "p5.png", "p1.png", "p3.png"]
