"""`ocr-assets run` and `status` end to end, as a user runs them, on a copy of the sample data."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from ocr_assets.orchestration.batches import partitions_of_run

SAMPLE_SCANS = Path(__file__).resolve().parents[2] / "data" / "scans"


def ocr_assets(*args: str, data: Path, module: bool = True) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process; `module=False` passes `args` to the interpreter
    itself (`-c PROGRAM ...`) instead of to `-m ocr_assets.cli`."""
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    entry = ["-m", "ocr_assets.cli"] if module else []
    return subprocess.run([sys.executable, *entry, *args, "--data", str(data)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path,
                                                                   subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("cli")
    scans = root / "scans"
    shutil.copytree(SAMPLE_SCANS, scans)
    data = root / "data"
    result = ocr_assets("run", "--scans", str(scans), "--workers", "2", data=data)
    return scans, data, result


def status(data: Path) -> dict:
    result = ocr_assets("status", "--json", data=data)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_ocrs_every_sample_folder_and_records_dagster_runs(first_run) -> None:
    scans, data, result = first_run
    assert result.returncode == 0, result.stderr
    folders = sorted(p.name for p in scans.iterdir() if p.is_dir())
    document = status(data)
    assert sorted(f["folder"] for f in document["folders"]) == folders
    totals = document["totals"]
    assert totals["pending"] == 0
    assert totals["pages"] == totals["done"] + totals["failed"] > 0
    assert totals["done"] > 0
    assert (f"done: {totals['done']} pages, failed: {totals['failed']}, pending: 0, in "
            f"{len(folders)} folders; corpus: ") in result.stdout, "the closing line's totals"

    keys = {f["partition"] for f in document["folders"]}
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        runs = instance.get_runs()
        [folder_run] = [r for r in runs if r.job_name == "ocr_folder_job"]
        order = instance.get_dynamic_partitions("scan_folders")
        assert set(partitions_of_run(folder_run.tags, order)) == keys, \
            "the three folders in one run"
        assert folder_run.tags["ocr_assets/reason"] == "never materialized: 3 folders"
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert "corpus_job" in {r.job_name for r in runs}
        for asset in ("page_texts", "failed_pages"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == keys, \
                "each folder its own materialization"


def test_corpus_has_one_row_per_done_page(first_run) -> None:
    _, data, _ = first_run
    corpus = pd.read_parquet(data / "corpus" / "pages.parquet")
    assert len(corpus) == status(data)["totals"]["done"]
    assert {"folder", "page", "text"} <= set(corpus.columns)
    assert not corpus.duplicated(["folder", "page"]).any()
    assert corpus["text"].str.strip().str.len().gt(0).any()


def test_search_finds_pages_with_folder_and_snippet(first_run) -> None:
    _, data, _ = first_run
    result = ocr_assets("search", "quick brown", data=data)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert {(folder, page) for folder, page, _ in rows} >= {("box-001", "phototest.tif"),
                                                          ("box-002-damaged",
                                                           "phototest-rotated-180.png")}
    assert all("[quick]" in snippet or "[brown]" in snippet for _, _, snippet in rows)
    as_json = json.loads(ocr_assets("search", "Menschheit", "--json", data=data).stdout)
    assert [(hit["folder"], hit["page"]) for hit in as_json] == [
        ("german-1837-1879", "bebel_frau_1879_0186.tif")]
    assert "[Menschheit]" in as_json[0]["snippet"]
    missing = ocr_assets("search", "anything", data=data.parent / "nothing-here")
    assert missing.returncode == 2 and "ocr-assets run" in missing.stderr
    # A query with non-UTF-8 bytes, as a shell passes them, is searched, not a traceback.
    raw = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "search", b"quick \xff'\"",
                          "--data", str(data)], capture_output=True, timeout=600, check=False)
    assert raw.returncode == 0, raw.stderr
    assert b"phototest.tif" in raw.stdout


def test_status_json_lists_flagged_pages_and_why(first_run) -> None:
    _, data, _ = first_run
    folders = {f["folder"]: f for f in status(data)["folders"]}
    assert all(isinstance(f["flagged"], list) for f in folders.values())
    assert folders["box-001"]["flagged"] == []
    flagged = [page for f in folders.values() for page in f["flagged"]]
    assert all(set(page) == {"page", "reason"} for page in flagged)
    assert all(page["reason"].startswith(("empty: ", "garbage: ")) for page in flagged)


def test_accuracy_reports_are_written_for_folders_with_ground_truth(first_run) -> None:
    _, data, _ = first_run
    report = pd.read_csv(data / "reports" / "box-001" / "accuracy.csv")
    assert sorted(report["page"]) == ["eurotext.tif", "phototest.tif"]
    assert report["cer"].max() < 0.05
    turned = pd.read_csv(data / "reports" / "box-002-damaged" / "accuracy.csv")
    assert turned.set_index("page")["cer"]["phototest-rotated-180.png"] < 0.05


REPORT_HEAVY_IMPORTS = """
import sys
from ocr_assets.cli.main import main
code = main(sys.argv[1:])
print("imported:", *sorted({"pandas", "pytesseract", "ocr_assets.definitions"} & set(sys.modules)))
sys.exit(code)
"""


def test_second_run_does_no_ocr(first_run) -> None:
    scans, data, _ = first_run
    facts = {p: p.stat().st_mtime_ns for p in (data / "ocr").rglob("*.json")}
    with sqlite3.connect(data / "manifest.sqlite") as db:
        before = db.execute("SELECT page_id, attempts, updated_at FROM pages").fetchall()

    again = ocr_assets("-c", REPORT_HEAVY_IMPORTS, "run", "--scans", str(scans), data=data,
                       module=False)

    assert again.returncode == 0, again.stderr
    assert "3 folders, 0 to run, 0 pages to OCR" in again.stderr
    # Nothing to run: neither the engine nor the asset definitions (nor pandas) were loaded,
    # which is most of what an all-done re-run of a large batch would otherwise cost.
    assert again.stdout.splitlines()[-1] == "imported:", again.stdout
    with sqlite3.connect(data / "manifest.sqlite") as db:
        assert db.execute("SELECT page_id, attempts, updated_at FROM pages").fetchall() == before
    assert {p: p.stat().st_mtime_ns for p in (data / "ocr").rglob("*.json")} == facts


def test_a_changed_folder_toml_reads_that_folder_again_once(first_run) -> None:
    scans, data, _ = first_run
    german = scans / "german-1837-1879"
    config = german / "folder.toml"
    config.write_text(config.read_text(encoding="utf-8") + "psm = 4\n", encoding="utf-8")

    result = ocr_assets("run", "--scans", str(scans), data=data)

    assert result.returncode == 0, result.stderr
    assert "3 folders, 1 to run, 2 pages to OCR" in result.stderr
    for facts in (data / "ocr" / german.name).glob("*.json"):
        settings = json.loads(facts.read_text())["settings"]
        assert (settings["lang"], settings["psm"]) == ("deu", 4), facts
    again = ocr_assets("run", "--scans", str(scans), data=data)
    assert "3 folders, 0 to run, 0 pages to OCR" in again.stderr, again.stderr


def test_status_prints_a_table_per_folder(first_run) -> None:
    _, data, _ = first_run
    result = ocr_assets("status", data=data)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["folder", "pages", "done", "failed", "pending", "flagged"]
    assert lines[-1].split()[0] == "total"


def test_exit_code_is_1_when_a_blocking_check_fails(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    shutil.copytree(SAMPLE_SCANS, scans)
    data = tmp_path / "data"
    assert ocr_assets("run", "--scans", str(scans), data=data).returncode == 0
    new_page = next(p for p in scans.rglob("*") if p.suffix in {".tif", ".png", ".jpg"})
    shutil.copy(new_page, new_page.with_name("added_" + new_page.name))
    with sqlite3.connect(data / "manifest.sqlite") as db:
        # Another (live) run holds every page of the folder: this run may not touch them, so
        # they stay non-terminal and the blocking counts invariant fails.
        db.execute("INSERT INTO pages (partition_key, page_id, status, lease_owner, "
                   "lease_until) SELECT partition_key, 'added_' || ?, 'running', 'elsewhere', ? "
                   "FROM folders WHERE folder_name = ?",
                   (new_page.name, time.time() + 3600, new_page.parent.name))

    result = ocr_assets("run", "--scans", str(scans), data=data)

    assert result.returncode == 1, result.stderr
    assert "blocking check failed" in result.stderr
    assert "counts_invariant" in result.stderr


def test_missing_tesseract_is_a_clear_run_failure(tmp_path: Path) -> None:
    scans = tmp_path / "scans" / "box"
    scans.mkdir(parents=True)
    shutil.copy(next(p for p in SAMPLE_SCANS.rglob("*.tif")), scans / "page.tif")
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    env["PATH"] = str(Path(sys.executable).parent)
    result = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "run", "--scans",
                             str(tmp_path / "scans"), "--data", str(tmp_path / "data")],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    assert "tesseract program was not found" in result.stderr


def test_retry_failed_runs_exactly_the_folder_with_failed_pages(first_run) -> None:
    scans, data, _ = first_run
    damaged = next(f for f in status(data)["folders"] if f["failed"])
    assert [f["folder"] for f in status(data)["folders"] if f["failed"]] == ["box-002-damaged"]

    dry = ocr_assets("retry-failed", "--dry-run", "--scans", str(scans), data=data)
    assert dry.returncode == 0, dry.stderr
    assert f"{damaged['partition']}: {damaged['failed']} failed pages" in dry.stderr
    assert "nothing was launched" in dry.stderr

    result = ocr_assets("retry-failed", "--scans", str(scans), data=data)

    assert result.returncode == 0, result.stderr
    assert f"retrying 1 partitions ({damaged['failed']} failed or unfinished pages)" \
        in result.stderr
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        retried = [r for r in instance.get_runs()
                   if r.tags.get("ocr_assets/trigger") == "retry-failed"]
    assert sorted(r.job_name for r in retried) == ["corpus_job", "retry_failed_pages_job"], \
        "the same job as the UI's rerun of failed pages"
    [folder_run] = [r for r in retried if r.job_name == "retry_failed_pages_job"]
    assert folder_run.tags["dagster/partition"] == damaged["partition"]
    assert folder_run.tags["ocr_assets/pages"] == "failed"
    report = pd.read_csv(data / "reports" / damaged["partition"] / "failed_pages.csv")
    assert set(report["retry_outcome"]) <= {"recovered", "still_failing", "not_retried"}


def test_forget_deletes_a_removed_folder_and_the_corpus_drops_its_pages(first_run) -> None:
    scans, data, _ = first_run
    key = "box-002-damaged"
    refused = ocr_assets("forget", key, "--scans", str(scans), data=data)
    assert refused.returncode == 64, "the folder is still in the scans root"
    assert "move it away first" in refused.stderr

    shutil.move(scans / key, scans.parent / "removed")
    result = ocr_assets("forget", key, "--scans", str(scans), data=data)

    assert result.returncode == 0, result.stderr
    assert f"forgot '{key}'" in result.stderr
    assert key not in {f["partition"] for f in status(data)["folders"]}
    assert not (data / "ocr" / key).exists() and not (data / "reports" / key).exists()
    with sqlite3.connect(data / "manifest.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM pages WHERE partition_key = ?",
                          (key,)).fetchone() == (0,)
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        assert key not in instance.get_dynamic_partitions("scan_folders")
    corpus = pd.read_parquet(data / "corpus" / "pages.parquet")
    assert key not in set(corpus["partition"]) and len(corpus) > 0


EVENTS_ALIVE_AT_EACH_RUN = """
import gc
import sys
import weakref
from dagster._core.events import DagsterEvent
import ocr_assets.cli.runs as runs
import ocr_assets.definitions as definitions
import ocr_assets.orchestration.run_state as run_state
from ocr_assets.cli.main import main
execute, load = runs._execute_in_process, definitions.load_definitions
register, needing = run_state.register_and_add_partitions, run_state.folders_needing_run
plan = []
def loaded():
    print("definitions loaded")
    return load()
definitions.load_definitions = loaded
def registered(*args):
    registration = register(*args)
    plan.append(weakref.ref(registration.scan))
    return registration
def needed(*args, **kwargs):
    needs = needing(*args, **kwargs)
    plan.extend(weakref.ref(need) for need in needs.values())
    return needs
run_state.register_and_add_partitions, run_state.folders_needing_run = registered, needed
def counted(*args):
    print("events alive:", sum(isinstance(o, DagsterEvent) for o in gc.get_objects()))
    print("frozen:", gc.get_freeze_count())
    print("plan alive:", sum(ref() is not None for ref in plan), "of", len(plan))
    return execute(*args)
runs._execute_in_process = counted
gc.disable()  # only the command's own collections free what is in cycles
code = main(sys.argv[1:])
print("frozen at exit:", gc.get_freeze_count())
sys.exit(code)
"""


def test_no_event_of_a_run_is_alive_when_the_next_run_starts(tmp_path: Path) -> None:
    """A run's result and events form reference cycles; left to the collector's schedule they
    lived on into the next runs and raised the command's peak memory (docs/benchmarks.md).
    The collection after each run walks only what runs made: what was loaded before them is
    frozen while they execute, and unfrozen after. The four runs share one loading of the
    definitions, and the planning's listing and needs (a few hundred bytes a folder) are gone
    before the first run."""
    from benchmarks.small_folders import blank_folders, project_env

    blank_folders(3, tmp_path / "scans")
    env = {**project_env(tmp_path / "scans", tmp_path / "data", 1),
           "OCR_ASSETS_FOLDERS_PER_RUN": "1"}
    result = subprocess.run([sys.executable, "-c", EVENTS_ALIVE_AT_EACH_RUN, "run"],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    alive = [int(line.split(":")[1]) for line in result.stdout.splitlines()
             if line.startswith("events alive:")]
    assert len(alive) == 4, "three folder runs and the corpus run"
    # What stays (two events of the first run, which Dagster keeps) does not add up run by run.
    assert len(set(alive[1:])) == 1, f"events of earlier runs still alive: {alive}"
    # The loaded objects are out of the collector's walks during the folder runs only.
    frozen = [int(line.split(":")[1]) for line in result.stdout.splitlines()
              if line.startswith("frozen")]
    assert all(count > 0 for count in frozen[:3]) and frozen[3:] == [0, 0], frozen
    assert result.stdout.count("definitions loaded") == 1
    plan = [line for line in result.stdout.splitlines() if line.startswith("plan alive:")]
    assert plan == ["plan alive: 0 of 4"] * 4, plan
