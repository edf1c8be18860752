"""The definitions as a deployment loads them (`ocr_assets.definitions`, the `defs/` folder
through `dg.load_from_defs_folder`), and as `dg` sees them from a clean checkout: the asset
graph, its checks, partitions, jobs, sensors and schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from ocr_assets.definitions import load_definitions
from ocr_assets.engine.corpus.schema import CORPUS_COLUMNS
from ocr_assets.engine.folder.reports import REPORT_COLUMNS
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.orchestration.run_state import FAILED_PAGES, PAGE_TEXTS
from ocr_assets_tests.helpers import REPO
from ocr_assets_tests.project_defs import ocr_scan_folders

DG = Path(sys.executable).parent / "dg"
"""The project's own `dg` (dagster-dg-cli, in the test extra)."""


@pytest.fixture(scope="module")
def repo() -> dg.RepositoryDefinition:
    return load_definitions().get_repository_def()


def test_the_asset_graph_has_its_assets_dependencies_and_partitions(
        repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {"scan_folders", "page_texts", "failed_pages", "page_accuracy",
                    "searchable_pdf", "ocr_corpus"}
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
               for key in graph.get_all_asset_keys()}
    assert parents == {"scan_folders": set(), "page_texts": {"scan_folders"},
                       "failed_pages": {"page_texts"}, "page_accuracy": {"page_texts"},
                       "searchable_pdf": {"page_texts"}, "ocr_corpus": {"page_texts"}}
    scans = graph.get(dg.AssetKey("scan_folders"))
    assert scans.is_observable and not scans.is_materializable
    assert graph.get(dg.AssetKey("page_texts")).code_version == OcrSettings().recipe_key()
    for name in ("scan_folders", "page_texts", "failed_pages", "page_accuracy", "searchable_pdf"):
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition), name
        assert partitions.name == "scan_folders"
    assert graph.get(dg.AssetKey("ocr_corpus")).partitions_def is None
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"scan_folders": "ocr", "page_texts": "ocr", "failed_pages": "ocr",
                      "page_accuracy": "quality", "searchable_pdf": "ocr",
                      "ocr_corpus": "corpus"}
    for name in ("page_texts", "failed_pages", "page_accuracy", "searchable_pdf"):
        assert graph.get(dg.AssetKey(name)).pools == {"tesseract"}, \
            "one step OCRs the folders and writes their reports: it claims the OCR pool"
    # The command line and the sensor name the folder assets without loading the definitions.
    assert set(ocr_scan_folders.keys) == {PAGE_TEXTS, FAILED_PAGES, dg.AssetKey("page_accuracy"),
                                          dg.AssetKey("searchable_pdf")}
    assert ocr_scan_folders.can_subset
    assert ocr_scan_folders.backfill_policy == dg.BackfillPolicy.multi_run(200), \
        "a backfill runs its folders 200 to a run (OCR_ASSETS_FOLDERS_PER_RUN)"
    assert dg.AssetKey("failed_pages") == FAILED_PAGES


def test_every_asset_has_its_owners_tags_kinds_description_and_code_reference(
        repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    for key in graph.get_all_asset_keys():
        node, name = graph.get(key), key.to_user_string()
        assert node.owners == ["team:digitisation"], name
        assert node.tags["domain"] == "ocr" and node.tags["layer"], name
        assert node.description, name
        references = node.metadata["dagster/code_references"].code_references
        assert any(ref.file_path.endswith(".py") for ref in references), name
        if name != "scan_folders":
            assert any(tag.startswith("dagster/kind/") for tag in node.tags), name
    schemas = {name: graph.get(dg.AssetKey(name)).metadata["dagster/column_schema"]
               for name in ("ocr_corpus", "failed_pages")}
    assert [c.name for c in schemas["ocr_corpus"].columns] == list(CORPUS_COLUMNS)
    assert [c.name for c in schemas["failed_pages"].columns] == list(REPORT_COLUMNS)
    assert all(c.description for schema in schemas.values() for c in schema.columns)
    for check in repo.asset_graph.asset_check_keys:
        assert repo.asset_graph.get_check_spec(check).description, check.name


def test_every_check_is_on_its_asset_with_its_severity(repo: dg.RepositoryDefinition) -> None:
    checks = {(key.asset_key.to_user_string(), key.name)
              for key in repo.asset_graph.asset_check_keys}
    assert checks == {("page_texts", "counts_invariant"), ("failed_pages", "failure_share"),
                      ("page_texts", "empty_pages"), ("page_texts", "garbage_pages"),
                      ("page_texts", "no_failed_pages"), ("page_texts", "partial_pages"),
                      ("page_texts", "duplicate_pages"),
                      ("page_accuracy", "cer_within_limit"), ("ocr_corpus", "corpus_complete"),
                      ("searchable_pdf", "searchable_pdf_complete")}
    blocking = {key.name for key in repo.asset_graph.asset_check_keys
                if repo.asset_graph.get_check_spec(key).blocking}
    assert blocking == {"counts_invariant", "failure_share", "corpus_complete",
                        "searchable_pdf_complete"}


def test_jobs_sensors_and_schedules(repo: dg.RepositoryDefinition) -> None:
    jobs = {job.name: job for job in repo.get_all_jobs()}
    assert {"ocr_folder_job", "retry_failed_pages_job", "corpus_job"} <= set(jobs)
    folder_job = jobs["ocr_folder_job"]
    assert {key.to_user_string() for key in folder_job.asset_layer.executable_asset_keys} == {
        "page_texts", "failed_pages", "page_accuracy", "searchable_pdf"}
    assert [node.name for node in folder_job.graph.nodes] == ["ocr_scan_folders"], \
        "one step a run: it observes, OCRs, reports and checks every folder of the run"
    retry_job = jobs["retry_failed_pages_job"]
    assert {key.to_user_string() for key in retry_job.asset_layer.executable_asset_keys} == {
        "page_texts", "failed_pages", "page_accuracy", "searchable_pdf"}
    assert retry_job.tags["ocr_assets/pages"] == "failed"
    assert jobs["corpus_job"].tags == {"ocr_assets/job": "corpus"}
    sensors = {sensor.name: sensor for sensor in repo.sensor_defs}
    assert set(sensors) == {"scan_folder_sensor", "corpus_sensor", "alert_sensor"}
    assert sensors["scan_folder_sensor"].job_name == "ocr_folder_job"
    assert sensors["corpus_sensor"].job_name == "corpus_job"
    assert sensors["scan_folder_sensor"].minimum_interval_seconds == 30
    assert not sensors["alert_sensor"].targets, "it sends alerts, it requests no run"
    assert sensors["alert_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    [schedule] = repo.schedule_defs
    assert (schedule.name, schedule.job_name, schedule.cron_schedule) == (
        "nightly_ingestion", "ocr_folder_job", "0 2 * * *")
    assert set(repo.get_top_level_resources()) == {"ocr", "shard_io_manager"}
    assert jobs["ocr_sharded_job"].executor_def is dg.in_process_executor, \
        "without a broker the sharded job runs in the run's process"


def test_the_corpus_has_a_freshness_policy_of_a_day(repo: dg.RepositoryDefinition) -> None:
    """Dagster's freshness daemon evaluates it and the UI shows it on the corpus."""
    policy = repo.asset_graph.get(dg.AssetKey("ocr_corpus")).freshness_policy
    assert policy == dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=24))
    assert all(repo.asset_graph.get(key).freshness_policy is None
               for key in repo.asset_graph.get_all_asset_keys()
               if key != dg.AssetKey("ocr_corpus")), "the folders are run on change, not by age"


def test_the_deployment_environment_reaches_the_definitions_when_they_load(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Read when the definitions load, never at import: the same modules give other values."""
    monkeypatch.setenv("OCR_ASSETS_SENSOR_INTERVAL_S", "5")
    monkeypatch.setenv("OCR_ASSETS_NIGHTLY_CRON", "30 3 * * *")
    monkeypatch.setenv("OCR_ASSETS_STEP_RETRIES", "4")
    monkeypatch.setenv("OCR_ASSETS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("OCR_ASSETS_LANG", "deu")
    monkeypatch.setenv("OCR_ASSETS_FOLDERS_PER_RUN", "7")
    monkeypatch.setenv("OCR_ASSETS_CORPUS_FRESHNESS_H", "6")
    monkeypatch.setenv("OCR_ASSETS_ALERT_INTERVAL_S", "90")
    monkeypatch.setenv("OCR_ASSETS_FOLDER_SENSOR", "false")
    definitions = load_definitions()
    recipe = definitions.get_assets_def("page_texts").code_versions_by_key[PAGE_TEXTS]
    assert recipe == OcrSettings(lang="deu").recipe_key() != OcrSettings().recipe_key(), \
        "a new recipe is a new code version: every folder's text shows unsynced"
    repo = definitions.get_repository_def()
    sensors = {sensor.name: sensor for sensor in repo.sensor_defs}
    assert sensors["scan_folder_sensor"].minimum_interval_seconds == 5
    assert sensors["alert_sensor"].minimum_interval_seconds == 90
    assert repo.asset_graph.get(dg.AssetKey("ocr_corpus")).freshness_policy == \
        dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=6))
    assert sensors["scan_folder_sensor"].default_status == dg.DefaultSensorStatus.STOPPED, \
        "the nightly-only mode"
    assert sensors["corpus_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    assert repo.schedule_defs[0].default_status == dg.DefaultScheduleStatus.RUNNING
    assert repo.schedule_defs[0].cron_schedule == "30 3 * * *"
    policy = definitions.get_assets_def("page_texts").op.retry_policy
    assert policy is not None and policy.max_retries == 4
    assert definitions.get_assets_def("page_texts").backfill_policy == \
        dg.BackfillPolicy.multi_run(7)
    ocr = definitions.resources["ocr"]
    assert (ocr.data_root, ocr.scans_root, ocr.lang) == (
        str(tmp_path / "data"), str(tmp_path / "data" / "scans"), "deu")


def test_dg_checks_and_lists_the_definitions_from_the_checkout() -> None:
    """`dg check defs` and `dg list defs`, as a user runs them in a clean checkout (no
    OCR_ASSETS_* variables, no DAGSTER_HOME)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OCR_ASSETS_") and k != "DAGSTER_HOME"}
    check = subprocess.run([str(DG), "check", "defs"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
    listing = subprocess.run([str(DG), "list", "defs", "--json"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
    assert listing.returncode == 0, listing.stderr
    for name in ("page_texts", "failed_pages", "page_accuracy", "ocr_corpus",
                 "scan_folder_sensor", "alert_sensor", "nightly_ingestion", "ocr_folder_job"):
        assert name in listing.stdout, name


def test_a_process_that_loads_the_definitions_allocates_arrow_buffers_from_the_system() -> None:
    """Arrow's default pool (mimalloc) keeps what it freed: a process that runs thousands of
    folders takes the system allocator instead (`orchestration/allocators.py`). In a fresh
    process, so that what this one loaded earlier does not decide it."""
    probe = ("import pyarrow as pa; before = pa.default_memory_pool().backend_name; "
             "from ocr_assets.definitions import load_definitions; load_definitions(); "
             "print(before, pa.default_memory_pool().backend_name)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True)
    before, after = result.stdout.split()
    assert before != "system" and after == "system"
