"""Retries at run time, through real Dagster runs: the OCR step's `RetryPolicy` retries a step
that failed for a transient reason until it succeeds, and never a step that failed for a reason
a retry cannot help; the retry pass turns a page that failed while sideways upright and
recovers it. Faults come from the fault-injection engine, chosen by configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
from PIL import Image

from ocr_assets.engine.folder.registry import list_scan_folders, register_folders
from ocr_assets.engine.folder.retry import RECORD_NAME
from ocr_assets.engine.manifest import DONE, FAILED, open_manifest
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML, render_instance_yaml
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets_tests.defs.conftest import FIXTURE_PAGES, Project
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import importing_the_tests
from ocr_assets_tests.project_defs import check_results, materialization, run_folders

RETRY_EVENTS = (dg.DagsterEventType.STEP_UP_FOR_RETRY, dg.DagsterEventType.STEP_RESTARTED)
DAGSTER = Path(sys.executable).parent / "dagster"


def step_events(events: list[dg.DagsterEvent], kind: dg.DagsterEventType) -> list[str]:
    """The step keys of the events of one kind, in order."""
    return [e.step_key for e in events if e.event_type == kind]


def blank_pages(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(1, count + 1):
        Image.new("L", (200, 100), 255).save(folder / f"page_{n}.png")


def test_a_step_that_failed_to_start_its_engine_is_retried_and_then_succeeds(
        tmp_path: Path) -> None:
    """`dagster asset materialize`, as an operator runs it, with the engine refusing its first
    two starts (a transient OSError) and the retry delay configured down to 50 ms."""
    scans, data, home = tmp_path / "scans", tmp_path / "data", tmp_path / "dagster_home"
    blank_pages(scans / "box-001", 3)
    home.mkdir()
    (home / "dagster.yaml").write_bytes(
        render_instance_yaml(PROJECT_INSTANCE_YAML.read_text(), home))
    manifest = open_manifest(data / "manifest.sqlite")
    register_folders(manifest, list_scan_folders(scans))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("scan_folders", ["box-001"])
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    env.update(DAGSTER_HOME=str(home), OCR_ASSETS_SCANS=str(scans), OCR_ASSETS_DATA=str(data),
               OCR_ASSETS_ENGINE=fault("start-fail=2"), OCR_ASSETS_AUTO_ROTATE="0",
               OCR_ASSETS_WORKERS="1", OCR_ASSETS_STEP_RETRIES="2",
               OCR_ASSETS_STEP_RETRY_DELAY_S="0.05")

    done = subprocess.run([str(DAGSTER), "asset", "materialize", "-m", "ocr_assets.definitions",
                           "--select", "page_texts,failed_pages,page_accuracy",
                           "--partition", "box-001"],
                          env=importing_the_tests(env), capture_output=True, text=True,
                          timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    retries = [e for e in events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert [e.step_key for e in retries] == ["ocr_scan_folders", "ocr_scan_folders"]
    for retry in retries:
        cause = retry.event_specific_data.error.to_string()
        assert "BlockingIOError" in cause and "the fault engine did not start" in cause
        assert retry.event_specific_data.seconds_to_wait <= 3 * 0.05 + 0.05, \
            "the configured delay, not the default 10 s"
    assert step_events(events, dg.DagsterEventType.STEP_RESTARTED) == \
        ["ocr_scan_folders"] * 2, "three attempts: the first and two retries"
    assert step_events(events, dg.DagsterEventType.STEP_START) == ["ocr_scan_folders"]
    assert step_events(events, dg.DagsterEventType.STEP_SUCCESS) == ["ocr_scan_folders"]
    assert not step_events(events, dg.DagsterEventType.STEP_FAILURE)
    rows = manifest.pages("box-001")
    assert {(r.status, r.attempts) for r in rows.values()} == {(DONE, 1)}, \
        "every page done once: the failed starts touched no page"
    assert len(rows) == 3
    manifest.close()


def test_failures_a_retry_cannot_help_are_not_retried(project: Project) -> None:
    """Bad pages, a missing language and a failed blocking check: no retry, no waiting."""
    keys = project.register()
    broken = next(k for k in keys if k.startswith("box_2-"))  # one of its two pages is cut off

    def run(key: str, ocr: OcrConfig) -> dg.ExecuteInProcessResult:
        return run_folders(project.instance, ocr, key)

    bad_pages = run(broken, project.ocr)
    assert bad_pages.success, "a folder with bad pages is not a failure"
    assert project.ocr.project().manifest.status_counts(broken)[broken][FAILED] == 1

    missing_language = run("box-001", OcrConfig(scans_root=str(project.scans),
                                                data_root=str(project.data), lang="xyz"))
    assert not missing_language.success
    failures = [e for e in missing_language.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["ocr_scan_folders"]
    assert "traineddata for language 'xyz'" in failures[0].step_failure_data.error.message
    assert "box-001" in failures[0].step_failure_data.error.message

    strict = run(broken, OcrConfig(scans_root=str(project.scans), data_root=str(project.data),
                                   max_failed_share=0.1))
    assert not strict.success, "half the pages failed: the blocking failure_share check fails"
    verdict = check_results(project.instance, strict.run_id, broken)["failure_share"]
    assert not verdict.passed

    for result in (bad_pages, missing_language, strict):
        kinds = {e.event_type for e in result.all_events}
        assert not kinds.intersection(RETRY_EVENTS), result.run_id
        assert step_events(result.all_events, dg.DagsterEventType.STEP_START) == [
            "ocr_scan_folders"]


def test_a_sideways_page_that_failed_is_recovered_by_turning_it_upright(
        tmp_path: Path) -> None:
    """A shipped page turned by 90 degrees, with the default settings: the fault engine
    crashes Tesseract on it while it is sideways, so the first pass fails it before its reading
    could look doubtful enough to ask orientation detection. The retry pass re-decodes it
    (still sideways: still failing), then turns it upright by orientation detection (before
    reading, at half the confidence), and reads it."""
    scans, data = tmp_path / "scans", tmp_path / "data"
    (scans / "turned").mkdir(parents=True)
    with Image.open(FIXTURE_PAGES / "phototest.tif") as page:
        page.rotate(90, expand=True).save(scans / "turned" / "phototest_90.png",
                                          dpi=page.info["dpi"])
    ocr = OcrConfig(scans_root=str(scans), data_root=str(data), workers=1,
                    engine=fault("base=tesseract,sideways=*"))
    register_folders(ocr.project().manifest, list_scan_folders(scans))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("scan_folders", ["turned"])
        result = run_folders(instance, ocr, "turned")
        texts = materialization(instance, result.run_id, "page_texts", "turned").metadata
        report_metadata = materialization(instance, result.run_id, "failed_pages",
                                          "turned").metadata
    assert (texts["done"].value, texts["failed"].value, texts["recovered"].value) == (1, 0, 1), \
        "the first pass failed it, the retry pass of the same step recovered it"
    report = pd.read_csv(data / "reports" / "turned" / "failed_pages.csv")
    assert len(report) == 1
    row = report.iloc[0]
    assert (row["page"], row["status"], row["retry_outcome"], row["recovered_by"],
            row["first_category"]) == ("phototest_90.png", DONE, "recovered", "rotate_osd",
                                       "engine_error")
    tried = json.loads((data / "reports" / "turned" / RECORD_NAME).read_text())[
        "pages"]["phototest_90.png"]["tried"]
    assert [(t["strategy"], t["status"]) for t in tried] == [("redecode", FAILED),
                                                            ("rotate_osd", DONE)]
    assert "SIGSEGV" in tried[0]["message"]
    assert report_metadata["recovered"].value == 1
    facts = json.loads((data / "ocr" / "turned" / "phototest_90.png.json").read_text())
    assert facts["orientation"]["applied"] and facts["orientation"]["rotate"] == 90
    assert facts["orientation"]["checked_because"] == "every page", "rotate_osd's setting"
    assert "quick brown dog" in (data / "ocr" / "turned" / "phototest_90.png.txt").read_text()
    ocr.project().manifest.close()
