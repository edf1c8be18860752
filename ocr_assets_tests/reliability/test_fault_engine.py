"""Engine faults injected through configuration (`engine=fault(...)`), never by patching:
every fault costs exactly its own page, with the right category and a message, the pool
survives dead and hung workers, and the batch always finishes with every page terminal."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import FAULTS, FaultEngine, fault
from ocr_assets_tests.helpers import new_run, write_huge_png

EXPECTED_CATEGORY = {
    "crash": "worker_crashed",
    "oom-kill": "worker_crashed",
    "oom": "out_of_memory",
    "hang": "timeout",
    "tesseract-crash": "engine_error",
    "tesseract-hang": "timeout",
    "invalid-utf8": "engine_error",
    "image-too-large": "too_large",
    "leptonica-unreadable": "empty_output_from_unreadable_image",
}
EXPECTED_MESSAGE = {
    "crash": "exit code -11",
    "oom-kill": "exit code -9",
    "oom": "worker_memory_mb",
    "hang": "the worker was killed",
    "tesseract-crash": "SIGSEGV",
    "tesseract-hang": "ran longer than",
    "invalid-utf8": "not valid UTF-8",
    "image-too-large": "Image too large",
    "leptonica-unreadable": "not a blank page",
}


def blank_page(path: Path) -> Path:
    Image.new("L", (120, 60), 255).save(path)
    return path


def test_every_fault_costs_only_its_page_and_the_batch_finishes(tmp_path: Path) -> None:
    assert set(EXPECTED_CATEGORY) == set(FAULTS)
    run = new_run(tmp_path)
    good = [blank_page(run.folder / f"good_{n}.png") for n in range(4)]
    for name in FAULTS:
        blank_page(run.folder / f"page.fault-{name}.png")

    report = run.process(engine=fault(), workers=2, page_timeout_s=2, recycle_after=3)

    rows = run.manifest.pages(run.key)
    assert (report.pages, report.done, report.failed, report.pending) == (13, 4, 9, 0)
    for name, category in EXPECTED_CATEGORY.items():
        row = rows[f"page.fault-{name}.png"]
        assert (row.status, row.error_category, row.attempts) == (FAILED, category, 1), name
        assert EXPECTED_MESSAGE[name] in row.error_message, (name, row.error_message)
    for page in good:  # done after the crashes and hangs: the pool recovered each time
        assert rows[page.name].status == DONE
        assert run.text(page.name) == fake_text(page.read_bytes())
    counts = check_counts(run.scan_folder)
    assert counts.passed, counts.problems()
    assert not list(run.out_dir.glob("page.fault-*")), "a failed page left an output"


def test_rules_in_the_options_pick_pages_by_glob_and_markers_win(tmp_path: Path) -> None:
    backend = FaultEngine("crash=*_13.png, hang=scan_*")
    assert backend.fault_for("scan_13.png") == "crash"  # the first matching rule
    assert backend.fault_for("scan_2.png") == "hang"
    assert backend.fault_for("other.png") is None
    assert backend.fault_for("scan_13.fault-oom-kill.png") == "oom-kill"  # not "oom"
    with pytest.raises(ValueError, match="expected <fault>=<glob>"):
        FaultEngine("explode=*")
    with pytest.raises(ValueError, match="name=value"):
        FaultEngine("crash")


def test_start_fail_refuses_the_first_starts_with_a_transient_error() -> None:
    backend = FaultEngine("start-fail=2")
    for start in (1, 2):
        with pytest.raises(OSError, match=f"start {start} of the 2") as refused:
            backend.check_ready("eng")
        assert refused.value.errno == errno.EAGAIN
    backend.check_ready("eng")  # the third start works, and every one after it
    backend.check_ready("eng")
    FaultEngine().check_ready("eng")
    with pytest.raises(ValueError, match="start-fail=<count>"):
        FaultEngine("start-fail=twice")


def test_a_hung_page_is_killed_at_its_timeout_and_the_next_page_still_runs(
        tmp_path: Path) -> None:
    run = new_run(tmp_path)
    blank_page(run.folder / "a.fault-hang.png")
    blank_page(run.folder / "b.png")

    started = time.monotonic()
    report = run.process(engine=fault(), workers=1, page_timeout_s=1)
    elapsed = time.monotonic() - started

    rows = run.manifest.pages(run.key)
    assert rows["a.fault-hang.png"].error_category == "timeout"
    assert rows["b.png"].status == DONE
    assert report.pending == 0
    assert elapsed < 60, "the hung worker was not killed (the test would otherwise hang)"


def test_a_transient_engine_fault_is_retried_and_succeeds_once_the_fault_is_gone(
        tmp_path: Path) -> None:
    run = new_run(tmp_path)
    blank_page(run.folder / "p1.png")

    first = run.process(engine=fault("crash=p1.png"), workers=1)
    assert run.manifest.pages(run.key)["p1.png"].error_category == "worker_crashed"
    second = run.process(engine=fault(), workers=1)  # the engine works again

    row = run.manifest.pages(run.key)["p1.png"]
    assert (first.failed, second.done, row.status, row.attempts) == (1, 1, DONE, 2)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_the_worker_memory_limit_turns_a_runaway_page_into_one_failure(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    blank_page(run.folder / "p1.fault-oom.png")
    blank_page(run.folder / "p2.png")

    report = run.process(engine=fault(), workers=1, worker_memory_mb=1024)

    rows = run.manifest.pages(run.key)
    assert rows["p1.fault-oom.png"].error_category == "out_of_memory"
    assert "limit of 1024 MiB" in rows["p1.fault-oom.png"].error_message
    assert rows["p2.png"].status == DONE  # same worker, after its MemoryError
    assert report.pending == 0


def test_the_fault_log_witnesses_every_ocr_attempt(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("OCR_ASSETS_FAULT_LOG", str(log))
    run = new_run(tmp_path)
    pages = [blank_page(run.folder / f"p{n}.png") for n in range(3)]

    run.process(engine=fault(), workers=2)
    run.process(engine=fault(), workers=2)  # nothing to do: no attempt logged

    attempts = [line.split("\t")[1] for line in log.read_text().splitlines()]
    assert sorted(attempts) == sorted(str(p) for p in pages)
    assert all(line.split("\t")[0].isdigit() and int(line.split("\t")[0]) != os.getpid()
               for line in log.read_text().splitlines()), "OCR ran outside the workers"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_the_largest_allowed_page_fits_in_a_bounded_worker(tmp_path: Path) -> None:
    """A 108-megapixel page (just under the 120 MP limit, downscaled to 10000 px before OCR)
    is decoded and normalised by a worker capped at 1 GiB of address space; a 400 MP one is
    refused before any pixel is decoded."""
    run = new_run(tmp_path)
    write_huge_png(run.folder / "largest.png", 9000, 12000)
    write_huge_png(run.folder / "too_large.png", 20000, 20000)

    report = run.process(engine=fault(), workers=1, worker_memory_mb=1024)

    rows = run.manifest.pages(run.key)
    assert rows["largest.png"].status == DONE, rows["largest.png"].error_message
    assert rows["too_large.png"].error_category == "too_large"
    assert report.pending == 0


def test_tesseract_reading_nothing_fails_the_page_where_a_blank_page_is_done_and_empty(
        tmp_path: Path) -> None:
    """Tesseract's silent exit 0 on an image Leptonica cannot decode (what it does on tiled and
    old-style-JPEG TIFFs, `engine/page/test_tesseract_cli.py`) is a failure that the retry pass can
    re-decode, never a done page that looks blank. The other page is truly blank and read by
    the real Tesseract: done, with no text, flagged empty."""
    run = new_run(tmp_path)
    blank_page(run.folder / "blank.png")
    blank_page(run.folder / "unreadable.png")

    report = run.process(engine=fault("base=tesseract,leptonica-unreadable=unreadable.png"),
                         workers=1)

    rows = run.manifest.pages(run.key)
    assert (report.done, report.failed) == (1, 1)
    unreadable = rows["unreadable.png"]
    assert (unreadable.status, unreadable.error_category) == (
        FAILED, "empty_output_from_unreadable_image")
    assert "not a blank page" in unreadable.error_message
    assert unreadable.output_name is None
    assert [r.page_id for r in report.failures] == ["unreadable.png"]
    assert [r.page_id for r in report.flagged] == ["blank.png"]
    assert (rows["blank.png"].status, rows["blank.png"].flags) == (DONE, "empty")
    assert run.text("blank.png").strip() == ""
