"""The PostgreSQL manifest's own concerns: its URL, its schema migrated once however many
processes start at once, and many processes writing one folder at once without losing a row.

The behaviour every backend shares is tested in `test_manifest.py` against both backends.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg2
import psycopg2.sql
import pytest

from ocr_assets.engine.manifest import DONE, PageOutcome, open_manifest
from ocr_assets.engine.manifest.postgres import (
    MIGRATIONS,
    PostgresManifest,
    redacted,
    split_manifest_url,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_parameter_is_taken_out_of_the_libpq_url() -> None:
    assert split_manifest_url("postgresql://u:pw@db:5432/dagster?schema=ocr_x&sslmode=require") \
        == ("postgresql://u:pw@db:5432/dagster?sslmode=require", "ocr_x")
    assert split_manifest_url("postgresql://db/dagster") == ("postgresql://db/dagster",
                                                             "ocr_assets")
    assert split_manifest_url("postgresql://?schema=ocr") == ("postgresql://", "ocr")
    with pytest.raises(ValueError, match="not a plain PostgreSQL name"):
        split_manifest_url("postgresql://db/dagster?schema=x;drop table pages")


def test_messages_never_show_the_password() -> None:
    assert redacted("postgresql://ocr:s3cret@db:5432/dagster") == \
        "postgresql://ocr:***@db:5432/dagster"
    assert redacted("postgresql://db/dagster") == "postgresql://db/dagster"


def test_an_unreachable_server_is_named_with_what_to_check() -> None:
    with pytest.raises(RuntimeError, match=r"cannot connect to the PostgreSQL manifest at "
                       r"postgresql://ocr:\*\*\*@127\.0\.0\.1:1/x.*OCR_ASSETS_MANIFEST_URL"):
        PostgresManifest("postgresql://ocr:pw@127.0.0.1:1/x", connect_timeout_s=2)


def _versions(url: str) -> list[int]:
    dsn, schema = split_manifest_url(url)
    with psycopg2.connect(dsn) as db:
        cursor = db.cursor()
        cursor.execute(f"SELECT version FROM {schema}.schema_version ORDER BY 1")
        versions = [row[0] for row in cursor.fetchall()]
    db.close()
    return versions


OPENER = textwrap.dedent("""
    import sys
    from ocr_assets.engine.manifest import open_manifest
    db = open_manifest(sys.argv[1])
    db.sync_pages("box", ["a.tif"])
    db.close()
""")


def test_processes_starting_at_once_on_an_empty_database_migrate_it_once(
        postgres_manifest_url: str) -> None:
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, postgres_manifest_url],
                                cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for opener in openers:
        _, stderr = opener.communicate(timeout=120)
        assert opener.returncode == 0, stderr

    assert _versions(postgres_manifest_url) == list(range(1, len(MIGRATIONS) + 1))
    again = open_manifest(postgres_manifest_url)  # a restart migrates nothing and keeps rows
    assert list(again.pages("box")) == ["a.tif"]
    again.close()
    assert _versions(postgres_manifest_url) == list(range(1, len(MIGRATIONS) + 1))


def test_a_schema_of_version_1_is_upgraded_and_keeps_its_rows(
        postgres_manifest_url: str) -> None:
    dsn, schema = split_manifest_url(postgres_manifest_url)
    with psycopg2.connect(dsn) as db:  # what the first version of the manifest created
        cursor = db.cursor()
        cursor.execute(psycopg2.sql.SQL("CREATE SCHEMA {}").format(
            psycopg2.sql.Identifier(schema)))
        cursor.execute(psycopg2.sql.SQL(
            "CREATE TABLE {}.schema_version (version INTEGER PRIMARY KEY, "
            "applied_at DOUBLE PRECISION NOT NULL)").format(psycopg2.sql.Identifier(schema)))
        cursor.execute(psycopg2.sql.SQL(MIGRATIONS[0]).format(
            schema=psycopg2.sql.Identifier(schema)))
        cursor.execute(f"INSERT INTO {schema}.schema_version VALUES (1, 0)")
        cursor.execute(f"INSERT INTO {schema}.pages (partition_key, page_id, status) "
                       "VALUES ('old', 'p.tif', 'done')")
    db.close()

    manifest = open_manifest(postgres_manifest_url)
    assert _versions(postgres_manifest_url) == list(range(1, len(MIGRATIONS) + 1))
    assert manifest.folder_summaries()["old"].counts[DONE] == 1
    manifest.sync_pages("old", ["p.tif"], listing_signature="sig")
    assert manifest.folder_summaries()["old"].listing_signature == "sig"
    manifest.close()


def test_a_schema_newer_than_the_code_is_refused(postgres_manifest_url: str) -> None:
    open_manifest(postgres_manifest_url).close()
    dsn, schema = split_manifest_url(postgres_manifest_url)
    with psycopg2.connect(dsn) as db:
        db.cursor().execute(f"INSERT INTO {schema}.schema_version VALUES (999, 0)")
    db.close()

    with pytest.raises(RuntimeError, match="version 999, newer than this ocr-assets knows"):
        open_manifest(postgres_manifest_url)


# Each writer is one run on the same folder: once all are connected (a start line in files),
# it syncs the folder and releases expired leases (as every run does first), claims every page
# it can, records the pages it won once every writer has claimed, then syncs again while the
# others are still recording. The claims race; the records wait for all of them, because a
# claim without the row's `updated_at` (as here) takes a page that is already done: a writer
# that a loaded machine (an xdist neighbour) started a second late took pages the others had
# finished, and the test saw 417 claims of 400 pages. A real run claims only what its plan saw
# as needing OCR (`claim(..., expect_updated_at=)`): two real runs at once on either backend are
# `reliability/test_dead_and_overlapping_runs.py`.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ocr_assets.engine.manifest import PageOutcome, open_manifest
    url, name, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    writers = int(sys.argv[5])
    pages = [f"page_{n}.tif" for n in range(count)]
    db = open_manifest(url)
    (start / name).touch()
    while not (start / "go").exists():
        time.sleep(0.01)
    db.sync_pages("shared", pages)
    db.release_expired("shared")
    won = [page for page in pages if db.claim("shared", page, name, 600)]
    (start / f"{name}.claimed").touch()
    while len(list(start.glob("*.claimed"))) < writers:
        time.sleep(0.01)
    for page in won:
        db.record("shared", page, PageOutcome("done", "sha256:x", 1, 1, 1, output_name=name))
    db.sync_pages("shared", pages)
    print(len(won))
""")


def test_runs_racing_for_one_folder_each_get_a_page_once_and_lose_no_row(
        postgres_manifest_url: str, tmp_path: Path) -> None:
    count, names = 400, [f"run{n}" for n in range(4)]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_manifest_url, name,
                                 str(count), str(tmp_path), str(len(names))], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in names]
    deadline = time.monotonic() + 120
    while (len(list(tmp_path.iterdir())) < len(names) and time.monotonic() < deadline
           and all(w.poll() is None for w in writers)):
        time.sleep(0.05)
    (tmp_path / "go").touch()
    won = []
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=240)
        assert writer.returncode == 0, stderr
        won.append(int(stdout))

    db = open_manifest(postgres_manifest_url)
    rows = db.pages("shared")
    db.close()
    assert sum(won) == count  # every page claimed by exactly one run
    assert len(rows) == count
    assert all(r.status == DONE and r.attempts == 1 and r.lease_owner is None
               for r in rows.values())
    assert sorted(sum(r.output_name == name for r in rows.values()) for name in names) \
        == sorted(won)


def test_many_pages_in_one_sync_and_one_status_count(postgres_manifest_url: str) -> None:
    db = open_manifest(postgres_manifest_url)
    pages = [f"p{n:05}.tif" for n in range(5000)]
    assert db.sync_pages("big", pages) == (pages, [])
    db.record("big", "p00001.tif", PageOutcome(DONE, "sha256:x", 1, 1, 1, output_name="p"))
    assert db.status_counts("big")["big"] == {"pending": 4999, "running": 0, "done": 1,
                                              "failed": 0}
    assert db.sync_pages("big", pages[:10])[1] == pages[10:]
    db.close()


def test_a_connection_the_server_dropped_is_replaced(postgres_manifest_url: str) -> None:
    db = open_manifest(postgres_manifest_url)
    db.sync_pages("box", ["a.tif"])
    dsn, _ = split_manifest_url(postgres_manifest_url)
    with psycopg2.connect(dsn) as admin:
        # Only this test run's database: other test runs may share the server.
        admin.cursor().execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = 'ocr-assets manifest' "
                               "AND datname = current_database()")
    admin.close()

    with pytest.raises(psycopg2.OperationalError):
        db.pages("box")  # the statement in flight when the server went away fails
    assert list(db.pages("box")) == ["a.tif"]  # the next one reconnects
    db.record("box", "a.tif", PageOutcome(DONE, "sha256:x", 1, 1, 1, output_name="a"))
    assert db.pages("box")["a.tif"].status == DONE
    db.close()
