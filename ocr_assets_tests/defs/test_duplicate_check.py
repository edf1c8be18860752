"""The `duplicate_pages` warning: a folder's run names its pages that are the same scan as
another page, with that page and whether the text was taken from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
from PIL import Image

from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import register_and_add_partitions
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import check_results, materialization, run_folders


def test_a_folders_run_warns_about_its_duplicate_pages_and_counts_the_reused(
        tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    for folder in ("box-a", "box-b"):
        (scans / folder).mkdir(parents=True)
    Image.new("L", (60, 40), 200).save(scans / "box-a" / "p.png")
    Image.new("L", (60, 40), 90).save(scans / "box-a" / "own.png")
    shutil.copy(scans / "box-a" / "p.png", scans / "box-b" / "copy.png")
    ocr = OcrConfig(scans_root=str(scans), data_root=str(tmp_path / "data"), engine=fault(),
                    workers=1, auto_rotate=False)
    with dg.instance_for_test() as instance:
        register_and_add_partitions(instance, ocr.project())
        first = run_folders(instance, ocr, "box-a")
        assert check_results(instance, first.run_id, "box-a")["duplicate_pages"].passed
        second = run_folders(instance, ocr, "box-b")

        check = check_results(instance, second.run_id, "box-b")["duplicate_pages"]
        assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
        assert check.metadata["pages"].value == [
            {"page": "copy.png", "same_as": ["box-a/p.png"], "reused_from": "box-a/p.png"}]
        assert "copy.png = box-a/p.png" in (check.description or "")
        metadata = materialization(instance, second.run_id, "page_texts", "box-b").metadata
        assert (metadata["reused"].value, metadata["processed"].value) == (1, 0)
        ocr.project().close()
