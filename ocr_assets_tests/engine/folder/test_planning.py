"""What the nightly reconciliation finds: a folder's pages on disk against its manifest rows,
and the failed pages a run can still help."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.planning import (
    RETRY_NEEDS,
    RUN_NEEDS,
    SENSOR_NEEDS,
    Need,
    RunState,
    folder_changes,
    folders_to_run,
    retryable_failures,
)
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.manifest import FAILED, Manifest, PageOutcome, PageRecord
from ocr_assets.engine.project import Project
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore
from ocr_assets_tests.helpers import FIXTURES, Run, new_run

PAGE = FIXTURES / "pages" / "phototest.tif"


def done_folder(tmp_path: Path) -> Run:
    run = new_run(tmp_path)
    shutil.copy(PAGE, run.folder / "page_1.tif")
    shutil.copy(FIXTURES / "odd" / "multipage.tiff", run.folder / "frames.tiff")
    (run.folder / "notes.txt").write_text("not a page")
    run.process()
    return run


def test_an_ocred_folder_matches_its_manifest(tmp_path: Path) -> None:
    run = done_folder(tmp_path)
    assert any("#" in page for page in run.manifest.pages(run.key)), "frames are pages"
    assert folder_changes(run.folder, run.manifest.pages(run.key)) is None


def test_added_removed_and_replaced_pages_are_named(tmp_path: Path) -> None:
    run = done_folder(tmp_path)
    shutil.copy(PAGE, run.folder / "page_2.tif")
    shutil.copy(PAGE, run.folder / "no_extension")  # a page by its first bytes
    (run.folder / "more-notes.txt").write_text("still not a page")
    assert folder_changes(run.folder, run.manifest.pages(run.key)) == "2 new pages"

    (run.folder / "page_2.tif").unlink()
    (run.folder / "no_extension").unlink()
    (run.folder / "frames.tiff").unlink()
    assert folder_changes(run.folder, run.manifest.pages(run.key)) == "1 removed pages"

    shutil.copy(FIXTURES / "odd" / "multipage.tiff", run.folder / "frames.tiff")
    stat = (run.folder / "page_1.tif").stat()
    os.utime(run.folder / "page_1.tif", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert folder_changes(run.folder, run.manifest.pages(run.key)) == "2 changed pages"


def test_only_failures_a_run_can_help_are_retryable(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    # Cut after its header: it opens, then fails to decode (truncated), so the pass applies.
    (run.folder / "broken.tif").write_bytes((FIXTURES / "pages" / "phototest.tif")
                                            .read_bytes()[:300])
    (run.folder / "empty.png").write_bytes(b"")  # nothing to read, with any setting
    run.process()
    rows = run.manifest.pages(run.key).values()
    reports = LocalStore(tmp_path / "reports" / run.key)

    assert retryable_failures(rows, reports, max_attempts=3) == ["broken.tif"], \
        "the retry pass has not tried it yet; no strategy reads an empty file"
    from ocr_assets.engine.folder.retry import retry_failed_pages
    retry_failed_pages(run.scan_folder, settings=OcrSettings(workers=1))
    rows = run.manifest.pages(run.key).values()
    assert retryable_failures(rows, reports, max_attempts=3) == [], \
        "deterministic, and the retry pass already failed on this input"


def needing(tmp_path: Path, manifest: Manifest, folders: dict[str, str],
            materialized: set[str], **settings: object) -> dict[str, str]:
    """Why each folder needs a plain run, for a project of `tmp_path` with `settings`."""
    project = Project(ProjectConfig(data_root=str(tmp_path), **settings), manifest)
    runs = RunState(materialized=frozenset(materialized))
    return {key: need.why
            for key, need in folders_to_run(project, folders, runs, RUN_NEEDS).items()}


def test_folders_needing_work_say_why(tmp_path: Path) -> None:
    run = done_folder(tmp_path)
    fresh = tmp_path / "scans" / "fresh"
    fresh.mkdir()
    shutil.copy(PAGE, fresh / "a.tif")
    folders = {run.key: run.folder.name, "fresh": "fresh"}

    reasons = needing(tmp_path, run.manifest, folders, {run.key})
    assert reasons == {"fresh": "never materialized"}
    other_settings = needing(tmp_path, run.manifest, folders, {run.key}, psm=6)
    assert other_settings == {"fresh": "never materialized",
                              run.key: "4 pages read with other settings (language, psm, ...)"}
    assert needing(tmp_path, run.manifest, folders, {run.key}, workers=1,
                   engine="tesserocr") == reasons

    run.manifest.sync_pages(run.key, [*run.manifest.pages(run.key), "late.tif"])
    reasons = needing(tmp_path, run.manifest, folders, {run.key, "fresh"})
    assert reasons == {run.key: "1 pages pending", "fresh": "1 new pages"}


class RowReads:
    """The manifest, with a note of every read of page rows (which folder, which status)."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.reads: list[tuple[str, str | None]] = []

    def pages(self, partition_key: str, status: str | None = None) -> dict[str, PageRecord]:
        self.reads.append((partition_key, status))
        return self.manifest.pages(partition_key, status=status)

    def __getattr__(self, name: str) -> object:
        return getattr(self.manifest, name)


def test_an_unchanged_folder_is_judged_by_its_summary_without_reading_rows(
        tmp_path: Path) -> None:
    run = done_folder(tmp_path)  # its run stored the folder's listing signature
    broken = tmp_path / "scans" / "broken"
    broken.mkdir()
    shutil.copy(PAGE, broken / "huge.tif")
    stat = (broken / "huge.tif").stat()
    # As a run leaves a page refused for its size: failed for good, nothing a run can help.
    run.manifest.sync_pages("broken", ["huge.tif"], listing_signature=folder_signature(broken))
    run.manifest.record("broken", "huge.tif", PageOutcome(
        FAILED, None, stat.st_size, stat.st_mtime_ns, 1, "too_large", "above max_megapixels"))
    folders = {run.key: run.folder.name, "broken": "broken"}
    manifest = RowReads(run.manifest)

    def needing_work() -> dict[str, str]:
        manifest.reads.clear()
        return needing(tmp_path, manifest, folders, set(folders))  # type: ignore[arg-type]

    assert needing_work() == {}
    assert manifest.reads == [("broken", FAILED)], \
        "no rows of the unchanged folder; only the failed rows of the other one"

    (run.folder / "notes.txt").write_text("edited, and still not a page")
    assert needing_work() == {}
    assert sorted(manifest.reads) == [("broken", FAILED), (run.key, None)], \
        "its files moved: its rows are compared, and no page changed"

    shutil.copy(PAGE, run.folder / "page_2.tif")
    assert needing_work() == {run.key: "1 new pages"}


def test_the_folder_signature_is_its_documented_digest(tmp_path: Path) -> None:
    """Sensor cursors and stored listings hold it: the same files must give the same digest
    in every version (the SHA-1 of each file's relative path, size and mtime in walk order)."""
    folder = tmp_path / "box"
    for rel in ("b.tif", "a b.png", "sub/z.tif", "sub/deeper/x.jpg", "tiff/1.tif"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(rel.encode() * 3)
    (folder / os.fsdecode(b"caf\xe9.png")).write_bytes(b"latin-1 name")
    expected = hashlib.sha1(usedforsecurity=False)
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            stat = os.lstat(path)
            expected.update(os.fsencode(os.path.relpath(path, folder)))
            expected.update(f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())

    assert folder_signature(folder) == expected.hexdigest()
    before = folder_signature(folder)
    (folder / "sub" / "z.tif").write_bytes(b"replaced")
    assert folder_signature(folder) != before


def test_each_caller_gets_the_first_need_it_acts_on(tmp_path: Path) -> None:
    """The one answer, asked for the sensor's, a plain run's and `retry-failed`'s needs."""
    run = done_folder(tmp_path)
    broken = tmp_path / "scans" / "broken"
    broken.mkdir()
    (broken / "bad.tif").write_bytes(PAGE.read_bytes()[:300])  # truncated: the pass applies
    broken_run = Run(broken, run.manifest, run.out_root, key="broken")
    broken_run.process()
    fresh = tmp_path / "scans" / "fresh"
    fresh.mkdir()
    shutil.copy(PAGE, fresh / "a.tif")
    shutil.copy(PAGE, fresh / "b.tif")
    folders = {run.key: run.folder.name, "broken": "broken", "fresh": "fresh"}
    project = Project(ProjectConfig(data_root=str(tmp_path)), run.manifest)

    def whys(runs: RunState, wanted: frozenset[Need]) -> dict[str, str]:
        return {key: need.why for key, need in folders_to_run(project, folders, runs,
                                                              wanted).items()}

    materialized = RunState(materialized=frozenset({run.key, "broken"}))
    assert whys(materialized, SENSOR_NEEDS) == {"fresh": "never materialized"}, \
        "the sensor leaves failed pages to the night and to retry-failed"
    assert whys(materialized, RUN_NEEDS) == {"fresh": "never materialized",
                                             "broken": "1 failed pages to retry"}
    assert whys(materialized, RETRY_NEEDS) == {"broken": "1 failed pages"}

    failed_run = RunState(materialized=frozenset({run.key, "broken"}),
                          failed={run.key: "page_texts"})
    assert whys(failed_run, RETRY_NEEDS) == {run.key: "last run failed (page_texts)",
                                             "broken": "1 failed pages"}
    busy = RunState(materialized=frozenset({run.key, "broken"}),
                    in_progress=frozenset({"fresh", "broken"}))
    assert whys(busy, RUN_NEEDS) == {}, "a folder with a run in progress is left to that run"

    counted = folders_to_run(project, folders, materialized, RUN_NEEDS, count_new=True)
    assert (counted["fresh"].need, counted["fresh"].pages) == (Need.NEW, 2)
    assert folders_to_run(project, folders, materialized, RUN_NEEDS)["fresh"].pages == 0


def test_a_folder_toml_that_cannot_be_read_needs_a_run_that_says_what_to_fix(
        tmp_path: Path) -> None:
    run = done_folder(tmp_path)
    (run.folder / "folder.toml").write_text("lang = [not toml", encoding="utf-8")
    project = Project(ProjectConfig(data_root=str(tmp_path)), run.manifest)
    needs = folders_to_run(project, {run.key: run.folder.name},
                           RunState(materialized=frozenset({run.key})), SENSOR_NEEDS)
    assert needs[run.key].need == Need.RECIPE
    assert "folder.toml: not valid TOML" in needs[run.key].why
