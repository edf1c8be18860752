"""Ground truth added after a folder was done: the planning says the folder needs its accuracy
report, and the next run writes it without OCRing any page again. Beside the pages, and under
a parallel ground-truth root (whose files do not change the folder's own signature)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from PIL import Image

from ocr_assets.engine.folder.planning import (
    RUN_NEEDS,
    SENSOR_NEEDS,
    Need,
    RunState,
    folders_to_run,
)
from ocr_assets.engine.project import Project
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import PAGE_TEXTS
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import run_folders, scan_folder_sensor


def tick(instance: dg.DagsterInstance, ocr: OcrConfig, cursor: str | None
         ) -> tuple[list[str], str | None]:
    """One evaluation of the folder sensor: the run keys it requests, and its cursor."""
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"ocr": ocr}) as context:
        result = scan_folder_sensor(context)
    if not isinstance(result, dg.SensorResult):
        return [], cursor
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name,
                                        list(request.partition_keys or []))
    return [r.run_key for r in result.run_requests or []], result.cursor


def needs(instance: dg.DagsterInstance, project: Project, wanted: frozenset[Need]
          ) -> dict[str, Need]:
    materialized = frozenset(instance.get_materialized_partitions(PAGE_TEXTS))
    return {key: need.need for key, need in folders_to_run(
        project, project.scan().folders, RunState(materialized), wanted).items()}


@pytest.mark.parametrize("where", ["beside", "root"])
def test_ground_truth_added_later_gets_its_report_at_the_next_run_without_ocr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    log = tmp_path / "ocr.log"
    monkeypatch.setenv("OCR_ASSETS_FAULT_LOG", str(log))
    folder = tmp_path / "scans" / "box"
    folder.mkdir(parents=True)
    page = folder / "p1.png"
    Image.new("L", (60, 40), 200).save(page)
    gt_root = tmp_path / "truth"
    ocr = OcrConfig(scans_root=str(tmp_path / "scans"), data_root=str(tmp_path / "data"),
                    ground_truth_root=str(gt_root), engine=fault(), workers=1,
                    auto_rotate=False)
    report = tmp_path / "data" / "reports" / "box" / "accuracy.csv"
    with dg.instance_for_test() as instance:
        project = ocr.project()
        [first_key], cursor = tick(instance, ocr, None)
        assert run_folders(instance, ocr, "box").success
        assert not report.exists()
        assert needs(instance, project, RUN_NEEDS) == {}

        gt_dir = folder if where == "beside" else gt_root / "box"
        gt_dir.mkdir(parents=True, exist_ok=True)
        (gt_dir / "p1.gt.txt").write_text(fake_text(page.read_bytes()), encoding="utf-8")
        assert needs(instance, project, SENSOR_NEEDS) == {"box": Need.GROUND_TRUTH}
        assert needs(instance, project, RUN_NEEDS) == {"box": Need.GROUND_TRUTH}
        [truth_key], cursor = tick(instance, ocr, cursor)
        assert truth_key != first_key and ":gt" in truth_key, \
            "a new run key, also when the folder's own files did not change (root)"

        assert run_folders(instance, ocr, "box").success
        assert "p1.png,0.0," in report.read_text(), "the page's CER against its truth: 0"
        assert len(log.read_text().splitlines()) == 1, "the page was OCRed once"
        assert project.manifest.page("box", "p1.png").attempts == 1
        assert needs(instance, project, RUN_NEEDS) == {}, "the report read this ground truth"
        assert tick(instance, ocr, cursor)[0] == []

        (gt_dir / "p1.gt.txt").write_text("another truth", encoding="utf-8")
        assert needs(instance, project, SENSOR_NEEDS) == {"box": Need.GROUND_TRUTH}
        project.close()
