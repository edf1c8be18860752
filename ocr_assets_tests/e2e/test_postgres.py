"""The production configuration for real: `deploy/dagster.yaml` (dagster-postgres storage) and the
PostgreSQL manifest on the test server, each test in a database of its own, dropped afterwards.

1. `ocr-assets run` and `status` as a user runs them with the production instance: runs, check
   results and manifest rows land in PostgreSQL, no SQLite file is created.
2. Two folder runs at once, in two processes (as a run launcher starts them on two machines):
   their OCR steps overlap (from the event log in PostgreSQL), both succeed, their counts
   invariants pass, nothing is OCRed twice, and the corpus built afterwards holds exactly the
   done pages of both folders.

Skipped with the reason when no PostgreSQL server answers, unless OCR_ASSETS_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
from PIL import Image

from ocr_assets.engine.corpus.build import read_corpus
from ocr_assets.engine.manifest import open_manifest
from ocr_assets.engine.store.outputs import LocalStore
from ocr_assets.orchestration.concurrency import OCR_POOL
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import register_and_add_partitions
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import FIXTURES, importing_the_tests
from ocr_assets_tests.project_defs import corpus_complete, ocr_corpus, ocr_scan_folders

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_YAML = ROOT / "deploy" / "dagster.yaml"
FOLDERS = ("box-a", "box-b")
SLOW_PAGES = 4
"""Extra pages per folder in the two-runs test, read by the fault engine's fake Tesseract."""
SLOW_ENGINE = fault("delay=0.4")
"""Every page takes 0.4 s: each OCR step lasts at least 2 s (5 pages, one worker), far longer
than the two runs' start-up differs, so their OCR steps overlap."""


def make_scans(root: Path) -> Path:
    """Two folders, each with a good page and a broken one (so failures travel too)."""
    scans = root / "scans"
    for name in FOLDERS:
        folder = scans / name
        folder.mkdir(parents=True)
        shutil.copy(FIXTURES / "pages" / "phototest.tif", folder / "page_1.tif")
        shutil.copy(FIXTURES / "odd" / "broken.png", folder / "page_2.png")
    return scans


def production_env(database_url: str, data: Path, scans: Path) -> dict[str, str]:
    """What an operator sets: libpq's variables (read by deploy/dagster.yaml and the manifest),
    the manifest URL, the data and scans roots; nothing inherited from the test's own
    environment that would change where things go."""
    url = urlsplit(database_url)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCR_ASSETS_", "PG", "DAGSTER_HOME"))}
    env.update({
        "PGHOST": url.hostname or "127.0.0.1", "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres", "PGPASSWORD": url.password or "",
        "PGDATABASE": url.path.lstrip("/"),
        "OCR_ASSETS_MANIFEST_URL": "postgresql://",
        "OCR_ASSETS_DATA": str(data), "OCR_ASSETS_SCANS": str(scans),
        "OCR_ASSETS_WORKERS": "1",
    })
    return env


@pytest.fixture
def production(new_postgres_database: Callable[[], str], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh database, a scans root, and the environment of a production deployment; the
    test process itself gets the libpq variables too, to read the instance and manifest."""
    env = production_env(new_postgres_database(), tmp_path / "data", make_scans(tmp_path))
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        monkeypatch.setenv(name, env[name])
    return env


def instance_at(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def check_statuses(instance: dg.DagsterInstance, asset: str, check: str) -> dict[str, str]:
    """partition (or None) -> status of the latest execution of the check."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=50)
    latest: dict[str, str] = {}
    for record in reversed(history):  # oldest first, so the newest wins
        latest[record.partition] = record.status.value
    return latest


def manifest_rows(env: dict[str, str]) -> dict[str, dict]:
    manifest = open_manifest(env["OCR_ASSETS_MANIFEST_URL"])
    try:
        return {key: manifest.pages(key) for key in FOLDERS}
    finally:
        manifest.close()


def test_the_cli_runs_on_the_production_instance_and_manifest(production: dict[str, str]
                                                              ) -> None:
    env = {**production, "OCR_ASSETS_INSTANCE_YAML": str(DEPLOY_YAML)}
    result = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "run"], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr

    status = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "status", "--json"],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["totals"] == {"pages": 4, "done": 2, "failed": 2,
                                                   "pending": 0}
    data = Path(env["OCR_ASSETS_DATA"])
    home = data / "dagster_home"
    assert (home / "dagster.yaml").read_bytes() == DEPLOY_YAML.read_bytes()
    assert not (data / "manifest.sqlite").exists()
    with instance_at(home) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        assert len(runs) == 2  # one for both folders, and the corpus
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        assert check_statuses(instance, "page_texts", "counts_invariant") == {
            key: "SUCCEEDED" for key in FOLDERS}
        assert set(instance.get_dynamic_partitions("scan_folders")) == set(FOLDERS)
    rows = manifest_rows(production)
    assert {k: {p: r.status for p, r in pages.items()} for k, pages in rows.items()} == {
        key: {"page_1.tif": "done", "page_2.png": "failed"} for key in FOLDERS}
    corpus = read_corpus(LocalStore(data / "corpus"))
    assert sorted(zip(corpus["partition"], corpus["page"], strict=True)) == [
        (key, "page_1.tif") for key in FOLDERS]
    assert all("quick brown dog" in text for text in corpus["text"]), "read by Tesseract"


# One folder run, as a run worker on its own machine executes it: the project's job for one
# partition, against the instance that DAGSTER_HOME names. It waits at a start line so that
# both runs really overlap.
FOLDER_RUN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import dagster as dg
    from ocr_assets.definitions import load_definitions
    key, start = sys.argv[1], Path(sys.argv[2])
    job = load_definitions().resolve_job_def("ocr_folder_job")
    with dg.DagsterInstance.get() as instance:
        (start / key).touch()
        while not (start / "go").exists():
            time.sleep(0.01)
        result = job.execute_in_process(partition_key=key, instance=instance,
                                        raise_on_error=False)
        errors = [f"{e.event_type_value}: {e.message} {e.event_specific_data or ''}"
                  for e in result.all_events]
        checks = instance.all_logs(result.run_id,
                                   of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        print(json.dumps({"success": result.success, "errors": errors, "checks": {
            e.dagster_event.event_specific_data.check_name:
            e.dagster_event.event_specific_data.passed for e in checks}}))
""")


def ocr_step_interval(instance: dg.DagsterInstance, key: str) -> tuple[float, float]:
    """(start, end) of the OCR step of the folder's run, from the event log in PostgreSQL."""
    [run] = instance.get_runs(filters=dg.RunsFilter(job_name="ocr_folder_job",
                                                    tags={"dagster/partition": key}))
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    times = {event.dagster_event.event_type: event.timestamp
             for event in instance.all_logs(run.run_id,
                                            of_type={dg.DagsterEventType.STEP_START, *ends})
             if event.step_key == ocr_scan_folders.op.name}
    [end] = [times[kind] for kind in ends if kind in times]
    return times[dg.DagsterEventType.STEP_START], end


def test_two_folder_runs_at_once_share_the_instance_and_manifest(production: dict[str, str],
                                                                tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    scans = Path(production["OCR_ASSETS_SCANS"])
    for key in FOLDERS:
        for n in range(SLOW_PAGES):  # distinct sizes: distinct bytes, distinct texts
            Image.new("L", (120 + n, 60), 255).save(scans / key / f"page_{n + 3}.png")
    env = {**production, "DAGSTER_HOME": str(home), "OCR_ASSETS_ENGINE": SLOW_ENGINE}
    ocr = OcrConfig(scans_root=env["OCR_ASSETS_SCANS"], data_root=env["OCR_ASSETS_DATA"],
                    manifest_url=env["OCR_ASSETS_MANIFEST_URL"], workers=1)
    with instance_at(home) as instance:  # creates Dagster's tables before the runs start
        register_and_add_partitions(instance, ocr.project())
        # The deployment step of deploy/README.md for two OCR machines, as
        # `dagster instance concurrency set tesseract 2` does it.
        instance.event_log_storage.set_concurrency_slots(OCR_POOL, 2)

    start = tmp_path / "start"
    start.mkdir()
    runs = [subprocess.Popen([sys.executable, "-c", FOLDER_RUN, key, str(start)],
                             env=importing_the_tests(env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for key in FOLDERS]
    deadline = time.monotonic() + 180
    while (len(list(start.iterdir())) < len(runs) and time.monotonic() < deadline
           and all(run.poll() is None for run in runs)):
        time.sleep(0.05)
    (start / "go").touch()
    outcomes = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        outcomes.append(json.loads(stdout.strip().splitlines()[-1]))

    for outcome in outcomes:
        assert outcome["success"] and outcome["checks"]["counts_invariant"], \
            "\n".join(outcome["errors"])
    rows = manifest_rows(production)
    assert {k: {p: r.status for p, r in pages.items()} for k, pages in rows.items()} == {
        key: {"page_2.png": "failed"} | {
            p: "done" for p in ["page_1.tif"] + [f"page_{n + 3}.png" for n in range(SLOW_PAGES)]}
        for key in FOLDERS}
    assert all(r.attempts == 1 for pages in rows.values() for r in pages.values()
               if r.status == "done"), "a page was OCRed twice"

    with instance_at(home) as instance:
        (start_a, end_a), (start_b, end_b) = (ocr_step_interval(instance, key)
                                              for key in FOLDERS)
        assert start_a < end_b and start_b < end_a, "the two OCR steps did not overlap"
        result = dg.materialize([ocr_corpus, corpus_complete], instance=instance,
                                resources={"ocr": ocr})
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
        assert check_statuses(instance, "page_texts", "counts_invariant") == {
            key: "SUCCEEDED" for key in FOLDERS}
        assert len(instance.get_runs()) == len(FOLDERS) + 1
    corpus = read_corpus(ocr.project().corpus_store)
    done = sorted((key, page) for key, pages in rows.items() for page, row in pages.items()
                  if row.status == "done")
    assert sorted(zip(corpus["partition"], corpus["page"], strict=True)) == done
    for key, page, text in zip(corpus["partition"], corpus["page"], corpus["text"],
                               strict=True):
        assert text.strip() == fake_text((scans / key / page).read_bytes()).strip(), page
    ocr.project().manifest.close()
