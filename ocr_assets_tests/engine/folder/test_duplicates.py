"""Duplicate scans: the same scan in two folders, or twice in one, is OCRed once; the other
pages take its reading and say so, unless the folder turns it off or reads with another
recipe. OCR attempts are counted from the fault engine's log (`OCR_ASSETS_FAULT_LOG`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.cli.reading import folder_statuses
from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.run import FolderRun, ocr_folders
from ocr_assets.engine.manifest import DONE, RUNNING, PageOutcome, open_manifest
from ocr_assets.engine.manifest.base import SQLITE_MIGRATIONS, content_key
from ocr_assets.engine.project import Project
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import FIXTURES

SETTINGS = OcrSettings(engine=fault(), workers=2, auto_rotate=False)


@pytest.fixture
def ocr_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fault engine's log of every OCR attempt (`<pid>\\t<image path>`)."""
    log = tmp_path / "ocr.log"
    monkeypatch.setenv("OCR_ASSETS_FAULT_LOG", str(log))
    return log


def ocred(log: Path) -> list[str]:
    """The files OCRed so far, as `<folder>/<file>`."""
    if not log.exists():
        return []
    return sorted("/".join(Path(line.split("\t")[1]).parts[-2:])
                  for line in log.read_text().splitlines())


def project_with(tmp_path: Path, pages: dict[str, int]) -> Project:
    """A project whose scans are `{"<folder>/<file>": grey level}`: equal levels, equal scans."""
    for name, level in pages.items():
        path = tmp_path / "scans" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (60, 40), level).save(path)
    project = Project(ProjectConfig(data_root=str(tmp_path)))
    project.register(project.scan())
    return project


def run(project: Project, *keys: str, settings: OcrSettings = SETTINGS) -> dict[str, FolderRun]:
    runs: dict[str, FolderRun] = {}
    ocr_folders([project.folder(key) for key in keys], settings,
                on_folder=lambda r: runs.__setitem__(r.folder.key, r))
    return runs


def test_a_scan_in_a_second_folder_takes_the_first_ones_reading(tmp_path: Path,
                                                                  ocr_log: Path) -> None:
    project = project_with(tmp_path, {"a/p.png": 200, "b/copy.png": 200, "b/own.png": 90})
    run(project, "a")
    later = run(project, "b")["b"]

    assert ocred(ocr_log) == ["a/p.png", "b/own.png"], "the copy was not OCRed"
    assert (later.report.processed, later.report.reused, later.report.done) == (1, 1, 2)
    manifest = project.manifest
    source, copy = manifest.page("a", "p.png"), manifest.page("b", "copy.png")
    assert source is not None and copy is not None
    assert (copy.status, copy.reused_from, source.reused_from) == (DONE, "a/p.png", None)
    assert copy.content_key == source.content_key == source.fingerprint
    assert (copy.words, copy.mean_confidence, copy.recipe) == (
        source.words, source.mean_confidence, source.recipe)
    ocr = tmp_path / "ocr"
    assert (ocr / "b" / "copy.png.txt").read_text() == (ocr / "a" / "p.png.txt").read_text()
    facts = json.loads((ocr / "b" / "copy.png.json").read_text())
    assert (facts["folder"], facts["page"], facts["source"]) == ("b", "copy.png", "copy.png")
    assert facts["reused_from"] == {"partition": "a", "page": "p.png", "folder": "a"}
    assert manifest.duplicates() == {source.content_key: [("a", "p.png"), ("b", "copy.png")]}
    assert manifest.duplicates("a") == manifest.duplicates(), "a's page has its copy in b"


def test_a_copy_gets_the_searchable_pdf_its_folder_asks_for(tmp_path: Path,
                                                          ocr_log: Path) -> None:
    """The folder's PDF is merged from its pages' PDFs: a page that took another's reading
    takes its page PDF too, and the folder's PDF holds every done page."""
    from ocr_assets.engine.folder.searchable_pdf import build_folder_pdf, verify_folder_pdf

    project = project_with(tmp_path, {"a/p.png": 200, "b/copy.png": 200})
    settings = OcrSettings(workers=2, auto_rotate=False, searchable_pdf=True)
    run(project, "a", settings=settings)
    later = run(project, "b", settings=settings)["b"]

    assert later.report.reused == 1
    ocr = tmp_path / "ocr"
    assert (ocr / "b" / "copy.png.pdf").read_bytes() == (ocr / "a" / "p.png.pdf").read_bytes()
    folder = project.folder("b")
    built = build_folder_pdf(folder, pdfa=False)
    assert built is not None and built.pages == 1
    assert verify_folder_pdf(folder).pages_in_pdf == 1


def test_the_same_scan_twice_in_one_run_is_ocred_once(tmp_path: Path, ocr_log: Path) -> None:
    """The copy is claimed while its twin is in flight in the same run: it waits for it."""
    project = project_with(tmp_path, {"a/p1.png": 200, "a/p2.png": 200, "b/p.png": 200,
                                      "b/q.png": 30})
    runs = run(project, "a", "b")

    assert len([page for page in ocred(ocr_log) if page != "b/q.png"]) == 1
    assert sum(r.report.reused for r in runs.values()) == 2
    rows = {**project.manifest.pages("a"), **project.manifest.pages("b")}
    assert all(row.status == DONE for row in rows.values())
    assert sorted(row.reused_from is None for row in rows.values()) == [False, False, True, True]


def test_a_folder_can_turn_the_reuse_off(tmp_path: Path, ocr_log: Path) -> None:
    project = project_with(tmp_path, {"a/p.png": 200, "b/p.png": 200})
    (tmp_path / "scans" / "b" / "folder.toml").write_text("reuse_duplicates = false\n")
    run(project, "a")
    run(project, "b")

    assert ocred(ocr_log) == ["a/p.png", "b/p.png"]
    assert project.manifest.page("b", "p.png").reused_from is None
    assert list(project.manifest.duplicates()) == [project.manifest.page("a", "p.png")
                                                   .content_key], "still found as duplicates"


def test_only_a_reading_with_the_same_recipe_is_taken(tmp_path: Path, ocr_log: Path) -> None:
    project = project_with(tmp_path, {"a/p.png": 200, "b/p.png": 200})
    (tmp_path / "scans" / "b" / "folder.toml").write_text("psm = 6\n")
    run(project, "a")
    run(project, "b")
    assert ocred(ocr_log) == ["a/p.png", "b/p.png"]
    assert project.manifest.page("b", "p.png").reused_from is None


def test_a_source_in_flight_elsewhere_or_without_its_files_is_not_waited_for(
        tmp_path: Path, ocr_log: Path) -> None:
    """Another run holds the source (its row `running`), then its text is gone: OCR as usual,
    without waiting for the other run's lease."""
    project = project_with(tmp_path, {"a/p.png": 200, "b/p.png": 200, "c/p.png": 200})
    run(project, "a")
    assert project.manifest.claim("a", "p.png", "another-run", lease_s=3600)
    run(project, "b")
    assert project.manifest.page("b", "p.png").reused_from is None

    project.manifest.release_owners("a", ["another-run"])
    (tmp_path / "ocr" / "b" / "p.png.txt").unlink()  # b's reading is the only done one left
    assert project.manifest.page("a", "p.png").status != RUNNING
    run(project, "c")
    assert ocred(ocr_log) == ["a/p.png", "b/p.png", "c/p.png"]


def test_pages_of_a_multi_page_file_are_duplicates_only_of_the_same_page(
        tmp_path: Path, ocr_log: Path) -> None:
    """Every frame shares the file's fingerprint; the content key adds the page's number."""
    for folder in ("a", "b"):
        (tmp_path / "scans" / folder).mkdir(parents=True)
        shutil.copy(FIXTURES / "odd" / "multipage.tiff", tmp_path / "scans" / folder / "m.tiff")
    project = Project(ProjectConfig(data_root=str(tmp_path)))
    project.register(project.scan())
    run(project, "a")
    frames = project.manifest.pages("a")
    assert len(frames) > 1 and len({row.content_key for row in frames.values()}) == len(frames)
    assert not project.manifest.duplicates()

    later = run(project, "b")["b"]
    assert (later.report.processed, later.report.reused) == (0, len(frames))
    assert all(len(pages) == 2 for pages in project.manifest.duplicates().values())
    assert len(project.manifest.duplicates()) == len(frames)


def test_content_keys_of_rows_written_before_are_filled_in_by_the_upgrade(
        tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    manifest = open_manifest(path)
    manifest.sync_pages("a", ["p.png", "m.tiff#2", "odd#name.png", "pending.png"])
    for page in ("p.png", "m.tiff#2", "odd#name.png"):
        manifest.record("a", page, PageOutcome(DONE, "sha256:f", 1, 1, 1))
    with manifest._tx() as db:  # back to the schema before content keys
        db.execute("UPDATE pages SET content_key = NULL")
        for column in ("content_key", "reused_from"):
            db.execute("DROP INDEX IF EXISTS pages_content")
            db.execute(f"ALTER TABLE pages DROP COLUMN {column}")
        db.execute("ALTER TABLE folder_listings DROP COLUMN ground_truth")
        db.execute(f"PRAGMA user_version = {len(SQLITE_MIGRATIONS) - 1}")
    manifest.close()

    upgraded = open_manifest(path)
    keys = {page: row.content_key for page, row in upgraded.pages("a").items()}
    assert keys == {page: content_key(None if page == "pending.png" else "sha256:f", page)
                    for page in keys}
    assert keys["m.tiff#2"] == "sha256:f#2" and keys["odd#name.png"] == "sha256:f"
    upgraded.close()


def test_status_lists_every_scan_found_on_more_than_one_page(tmp_path: Path) -> None:
    project = Project(ProjectConfig(data_root=str(tmp_path)))
    manifest = project.manifest
    pages = {"box-1": ["a.png", "b.png", "m.pdf#1", "m.pdf#2"], "box, 2": ["a-again.png"],
             "box-3": ["m.pdf#1", "m.pdf#2", "pending.png"]}
    bytes_of = {"a.png": "sha256:a", "a-again.png": "sha256:a", "b.png": "sha256:b",
                "m.pdf#1": "sha256:m", "m.pdf#2": "sha256:m"}
    for key, ids in pages.items():
        manifest.register_folder(key.replace(", ", "-"), key, key.encode())
        manifest.sync_pages(key.replace(", ", "-"), ids)
        for page in ids:
            if page in bytes_of:
                manifest.record(key.replace(", ", "-"), page,
                                PageOutcome(DONE, bytes_of[page], 1, 1, 1))

    document = folder_statuses(project)

    assert document["duplicates"] == [
        {"fingerprint": "sha256:a", "pages": [
            {"folder": "box-1", "partition": "box-1", "page": "a.png"},
            {"folder": "box, 2", "partition": "box-2", "page": "a-again.png"}]},
        {"fingerprint": "sha256:m#1", "pages": [
            {"folder": "box-1", "partition": "box-1", "page": "m.pdf#1"},
            {"folder": "box-3", "partition": "box-3", "page": "m.pdf#1"}]},
        {"fingerprint": "sha256:m#2", "pages": [
            {"folder": "box-1", "partition": "box-1", "page": "m.pdf#2"},
            {"folder": "box-3", "partition": "box-3", "page": "m.pdf#2"}]}]
    assert list(manifest.duplicates("box-3")) == ["sha256:m#1", "sha256:m#2"]
    project.close()
