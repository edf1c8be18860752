"""The retry pass over failed pages: strategies by category, recovery recorded in the manifest,
the retry record and the failed-pages report; no page tried twice with the same strategies."""

from __future__ import annotations

import io
import json
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ocr_assets.engine.errors import FailureCategory
from ocr_assets.engine.folder.reports import (
    REPORT_COLUMNS,
    failed_pages_frame,
    write_failed_pages_report,
)
from ocr_assets.engine.folder.retry import (
    NOT_RETRIED_BECAUSE,
    RECORD_NAME,
    STRATEGIES,
    load_record,
    retry_failed_pages,
)
from ocr_assets.engine.manifest import DONE, FAILED, RUNNING
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore
from ocr_assets_tests.helpers import FIXTURES, Run, new_run


def truncated_page_with_text(path: Path) -> None:
    """phototest as a PNG cut off after 60 % of its bytes: the top lines are still there."""
    buffer = io.BytesIO()
    Image.open(FIXTURES / "pages" / "phototest.tif").convert("L").save(buffer, format="PNG")
    data = buffer.getvalue()
    path.write_bytes(data[: int(len(data) * 0.6)])


def retry(run: Run, **settings: object):
    options: dict[str, object] = {"workers": 2}
    options.update(settings)
    return retry_failed_pages(run.scan_folder, settings=OcrSettings(**options))


@pytest.fixture
def damaged(tmp_path: Path) -> Run:
    run = new_run(tmp_path)
    truncated_page_with_text(run.folder / "cut.png")
    (run.folder / "stub.tif").write_bytes((FIXTURES / "pages" / "phototest.tif")
                                          .read_bytes()[:300])
    (run.folder / "not_an_image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (run.folder / "empty.png").write_bytes(b"")
    Image.open(FIXTURES / "pages" / "phototest.tif").save(run.folder / "good.png")
    report = run.process()
    assert report.done == 1 and report.failed == 4
    return run


def test_every_failure_category_has_strategies_or_a_reason_not_to_retry() -> None:
    for category in FailureCategory:
        assert bool(STRATEGIES.get(category)) != (category in NOT_RETRIED_BECAUSE), category


def test_a_truncated_page_is_recovered_and_the_hopeless_ones_say_why(damaged: Run) -> None:
    report = retry(damaged)

    assert (report.tried, report.recovered, report.still_failing) == (2, 1, 1)
    rows = damaged.manifest.pages(damaged.key)
    assert rows["cut.png"].status == DONE
    assert "quick brown" in damaged.text("cut.png")
    facts = json.loads((damaged.out_dir / "cut.png.json").read_text())
    assert facts["settings"]["decode"] == "pillow_truncated"
    assert "truncated_file_partly_decoded" in facts["image"]["steps"]
    assert rows["stub.tif"].status == FAILED
    assert "holds no text" in rows["stub.tif"].error_message
    assert not (damaged.out_dir / "stub.tif.txt").exists()
    assert rows["stub.tif"].attempts == 2, "the retry is an attempt like any other"
    assert rows["good.png"].attempts == 1, "done pages are never touched"

    reports = LocalStore(damaged.out_root.parent / "reports" / damaged.key)
    frame = failed_pages_frame(damaged.manifest, damaged.key, load_record(reports))
    outcome = dict(zip(frame["page"], frame["retry_outcome"], strict=True))
    assert outcome == {"cut.png": "recovered", "stub.tif": "still_failing",
                       "not_an_image.png": "not_retried", "empty.png": "not_retried"}
    recovered = frame[frame["page"] == "cut.png"].iloc[0]
    assert recovered["recovered_by"] == "redecode_truncated"
    assert recovered["first_category"] == "unreadable_image"
    assert recovered["status"] == DONE


def test_a_page_another_run_took_over_meanwhile_is_left_to_it(
        damaged: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry pass records a page only while it still holds the page's lease, as the main
    pass does: here its lease on `cut.png` runs out and another run takes the page over while
    the page is read; the pass records nothing for it, and counts nothing."""
    manifest = damaged.scan_folder.manifest
    claim = manifest.claim

    def claim_then_lose(partition_key: str, page_id: str, owner: str, lease_s: float,
                        expect_updated_at: float | None = None) -> bool:
        if page_id != "cut.png":
            return claim(partition_key, page_id, owner, lease_s, expect_updated_at)
        assert claim(partition_key, page_id, owner, lease_s=-1)  # expires at once
        assert claim(partition_key, page_id, "other-run", lease_s=3600)
        return True

    monkeypatch.setattr(manifest, "claim", claim_then_lose)
    report = retry(damaged)

    assert (report.tried, report.recovered, report.still_failing) == (1, 0, 1)
    row = damaged.manifest.pages(damaged.key)["cut.png"]
    assert (row.status, row.lease_owner) == (RUNNING, "other-run")
    reports = LocalStore(damaged.out_root.parent / "reports" / damaged.key)
    assert "cut.png" not in load_record(reports)


def test_an_empty_file_or_one_that_is_no_image_is_not_retried_as_truncated(damaged: Run) -> None:
    """Neither has a readable part: its row keeps its own category and message, untouched."""
    before = damaged.manifest.pages(damaged.key)
    report = retry(damaged)

    after = damaged.manifest.pages(damaged.key)
    for page_id in ("empty.png", "not_an_image.png"):
        assert "Pillow cannot open the file" in report.not_retried[page_id]
        assert after[page_id] == before[page_id], "the row is left as the plain run wrote it"
        assert after[page_id].error_category == FailureCategory.UNREADABLE_IMAGE
        assert "retry pass" not in after[page_id].error_message
    assert "not an image" in after["empty.png"].error_message
    assert set(report.not_retried) == {"empty.png", "not_an_image.png"}


def test_a_second_pass_tries_nothing_until_the_scan_changes(damaged: Run) -> None:
    retry(damaged)
    record = (damaged.out_root.parent / "reports" / damaged.key / RECORD_NAME).read_text()

    again = retry(damaged)
    assert (again.tried, again.already_tried) == (0, 1)
    assert (damaged.out_root.parent / "reports" / damaged.key / RECORD_NAME).read_text() == record

    truncated_page_with_text(damaged.folder / "stub.tif")  # rescanned: readable this time
    damaged.process()  # the plain run sees the new input first and fails it again (truncated)
    third = retry(damaged)
    assert third.tried == 1 and third.recovered == 1
    assert damaged.manifest.pages(damaged.key)["stub.tif"].status == DONE


def test_a_recovered_page_stays_done_until_the_folders_recipe_changes(damaged: Run) -> None:
    retry(damaged)
    recovered = damaged.manifest.pages(damaged.key)["cut.png"]
    assert recovered.recipe == OcrSettings().recipe_key(), "the folder's, not the strategy's"
    assert damaged.process().processed == 0, "a plain run does not read it again"

    (damaged.folder / "folder.toml").write_text("psm = 4\n", encoding="utf-8")
    again = damaged.process()
    assert again.processed == 2, "the done pages, read with the new recipe"
    rows = damaged.manifest.pages(damaged.key)
    assert (rows["good.png"].status, rows["cut.png"].status) == (DONE, FAILED)

    third = retry(damaged)
    assert (third.tried, third.recovered, third.already_tried) == (1, 1, 1), \
        "the page that fails again with the new recipe is tried again; the others are not"
    assert damaged.manifest.pages(damaged.key)["cut.png"].status == DONE
    facts = json.loads((damaged.out_dir / "cut.png.json").read_text())
    assert (facts["settings"]["psm"], facts["settings"]["decode"]) == (4, "pillow_truncated")


def test_categories_without_a_strategy_are_reported_not_retried(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    Image.new("L", (4000, 4000), 255).save(run.folder / "huge.png")
    run.process(max_megapixels=1)
    assert run.manifest.pages(run.key)["huge.png"].error_category == "too_large"

    report = retry(run, max_megapixels=1)

    assert report.tried == 0
    assert "max_megapixels" in report.not_retried["huge.png"]
    frame = failed_pages_frame(run.manifest, run.key, {})
    assert frame["retry_outcome"].tolist() == ["not_retried"]


def test_writing_a_report_removes_what_a_killed_report_writer_left(tmp_path: Path) -> None:
    """A run killed while it wrote a folder's report leaves a temp file in the report store,
    where the page outputs' sweep never looks; the next report written removes it."""
    reports = LocalStore(tmp_path / "reports")
    (tmp_path / "reports").mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead_writer = f"{socket.gethostname()}:{ended.pid}"
    leftover = tmp_path / "reports" / f".failed_pages.csv~{dead_writer}~abc.tmp"
    leftover.write_bytes(b"partition,page")

    csv_uri, _ = write_failed_pages_report(pd.DataFrame(columns=list(REPORT_COLUMNS)), reports)

    assert not leftover.exists()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "failed_pages.csv", "failed_pages.json"]
    assert csv_uri.endswith("failed_pages.csv")
