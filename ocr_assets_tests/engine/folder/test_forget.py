"""Forgetting a folder removes its manifest rows, outputs and reports, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocr_assets.engine.corpus.build import build_corpus
from ocr_assets.engine.folder.forget import forget_folder_data
from ocr_assets_tests.helpers import FIXTURES, new_run


def test_forget_removes_rows_outputs_and_reports_and_the_corpus_drops_the_pages(
        tmp_path: Path) -> None:
    keep = new_run(tmp_path, "keep")
    keep.key = "keep"
    shutil.copy(FIXTURES / "pages" / "phototest.tif", keep.folder / "p.tif")
    keep.process()
    gone = new_run(tmp_path, "gone")
    gone.key = "gone"
    gone.manifest = keep.manifest
    shutil.copy(FIXTURES / "pages" / "phototest.tif", gone.folder / "p.tif")
    gone.process()
    for run in (keep, gone):
        run.manifest.register_folder(run.key, run.key, run.key.encode())
        (tmp_path / "reports" / run.key).mkdir(parents=True)
        (tmp_path / "reports" / run.key / "failed_pages.csv").write_text("page\n")
    project = keep.project
    assert build_corpus(project).rows == 2

    forgotten = forget_folder_data(project, "gone")

    assert (forgotten.pages, forgotten.files) == (1, 3)  # .txt, .json, report
    assert keep.manifest.folder("gone") is None and keep.manifest.pages("gone") == {}
    assert not (tmp_path / "ocr" / "gone").exists()
    assert not (tmp_path / "reports" / "gone").exists()
    assert (gone.folder / "p.tif").is_file(), "the scans are never touched"
    assert (tmp_path / "ocr" / "keep" / "p.tif.txt").is_file()
    assert build_corpus(project).rows == 1


@pytest.mark.parametrize("key", ["..", "../outside", "a/b", "", ".hidden"])
def test_forget_refuses_what_is_not_a_partition_key(tmp_path: Path, key: str) -> None:
    run = new_run(tmp_path)
    (tmp_path / "outside").mkdir()
    with pytest.raises(ValueError, match="not a partition key"):
        forget_folder_data(run.project, key)
    assert (tmp_path / "outside").is_dir()
