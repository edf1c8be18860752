"""`scripts/ui.sh` on the sample data, as a new user starts it: the sensor, on by default,
turns every folder of `data/scans` into a partition and OCRs it through the daemon.

A few minutes on two cores (one queued run per folder), so it is opt-in:
`OCR_ASSETS_SLOW_TESTS=1 scripts/test.sh ocr_assets_tests/e2e/test_ui_sample_data.py`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ocr_assets.engine.registry import list_scan_folders
from ocr_assets_tests.e2e.dagster_ui import poll, running_ui

SAMPLE_SCANS = Path(__file__).resolve().parents[2] / "data" / "scans"
FOLDER_RUNS = """
{ runsOrError(filter: {pipelineName: "ocr_folder_job"}) {
    ... on Runs { results { status tags { key value } } } } }"""


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("OCR_ASSETS_SLOW_TESTS") != "1",
                    reason="a few minutes on two cores: set OCR_ASSETS_SLOW_TESTS=1 to run it")
def test_the_sensor_of_the_ui_command_ocrs_every_sample_folder(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    shutil.copytree(SAMPLE_SCANS, scans)
    expected = set(list_scan_folders(scans).folders)
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    env.update(OCR_ASSETS_SCANS=str(scans), OCR_ASSETS_DATA=str(tmp_path / "data"))

    with running_ui(env, tmp_path / "ui.log") as server:
        def finished_runs() -> list[dict] | None:
            runs = server.graphql(FOLDER_RUNS)["runsOrError"]["results"]
            ended = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            return runs if len(runs) >= len(expected) and len(ended) == len(runs) else None

        runs = poll(finished_runs, "one finished sensor run per sample folder", timeout=900,
                    interval=3)

    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert {t["dagster/partition"] for t in tags} == expected
    assert {t["ocr_assets/trigger"] for t in tags} == {"sensor"}
    assert [r["status"] for r in runs] == ["SUCCESS"] * len(runs), server.log_tail()
