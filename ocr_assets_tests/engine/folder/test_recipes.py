"""A page is done for its input *and* its recipe: the settings that change its text.

A done page whose row names another recipe than the folder's current one (its `folder.toml`, or
the configured language or psm, changed) is read again, once; settings that do not change the
text (workers, engine, timeouts) read nothing again. Manifests from before recipes were recorded
upgrade in place, SQLite and PostgreSQL alike, and their done pages stay done.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import psycopg2.sql
import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.batch import plan_folder
from ocr_assets.engine.folder.planning import pages_with_other_recipe
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import open_manifest
from ocr_assets.engine.manifest.base import DONE, SCHEMA_V1, SQLITE_MIGRATIONS
from ocr_assets.engine.manifest.postgres import MIGRATIONS, split_manifest_url
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project, ScanFolder
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore, read_json, read_text, write_json, write_text
from ocr_assets_tests.helpers import FIXTURES, Run

ROOT = Path(__file__).resolve().parents[2]
PAGE = FIXTURES / "pages" / "phototest.tif"
KEY = "box"

CHANGE_THE_TEXT = {"lang": "deu", "psm": 6, "max_side_px": 3500, "auto_rotate": False,
                   "rotate_every_page": True, "rotate_min_confidence": 3.0, "decode": "pillow",
                   "skip_text": True, "latin_lang": "deu", "alt_lang": "frk",
                   "deskew": "always", "clean": True, "retry_below_confidence": 75.0,
                   "searchable_pdf": True}  # not the text, but made by the pass that reads it
KEEP_THE_TEXT = {"engine": "tesserocr", "workers": 7, "page_timeout_s": 9.0,
                 "recycle_after": 3, "max_megapixels": 50.0, "max_attempts": 9,
                 "worker_memory_mb": 512, "archival_formats": ("hocr",), "max_pdf_pages": 10,
                 "reuse_duplicates": False}


def test_every_setting_is_either_in_the_recipe_or_not() -> None:
    fields = {f.name for f in dataclasses.fields(OcrSettings)}
    assert fields == CHANGE_THE_TEXT.keys() | KEEP_THE_TEXT.keys(), \
        "a new setting: decide whether it changes a page's text (then it is in the recipe)"
    base = OcrSettings()
    for name, value in CHANGE_THE_TEXT.items():
        assert dataclasses.replace(base, **{name: value}).recipe_key() != base.recipe_key(), name
    for name, value in KEEP_THE_TEXT.items():
        assert dataclasses.replace(base, **{name: value}).recipe_key() == base.recipe_key(), name
    assert len(base.recipe_key()) == 16
    assert OcrSettings(psm=3, rotate_min_confidence=6).recipe_key() == \
        OcrSettings(psm=3, rotate_min_confidence=6.0).recipe_key()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a manifest lives: a SQLite file, or a PostgreSQL schema of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "manifest.sqlite")
    return request.getfixturevalue("postgres_manifest_url")


@pytest.fixture
def run(location: str, tmp_path: Path) -> Iterator[Run]:
    folder = tmp_path / "scans" / KEY
    folder.mkdir(parents=True)
    shutil.copy(PAGE, folder / "page.tif")
    manifest = open_manifest(location)
    yield Run(folder, manifest, tmp_path / "ocr", key=KEY)
    manifest.close()


def facts(run: Run) -> dict:
    document = read_json(run.outputs, output_keys(output_name_for("page.tif"))[1])
    assert isinstance(document, dict)
    return document


def test_a_new_recipe_in_folder_toml_reads_the_pages_again_once(run: Run) -> None:
    first = run.process(workers=1)
    assert (first.processed, first.done) == (1, 1)
    row = run.manifest.pages(KEY)["page.tif"]
    assert row.recipe == OcrSettings().recipe_key()

    unrelated = run.process(**KEEP_THE_TEXT)
    assert (unrelated.processed, unrelated.skipped) == (0, 1)
    assert run.manifest.pages(KEY)["page.tif"] == row, "not even an attempt counted"

    (run.folder / "folder.toml").write_text('lang = "deu"\npsm = 4\n', encoding="utf-8")
    summary = run.manifest.folder_summaries()[KEY]
    assert summary.done_by_recipe == {row.recipe: 1}
    assert pages_with_other_recipe(run.folder, summary, OcrSettings()) == 1, \
        "the nightly reconciliation sees it too, from the summary"
    again = run.process(workers=1)
    assert (again.processed, again.done, again.failed) == (1, 1, 0)
    assert (facts(run)["settings"]["lang"], facts(run)["settings"]["psm"]) == ("deu", 4)
    assert "quick brown" in run.text("page.tif")
    reread = run.manifest.pages(KEY)["page.tif"]
    assert reread.recipe == OcrSettings(lang="deu", psm=4).recipe_key() != row.recipe
    assert reread.attempts == 2

    third = run.process(workers=1)
    assert (third.processed, third.skipped) == (0, 1)
    # The configured psm is not what the folder reads with: its folder.toml says 4.
    assert run.process(workers=1, psm=6).processed == 0
    (run.folder / "folder.toml").unlink()
    # The same recipe from the configuration instead of the file: nothing to read again.
    assert run.process(workers=1, lang="deu", psm=4).processed == 0
    assert run.manifest.pages(KEY)["page.tif"] == reread


def old_sqlite_manifest(path: Path) -> Callable[[str, tuple], None]:
    """A manifest as ocr-assets wrote it before recipes: the first schema, no version."""
    sqlite3.connect(path).executescript(SCHEMA_V1)

    def execute(statement: str, args: tuple) -> None:
        with sqlite3.connect(path) as db:
            db.execute(statement, args)
        db.close()
    return execute


def old_postgres_manifest(url: str) -> Callable[[str, tuple], None]:
    """A schema as ocr-assets created it before recipes: version 1."""
    dsn, schema = split_manifest_url(url)
    name = psycopg2.sql.Identifier(schema)
    with psycopg2.connect(dsn) as db:
        cursor = db.cursor()
        cursor.execute(psycopg2.sql.SQL("CREATE SCHEMA {}").format(name))
        cursor.execute(psycopg2.sql.SQL(MIGRATIONS[0]).format(schema=name))
        cursor.execute(psycopg2.sql.SQL(
            "CREATE TABLE {}.schema_version (version INTEGER PRIMARY KEY, "
            "applied_at DOUBLE PRECISION NOT NULL); "
            "INSERT INTO {}.schema_version VALUES (1, 0)").format(name, name))
    db.close()

    def execute(statement: str, args: tuple) -> None:
        with psycopg2.connect(dsn) as db:
            cursor = db.cursor()
            cursor.execute(psycopg2.sql.SQL("SET search_path TO {}").format(name))
            cursor.execute(statement.replace("?", "%s"), args)
        db.close()
    return execute


def schema_version(location: str) -> int:
    if location.startswith("postgresql://"):
        dsn, schema = split_manifest_url(location)
        with psycopg2.connect(dsn) as db:
            cursor = db.cursor()
            cursor.execute(f"SELECT MAX(version) FROM {schema}.schema_version")
            version = cursor.fetchone()[0]
        db.close()
        return version
    with sqlite3.connect(location) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    return version


def test_a_manifest_from_before_recipes_upgrades_and_its_done_pages_stay_done(
        location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "scans" / KEY
    folder.mkdir(parents=True)
    page = Path(shutil.copy(PAGE, folder / "page.tif"))
    outputs = LocalStore(tmp_path / "ocr" / KEY)
    text_key, facts_key = output_keys(output_name_for("page.tif"))
    write_text(outputs, text_key, "the text read before the upgrade")
    write_json(outputs, facts_key, {"page": "page.tif"})
    old = (old_postgres_manifest(location) if location.startswith("postgresql://")
           else old_sqlite_manifest(Path(location)))
    old("INSERT INTO pages (partition_key, page_id, status, fingerprint, size, mtime_ns, "
        "attempts, ms, output_name, engine, updated_at) VALUES (?, ?, 'done', ?, ?, ?, 1, 900, "
        "?, 'pytesseract', 1.0)",
        (KEY, "page.tif", "sha256:old", page.stat().st_size, page.stat().st_mtime_ns,
         output_name_for("page.tif")))

    manifest = open_manifest(location)
    newest = len(MIGRATIONS) if location.startswith("postgresql://") else len(SQLITE_MIGRATIONS)
    assert schema_version(location) == newest
    row = manifest.pages(KEY)["page.tif"]
    assert (row.status, row.recipe, row.attempts) == (DONE, None, 1)

    settings = OcrSettings(workers=1)
    scan_folder = ScanFolder(Project(ProjectConfig(data_root=str(tmp_path)), manifest), KEY, KEY,
                             folder)
    report = process_folder(scan_folder, settings=settings)
    assert (report.processed, report.skipped, report.done) == (0, 1, 1)
    assert read_text(outputs, text_key) == "the text read before the upgrade"
    adopted = manifest.pages(KEY)["page.tif"]
    assert adopted.recipe == settings.recipe_key(), "it counts as read with the recipe in force"
    assert (adopted.status, adopted.attempts, adopted.updated_at) == (DONE, 1, 1.0)
    manifest.close()

    again = open_manifest(location)  # a restart migrates nothing more and keeps the rows
    assert schema_version(location) == newest
    # From now on a change of recipe is seen on the upgraded rows too, from the row alone.
    (folder / "folder.toml").write_text('lang = "deu"\n', encoding="utf-8")

    def no_reading(path: Path) -> str:
        raise AssertionError(f"{path} was read to decide")

    monkeypatch.setattr("ocr_assets.engine.folder.batch.file_fingerprint", no_reading)
    scan_folder = ScanFolder(Project(ProjectConfig(data_root=str(tmp_path)), again), KEY, KEY,
                             folder)
    plan = plan_folder(scan_folder, scan_folder.settings(settings))
    assert [p.page_id for p in plan.todo] == ["page.tif"]
    again.close()


def test_a_manifest_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    open_manifest(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(RuntimeError, match="schema version 99, newer than this ocr-assets"):
        open_manifest(path)


UPGRADER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ocr_assets.engine.manifest import open_manifest
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    db = open_manifest(sys.argv[1])
    print(db.pages("box")["a.tif"].status)
""")


def test_processes_opening_an_old_sqlite_manifest_at_once_upgrade_it_once(
        tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    old_sqlite_manifest(path)("INSERT INTO pages (partition_key, page_id, status) "
                              "VALUES (?, ?, 'done')", ("box", "a.tif"))
    go = tmp_path / "go"
    openers = [subprocess.Popen([sys.executable, "-c", UPGRADER, str(path), str(go)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    go.touch()
    for opener in openers:
        stdout, stderr = opener.communicate(timeout=120)
        assert opener.returncode == 0, stderr
        assert stdout.strip() == DONE
    assert schema_version(str(path)) == len(SQLITE_MIGRATIONS)
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(pages)")]
    db.close()
    assert columns.count("recipe") == 1

