"""The manifest: page rows, leases, outcomes, counts, and concurrent writers.

The behaviour tests run against both backends, SQLite and PostgreSQL (the latter in a schema of
its own on the test server; skipped with the reason when no server answers).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr_assets.engine.manifest.base import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SCHEMA_V1,
    FolderSummary,
    Manifest,
    PageOutcome,
)
from ocr_assets.engine.manifest.factory import open_manifest
from ocr_assets.engine.manifest.postgres import PostgresManifest
from ocr_assets.engine.manifest.sqlite import PAGE_CACHE_KIB, SqliteManifest

KEY = "box-001"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def manifest(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Manifest]:
    if request.param == "sqlite":
        db = open_manifest(tmp_path / "manifest.sqlite")
        assert isinstance(db, SqliteManifest)
    else:
        db = open_manifest(request.getfixturevalue("postgres_manifest_url"))
        assert type(db).__name__ == "PostgresManifest"
    yield db
    db.close()


def done(**facts: object) -> PageOutcome:
    values: dict[str, object] = {"status": DONE, "fingerprint": "sha256:ab", "size": 10,
                                 "mtime_ns": 5, "ms": 120, "mean_confidence": 91.5, "words": 40,
                                 "chars": 200, "garbage_score": 0.1, "output_name": "p.tif",
                                 "engine": "pytesseract"}
    values.update(facts)
    return PageOutcome(**values)


def test_sync_adds_new_pages_as_pending_and_drops_vanished_ones(manifest: Manifest) -> None:
    assert manifest.sync_pages(KEY, ["p1.tif", "p2.tif", "p2.tif"]) == (["p1.tif", "p2.tif"], [])
    assert {p: r.status for p, r in manifest.pages(KEY).items()} == {
        "p1.tif": PENDING, "p2.tif": PENDING}
    manifest.record(KEY, "p1.tif", done())

    assert manifest.sync_pages(KEY, ["p1.tif", "p3.tif"]) == (["p3.tif"], ["p2.tif"])
    rows = manifest.pages(KEY)
    assert set(rows) == {"p1.tif", "p3.tif"}
    assert rows["p1.tif"].status == DONE  # an existing row is kept as it is
    assert manifest.sync_pages(KEY, ["p1.tif", "p3.tif"]) == ([], [])
    assert manifest.pages("other") == {}


def test_sync_of_one_folder_leaves_other_folders_alone(manifest: Manifest) -> None:
    manifest.sync_pages("a", ["x.tif"])
    manifest.sync_pages("b", ["x.tif"])
    assert manifest.sync_pages("a", []) == ([], ["x.tif"])
    assert set(manifest.pages("b")) == {"x.tif"}


def test_a_live_lease_keeps_other_runs_off_the_page(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif"])

    assert manifest.claim(KEY, "p1.tif", "run-a", lease_s=3600)
    row = manifest.pages(KEY)["p1.tif"]
    assert (row.status, row.lease_owner, row.attempts) == (RUNNING, "run-a", 1)
    assert not manifest.claim(KEY, "p1.tif", "run-b", lease_s=3600)
    assert manifest.pages(KEY)["p1.tif"].lease_owner == "run-a"
    assert manifest.claim(KEY, "p1.tif", "run-a", lease_s=3600)  # its own lease: renewed
    assert manifest.pages(KEY)["p1.tif"].attempts == 2


def test_an_expired_lease_can_be_taken_over(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif"])
    assert manifest.claim(KEY, "p1.tif", "dead-run", lease_s=-1)  # already expired

    assert manifest.claim(KEY, "p1.tif", "run-b", lease_s=3600)
    row = manifest.pages(KEY)["p1.tif"]
    assert (row.lease_owner, row.attempts) == ("run-b", 2)


def test_a_holder_whose_lease_was_taken_over_cannot_record_the_page(manifest: Manifest) -> None:
    """A host cut off past its lease comes back: the page another host took over, and then
    recorded, is not recorded (nor counted done) a second time."""
    manifest.sync_pages(KEY, ["p1.tif", "p2.tif"])
    assert manifest.claim(KEY, "p1.tif", "cut-host", lease_s=-1)  # expired while cut off
    assert manifest.claim(KEY, "p1.tif", "run-b", lease_s=3600)

    assert not manifest.record(KEY, "p1.tif", done(), owner="cut-host")
    assert manifest.pages(KEY)["p1.tif"].lease_owner == "run-b"  # still run-b's
    assert manifest.record(KEY, "p1.tif", done(), owner="run-b")
    assert not manifest.record(KEY, "p1.tif", done(), owner="cut-host")
    assert manifest.pages(KEY)["p1.tif"].done_count == 1

    assert manifest.claim(KEY, "p2.tif", "run-a", lease_s=3600)
    assert manifest.record(KEY, "p2.tif", done(), owner="run-a")


def test_a_missing_page_cannot_be_claimed(manifest: Manifest) -> None:
    assert not manifest.claim(KEY, "nope.tif", "run-a", lease_s=60)


def test_release_expired_returns_only_dead_runs_pages(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["dead.tif", "live.tif", "idle.tif"])
    manifest.claim(KEY, "dead.tif", "dead-run", lease_s=-1)
    manifest.claim(KEY, "live.tif", "live-run", lease_s=3600)

    assert manifest.release_expired(KEY) == 1

    rows = manifest.pages(KEY)
    assert (rows["dead.tif"].status, rows["dead.tif"].lease_owner) == (PENDING, None)
    assert (rows["live.tif"].status, rows["live.tif"].lease_owner) == (RUNNING, "live-run")
    assert rows["idle.tif"].status == PENDING
    assert manifest.release_expired(KEY) == 0


def test_record_stores_the_outcome_and_ends_the_lease(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif", "p2.tif"])
    manifest.claim(KEY, "p1.tif", "run-a", lease_s=60)
    manifest.claim(KEY, "p2.tif", "run-a", lease_s=60)

    manifest.record(KEY, "p1.tif", done(flags="empty", flag_reason="3 letters/digits (< 10)"))
    manifest.record(KEY, "p2.tif", PageOutcome(
        status=FAILED, fingerprint="sha256:cd", size=7, mtime_ns=9, ms=3,
        error_category="unreadable_image", error_message="p2.tif: cannot decode"))

    rows = manifest.pages(KEY)
    first = rows["p1.tif"]
    assert (first.status, first.fingerprint, first.size, first.mtime_ns, first.ms) == (
        DONE, "sha256:ab", 10, 5, 120)
    assert (first.mean_confidence, first.words, first.chars, first.garbage_score) == (
        91.5, 40, 200, 0.1)
    assert (first.flags, first.output_name, first.engine) == ("empty", "p.tif", "pytesseract")
    assert (first.lease_owner, first.lease_until, first.attempts) == (None, None, 1)
    assert first.updated_at is not None
    second = rows["p2.tif"]
    assert (second.status, second.error_category, second.error_message) == (
        FAILED, "unreadable_image", "p2.tif: cannot decode")
    assert second.output_name is None


def test_record_names_the_host_and_counts_the_times_a_page_was_done(
        manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif", "p2.tif"])
    assert manifest.pages(KEY)["p1.tif"].host is None
    for _ in range(2):
        manifest.claim(KEY, "p1.tif", "run-a", lease_s=60)
        manifest.record(KEY, "p1.tif", done())
    manifest.claim(KEY, "p2.tif", "run-a", lease_s=60)
    manifest.record(KEY, "p2.tif", PageOutcome(status=FAILED, fingerprint=None, size=7,
                                               mtime_ns=9, ms=3, error_category="timeout"))

    rows = manifest.pages(KEY)
    assert (rows["p1.tif"].host, rows["p1.tif"].done_count) == (socket.gethostname(), 2)
    assert (rows["p2.tif"].host, rows["p2.tif"].done_count) == (socket.gethostname(), 0)


def test_accept_unchanged_moves_only_the_stat(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif"])
    manifest.record(KEY, "p1.tif", done())
    manifest.accept_unchanged(KEY, "p1.tif", size=10, mtime_ns=99)
    row = manifest.pages(KEY)["p1.tif"]
    assert (row.status, row.fingerprint, row.mtime_ns, row.attempts) == (DONE, "sha256:ab", 99, 0)


def test_status_counts_include_every_status(manifest: Manifest) -> None:
    manifest.sync_pages("a", ["1", "2", "3", "4"])
    manifest.sync_pages("b", ["1"])
    manifest.record("a", "1", done())
    manifest.record("a", "2", PageOutcome(FAILED, None, 1, 1, 1, "too_large", "big"))
    manifest.claim("a", "3", "run", lease_s=60)

    assert manifest.status_counts() == {
        "a": {PENDING: 1, RUNNING: 1, DONE: 1, FAILED: 1},
        "b": {PENDING: 1, RUNNING: 0, DONE: 0, FAILED: 0}}
    assert manifest.status_counts("b") == {"b": {PENDING: 1, RUNNING: 0, DONE: 0, FAILED: 0}}
    assert manifest.status_counts("missing") == {}


def test_status_totals_count_pages_and_folders_across_the_project(manifest: Manifest) -> None:
    manifest.sync_pages("a", ["1", "2", "3"])
    manifest.sync_pages("b", ["1", "2"])
    manifest.record("a", "1", done())
    manifest.record("b", "1", done())
    manifest.record("b", "2", PageOutcome(FAILED, None, 1, 1, 1, "too_large", "big"))

    assert manifest.status_totals() == {DONE: (2, 2), FAILED: (1, 1), PENDING: (2, 1)}


def test_folder_count_counts_registered_folders_with_pages_or_without(
        manifest: Manifest) -> None:
    assert manifest.folder_count() == 0
    for key in ("a", "b", "empty"):
        manifest.register_folder(key, key, key.encode())
    manifest.sync_pages("a", ["1", "2"])
    manifest.sync_pages("b", ["1"])

    assert manifest.folder_count() == 3


def test_folders_in_order_come_in_code_point_order_a_batch_at_a_time(
        manifest: Manifest) -> None:
    """The corpus walks them beside files sorted by Python: PostgreSQL's own collation (which
    may ignore case and punctuation) must not reorder them, nor the batches skip any."""
    keys = ["b-1", "B_2", "a_1", "_z", "Z-9", "a-1", "a1", "A"]
    if isinstance(manifest, PostgresManifest):  # as in a database created with a locale
        manifest._connection().execute(
            'ALTER TABLE folders ALTER COLUMN partition_key TYPE text COLLATE "und-x-icu"')
    for key in keys:
        manifest.register_folder(key, key, key.encode())

    for batch in (1, 3, 100):
        walked = [record.partition_key for record in manifest.folders_in_order(batch)]
        assert walked == sorted(keys), batch


def test_finished_since_counts_the_folders_pages_done_or_failed_from_then_on(
        manifest: Manifest) -> None:
    manifest.sync_pages("a", ["1", "2", "3", "4"])
    manifest.sync_pages("b", ["1"])
    manifest.record("a", "1", done())
    manifest.record("a", "2", PageOutcome(FAILED, None, 1, 1, 1, "too_large", "big"))
    manifest.claim("a", "3", "run", lease_s=60)
    manifest.record("b", "1", done())
    rows = manifest.pages("a")
    first, last = rows["1"].updated_at, rows["2"].updated_at

    assert manifest.finished_since(["a"], 0) == 2  # not the pending nor the running page
    assert manifest.finished_since(["a"], first) == 2
    assert manifest.finished_since(["a"], last + 1) == 0
    assert manifest.finished_since(["b"], 0) == 1
    assert manifest.finished_since(["a", "b"], 0) == 3
    assert manifest.finished_since(["missing"], 0) == 0
    assert manifest.finished_since([], 0) == 0


def test_folder_summaries_count_every_folder_by_status_with_its_listing(
        manifest: Manifest) -> None:
    manifest.sync_pages("a", ["1", "2", "3", "4", "5"], listing_signature="sig-a1")
    manifest.sync_pages("b", ["1", "2"])
    manifest.record("a", "1", done())
    manifest.record("a", "2", done())
    manifest.record("a", "3", PageOutcome(FAILED, None, 1, 1, 1, "timeout", "slow"))
    manifest.claim("a", "4", "run", lease_s=60)
    manifest.record("b", "1", done())

    summaries = manifest.folder_summaries()

    assert summaries == {
        "a": FolderSummary({PENDING: 1, RUNNING: 1, DONE: 2, FAILED: 1}, "sig-a1"),
        "b": FolderSummary({PENDING: 1, RUNNING: 0, DONE: 1, FAILED: 0}, None)}
    assert summaries["a"].unfinished == 2
    assert {key: s.counts for key, s in summaries.items()} == manifest.status_counts()

    manifest.sync_pages("a", ["1", "2", "3"], listing_signature="sig-a2")  # 4 and 5 removed
    manifest.sync_pages("b", ["1", "2"])  # a sync without a signature keeps the stored one
    manifest.sync_pages("b", ["1", "2"], listing_signature="sig-b1")
    manifest.sync_pages("b", ["1", "2"])
    summaries = manifest.folder_summaries()
    assert summaries["a"] == FolderSummary({PENDING: 0, RUNNING: 0, DONE: 2, FAILED: 1},
                                           "sig-a2")
    assert summaries["b"].listing_signature == "sig-b1"

    manifest.register_folder("a", "a", b"a")
    manifest.forget_folder("a")
    assert set(manifest.folder_summaries()) == {"b"}
    manifest.sync_pages("a", ["1"])
    assert manifest.folder_summaries()["a"].listing_signature is None, \
        "a forgotten folder's listing goes with it"


def test_pages_can_be_read_by_status(manifest: Manifest) -> None:
    manifest.sync_pages(KEY, ["p1.tif", "p2.tif", "p3.tif"])
    manifest.record(KEY, "p2.tif", PageOutcome(FAILED, None, 1, 1, 1, "timeout", "slow"))
    manifest.record(KEY, "p3.tif", done())

    assert list(manifest.pages(KEY, status=FAILED)) == ["p2.tif"]
    assert list(manifest.pages(KEY, status=DONE)) == ["p3.tif"]
    assert sorted(manifest.pages(KEY)) == ["p1.tif", "p2.tif", "p3.tif"]


def test_a_manifest_file_of_an_earlier_version_gains_the_listings(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before folder listings existed
        db.executescript(SCHEMA_V1.split("CREATE TABLE IF NOT EXISTS folder_listings")[0])
        db.execute("INSERT INTO pages (partition_key, page_id, status) "
                   "VALUES ('old', 'p.tif', 'done')")
    db.close()

    manifest = open_manifest(path)
    assert manifest.folder_summaries() == {
        "old": FolderSummary({PENDING: 0, RUNNING: 0, DONE: 1, FAILED: 0}, None)}
    manifest.sync_pages("old", ["p.tif"], listing_signature="sig")
    assert manifest.folder_summaries()["old"].listing_signature == "sig"
    manifest.close()


def test_folders_keep_their_original_name_and_bytes(manifest: Manifest) -> None:
    raw = b"box \xff, 2"
    manifest.register_folder("box_2-0123456789", "box \\xff, 2", raw)
    manifest.register_folder("box_2-0123456789", "ignored", b"ignored")  # first one wins
    manifest.register_folder("box-001", "box-001", b"box-001")
    manifest.sync_pages("box-001", ["p.tif"])

    record = manifest.folder("box_2-0123456789")
    assert record is not None
    assert (record.folder_name, record.folder_name_raw) == ("box \\xff, 2", raw)
    assert os.fsdecode(record.folder_name_raw) == os.fsdecode(raw)
    assert [f.partition_key for f in manifest.folders()] == ["box-001", "box_2-0123456789"]
    assert manifest.folder("missing") is None

    manifest.forget_folder("box-001")
    assert manifest.folder("box-001") is None
    assert manifest.pages("box-001") == {}


def test_rows_survive_closing_and_reopening(tmp_path: Path) -> None:
    first = open_manifest(tmp_path / "m.sqlite")
    first.sync_pages(KEY, ["p1.tif"])
    first.record(KEY, "p1.tif", done())
    first.close()
    again = open_manifest(tmp_path / "m.sqlite")
    assert again.pages(KEY)["p1.tif"].status == DONE
    again.close()


def test_every_threads_connection_has_a_bounded_page_cache(tmp_path: Path) -> None:
    """A process keeps one connection per thread open; at SQLite's default cache each grew
    with the manifest, and the process's memory with the folders it had run."""
    manifest = SqliteManifest(tmp_path / "m.sqlite")
    sizes: list[int] = []

    def cache_size() -> None:
        sizes.append(manifest._connection().execute("PRAGMA cache_size").fetchone()[0])

    cache_size()
    thread = threading.Thread(target=cache_size)
    thread.start()
    thread.join()
    assert sizes == [-PAGE_CACHE_KIB, -PAGE_CACHE_KIB]
    manifest.close()


def test_threads_recording_many_pages_lose_no_row(manifest: Manifest) -> None:
    pages = [f"page_{n}.tif" for n in range(400)]
    manifest.sync_pages(KEY, pages)
    errors: list[BaseException] = []

    def worker(share: list[str]) -> None:
        try:
            for page in share:
                assert manifest.claim(KEY, page, threading.current_thread().name, 600)
                manifest.record(KEY, page, done(output_name=page))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            manifest.close()  # this thread's connection

    threads = [threading.Thread(target=worker, args=(pages[n::4],), name=f"t{n}")
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = manifest.pages(KEY)
    assert len(rows) == 400
    assert all(r.status == DONE and r.output_name == p for p, r in rows.items())
    assert manifest.status_counts(KEY)[KEY][DONE] == 400


def test_threads_racing_for_the_same_pages_each_get_a_page_once(
        manifest: Manifest) -> None:
    pages = [f"page_{n}.tif" for n in range(200)]
    manifest.sync_pages(KEY, pages)
    won: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        mine = won.setdefault(name, [])
        for page in pages:
            if manifest.claim(KEY, page, name, lease_s=600):
                mine.append(page)
        manifest.close()

    threads = [threading.Thread(target=worker, args=(f"run-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [page for share in won.values() for page in share]
    assert sorted(claimed) == sorted(pages)  # every page exactly once
    rows = manifest.pages(KEY)
    assert all(rows[p].lease_owner == owner for owner, share in won.items() for p in share)


# The writer imports the manifest package alone: the `ocr_assets.engine` package imports none of
# its parts, so no page machinery (Pillow, pebble) is loaded for it.
WRITER = textwrap.dedent("""
    import sys
    from ocr_assets.engine.manifest import PageOutcome, SqliteManifest
    db = SqliteManifest(sys.argv[1])
    name, count = sys.argv[2], int(sys.argv[3])
    for n in range(count):
        page = f"{name}_{n}.tif"
        assert db.claim("shared", page, name, 600), page
        db.record("shared", page, PageOutcome("done", "sha256:x", 1, 1, 1, output_name=page))
""")



def test_processes_sharing_one_manifest_file_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    names, count = ["proc0", "proc1"], 150
    setup = SqliteManifest(path)
    setup.sync_pages("shared", [f"{name}_{n}.tif" for name in names for n in range(count)])
    setup.close()

    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(count)],
                                stderr=subprocess.PIPE, text=True) for name in names]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr

    db = open_manifest(path)
    rows = db.pages("shared")
    db.close()
    assert len(rows) == 2 * count
    assert all(r.status == DONE and r.output_name == p and r.lease_owner is None
               for p, r in rows.items())


def test_an_alert_is_claimed_once_and_its_delivery_recorded(manifest: Manifest) -> None:
    """The alert ledger: the first claim of a key wins, every later one (another process, a
    sensor evaluated again) is refused."""
    assert manifest.claim_alert("run_failed:r1", "run_failed", '{"kind": "run_failed"}')
    assert not manifest.claim_alert("run_failed:r1", "run_failed", '{"kind": "run_failed"}')
    assert manifest.claim_alert("run_failed:r2", "run_failed", "{}")
    manifest.record_alert("run_failed:r1", ["webhook"], "slack: timed out")
    assert not manifest.claim_alert("run_failed:r1", "run_failed", "{}"), \
        "recording the delivery does not free the key"


def test_copies_of_a_scan_are_found_by_content_key_and_recipe(manifest: Manifest) -> None:
    """Both backends: the pages of a duplicate scan, the done copies a page may take its text
    from (its recipe only), and the ground-truth signature kept with a folder's listing."""
    manifest.sync_pages("a", ["p.tif", "m.pdf#1", "m.pdf#2"], listing_signature="sig-a")
    manifest.sync_pages("b", ["copy.tif", "other.tif"])
    manifest.record("a", "p.tif", done(recipe="r1"))
    manifest.record("a", "m.pdf#1", done(fingerprint="sha256:m", recipe="r1"))
    manifest.record("a", "m.pdf#2", done(fingerprint="sha256:m", recipe="r1"))
    manifest.record("b", "copy.tif", done(recipe="r2", reused_from=None))
    manifest.record("b", "other.tif", PageOutcome(FAILED, "sha256:ab", 1, 1, 1, "timeout", "x"))

    assert manifest.duplicates() == {"sha256:ab": [("a", "p.tif"), ("b", "copy.tif"),
                                                   ("b", "other.tif")]}
    assert manifest.duplicates("a") == manifest.duplicates()
    assert [(r.partition_key, r.page_id) for r in manifest.done_copies("sha256:ab", "r1")] == [
        ("a", "p.tif")]
    assert [r.page_id for r in manifest.done_copies("sha256:m#2", "r1")] == ["m.pdf#2"]
    assert manifest.done_copies("sha256:m", "r1") == []

    manifest.record("b", "copy.tif", done(recipe="r1", reused_from="a/p.tif"))
    row = manifest.page("b", "copy.tif")
    assert row is not None and (row.reused_from, row.content_key) == ("a/p.tif", "sha256:ab")
    assert manifest.page("b", "missing.tif") is None

    assert manifest.folder_summaries()["a"].ground_truth is None
    manifest.store_ground_truth("a", "truth-1")
    assert manifest.folder_summaries()["a"].ground_truth == "truth-1"
    manifest.sync_pages("a", ["p.tif", "m.pdf#1", "m.pdf#2"], listing_signature="sig-a2")
    assert manifest.folder_summaries()["a"].ground_truth == "truth-1", "kept by a new listing"
