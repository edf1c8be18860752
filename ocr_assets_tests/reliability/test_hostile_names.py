"""Hostile folder and file names on a real disk, through registration, OCR, the checks, the
corpus and the CLI: spaces, commas, quotes, `..`, leading dashes, newlines, shell syntax,
non-UTF-8 bytes, both Unicode normalisations of one name, names near the 255-byte limit.

Every folder becomes its own partition with a safe key that leads back to exactly that folder,
every page is OCRed into one output file named safely inside the output root, and nothing is
written anywhere else: not beside the scans, not above the output root. Symlinks that point out
of the scans root are refused, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.build import build_corpus, read_corpus
from ocr_assets.engine.folder.discovery import discover_pages
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.folder.registry import list_scan_folders, register_folders
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import open_manifest
from ocr_assets.engine.naming import display_name, output_name_for, raw_bytes
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project, ScanFolder
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault

CAFE_NFC = unicodedata.normalize("NFC", "Café")
CAFE_NFD = unicodedata.normalize("NFD", "Café")
HOSTILE_FOLDERS = [
    "box 1", "box, 2", 'say "cheese"', "it's", "a..b", "-rf", "--help", "new\nline",
    os.fsdecode(b"latin1-caf\xe9"), CAFE_NFC, CAFE_NFD, "日本語の本", "$(touch pwned)",
    "; rm -rf ~", "*", "back\\slash", "tab\tand bell\x07", "f" * 250,
]
HOSTILE_FILES = [
    "page 1.png", "-n.png", "--version.png", "new\nline.png", os.fsdecode(b"caf\xe9.png"),
    "a..b.png", 'q"uote.png', "p" * 240 + ".png", unicodedata.normalize("NFC", "é.png"),
    unicodedata.normalize("NFD", "é.png"), "sub dir/inner, page.png",
]
ENGINE = fault()
FILES_FOLDER = "box, 2"
"""The folder that holds every hostile file name; the others hold three of them."""
OCRED_FOLDERS = [FILES_FOLDER, os.fsdecode(b"latin1-caf\xe9"), CAFE_NFD, "new\nline", "-rf",
                 "f" * 250]
"""Every folder is registered and checked; these are OCRed too (one worker pool each)."""


def files_of(folder: str) -> list[str]:
    return HOSTILE_FILES if folder == FILES_FOLDER else HOSTILE_FILES[:3]


def tree(root: Path) -> set[bytes]:
    """Every file and folder under `root`, as raw bytes (names need not be UTF-8)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, name), os.fsencode(root)))
    return found


@pytest.fixture
def hostile_scans(tmp_path: Path) -> Path:
    scans = tmp_path / "scans"
    for f_index, folder in enumerate(HOSTILE_FOLDERS):
        for p_index, name in enumerate(files_of(folder)):
            page = scans / folder / name
            page.parent.mkdir(parents=True, exist_ok=True)
            Image.new("L", (100 + f_index, 40 + p_index), 255).save(page, format="PNG")
        # Hidden on Unix, like `.DS_Store`: listed as ignored, never a page.
        Image.new("L", (90, 90), 255).save(scans / folder / "..png", format="PNG")
    return scans


def test_hostile_names_are_registered_ocred_and_stay_inside_the_output_root(
        tmp_path: Path, hostile_scans: Path) -> None:
    data = tmp_path / "data"
    scans_before = tree(hostile_scans)
    project = Project(ProjectConfig(data_root=str(data), scans_root=str(hostile_scans),
                                    engine=ENGINE, workers=1))
    manifest = project.manifest

    scan = project.scan()
    project.register(scan)

    assert scan.problems == {}
    assert sorted(map(raw_bytes, scan.folders.values())) == sorted(map(raw_bytes,
                                                                       HOSTILE_FOLDERS))
    assert len(set(scan.folders)) == len(HOSTILE_FOLDERS)  # NFC and NFD stay two folders
    for key, name in scan.folders.items():
        folder = project.folder(key).path
        assert raw_bytes(str(folder)) == raw_bytes(str(hostile_scans / name))
    expected_outputs = set()
    ocred = {key: name for key, name in scan.folders.items() if name in OCRED_FOLDERS}
    for key, name in ocred.items():
        folder = project.folder(key).path
        report = process_folder(project.folder(key))
        pages = len(files_of(name))
        assert (report.pages, report.done, report.failed) == (pages, pages, 0), (
            name, report.failures[:1])
        assert report.ignored == ["..png"]
        sources = {p.page_id: p.path for p in discover_pages(folder).pages}
        for page_id, row in manifest.pages(key).items():
            assert row.output_name == output_name_for(page_id)
            text_key, facts_key = output_keys(row.output_name)
            text = (data / "ocr" / key / text_key).read_text(encoding="utf-8")
            assert text == fake_text(sources[page_id].read_bytes()), (name, page_id)
            facts = json.loads((data / "ocr" / key / facts_key).read_text(encoding="utf-8"))
            assert facts["partition"] == key
            expected_outputs |= {os.fsencode(f"ocr/{key}/{text_key}"),
                                 os.fsencode(f"ocr/{key}/{facts_key}")}
        counts = check_counts(project.folder(key))
        assert counts.passed, (name, counts.problems())
    summary = build_corpus(project)

    assert tree(hostile_scans) == scans_before, "the scans were modified"
    written = {p for p in tree(data) if not p.startswith((b"manifest.sqlite", b"corpus"))}
    folders = {b"ocr"} | {os.fsencode(f"ocr/{key}") for key in ocred}
    assert written - folders == expected_outputs, "a file was written outside its place"
    assert {p for p in tree(tmp_path) if not p.startswith((b"scans", b"data"))} == set()
    corpus = read_corpus(project.corpus_store)
    assert summary.rows == len(corpus) == sum(len(files_of(f)) for f in OCRED_FOLDERS)
    assert set(corpus["folder"]) == {display_name(name) for name in OCRED_FOLDERS}


def test_hostile_partition_keys_are_accepted_by_dagster(hostile_scans: Path) -> None:
    keys = sorted(list_scan_folders(hostile_scans).folders)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("scan_folders", keys)
        assert sorted(instance.get_dynamic_partitions("scan_folders")) == keys


def test_status_prints_hostile_folder_names_as_valid_json(tmp_path: Path,
                                                         hostile_scans: Path) -> None:
    data = tmp_path / "data"
    manifest = open_manifest(data / "manifest.sqlite")
    register_folders(manifest, list_scan_folders(hostile_scans))
    manifest.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_ASSETS_")}

    result = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "status", "--json",
                             "--data", str(data)], capture_output=True, text=True, env=env,
                            check=False, timeout=120)

    assert result.returncode == 0, result.stderr
    folders = [f["folder"] for f in json.loads(result.stdout)["folders"]]
    assert "latin1-caf\\xe9" in folders  # invalid UTF-8 shown as escapes, never a crash
    assert "new\nline" in folders and CAFE_NFC in folders and CAFE_NFD in folders


def test_symlinks_out_of_the_scans_root_are_refused_and_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("L", (50, 50), 255).save(outside / "secret.png")
    scans = tmp_path / "scans"
    box = scans / "box"
    box.mkdir(parents=True)
    Image.new("L", (60, 50), 255).save(box / "real.png")
    (box / "stolen.png").symlink_to(outside / "secret.png")
    (box / "escape").symlink_to(outside, target_is_directory=True)
    (box / "dotdot.png").symlink_to("../../outside/secret.png")
    (scans / "linked-box").symlink_to(outside, target_is_directory=True)
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("OCR_ASSETS_FAULT_LOG", str(log))

    project = Project(ProjectConfig(data_root=str(tmp_path), scans_root=str(scans),
                                    engine=ENGINE, workers=1))
    scan = project.scan()
    report = process_folder(ScanFolder(project, "box", "box", box))

    assert list(scan.folders) == ["box"]
    assert "symlinked folders are not scanned" in scan.problems["linked-box"]
    assert (report.pages, report.done) == (1, 1)
    assert "outside the scans root" in report.refused["stolen.png"]
    assert "outside the scans root" in report.refused["dotdot.png"]
    assert "not followed" in report.refused["escape"]
    assert [Path(line.split("\t")[1]).name for line in log.read_text().splitlines()] == [
        "real.png"]
