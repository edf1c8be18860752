"""Commands started at once on a new data root, as a user does from two terminals: the embedded
instance is created once, under its lock, and stays openable; every page is done once.

Without the lock, two `ocr-assets run` started together left the instance unopenable in 4 of 6
trials (two schema stamps in `runs.db`, dagster-io/dagster#27390). Each trial here starts the
commands on a fresh data root and checks, afterwards: every command succeeded, every database
of the instance has one schema stamp and the instance opens, and every page is done by exactly
one attempt with one text file. The UI trials start `scripts/ui.sh` beside `ocr-assets run`:
its webserver and daemon open the instance too, and its sensor requests a run of the same
folder while the command runs it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.manifest import DONE, open_manifest
from ocr_assets.orchestration.instance import SQLITE_DATABASES, open_instance
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.e2e.dagster_ui import poll, running_ui
from ocr_assets_tests.helpers import REPO, importing_the_tests

TWO_AT_ONCE_TRIALS = 6
THREE_AT_ONCE_TRIALS = 4
"""10 trials in all; each costs about 5 CPU-seconds per command on a one-folder data root.
Without the lock 4 of 6 trials broke the instance, so 10 all passing by chance would be about
1 in 60,000; more trials only cost the suite its time (it must stay well under 15 minutes)."""
UI_TRIALS = 2
"""Each UI trial starts a webserver, a daemon and a code server (about 15 s of both cores):
fewer trials, over the same lock as the commands'."""
PAGES = 3


def fresh_root(root: Path) -> tuple[Path, Path]:
    scans, data = root / "scans", root / "data"
    (scans / "box-001").mkdir(parents=True)
    for n in range(PAGES):  # distinct sizes: distinct fingerprints and texts
        Image.new("L", (100 + n, 40), 255).save(scans / "box-001" / f"page_{n}.png")
    return scans, data


def command_env(scans: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OCR_ASSETS_") and k != "DAGSTER_HOME"}
    env.update(OCR_ASSETS_SCANS=str(scans), OCR_ASSETS_DATA=str(data),
               OCR_ASSETS_ENGINE=fault(), OCR_ASSETS_AUTO_ROTATE="0", OCR_ASSETS_WORKERS="1",
               OCR_ASSETS_SENSOR_INTERVAL_S="2")
    return importing_the_tests(env)


def start_run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ocr_assets.cli", "run"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def assert_instance_and_pages_whole(scans: Path, data: Path, trial: str) -> None:
    home = data / "dagster_home"
    for relative in SQLITE_DATABASES:
        with closing(sqlite3.connect(home / relative)) as db:
            stamps = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
        assert len(stamps) == 1, f"{trial}: {relative} has the schema stamps {stamps}"
    repaired: list[str] = []
    instance = open_instance(home, on_repair=repaired.append)
    try:
        assert instance.get_runs(), f"{trial}: no run was recorded"
    finally:
        instance.dispose()
    assert repaired == [], f"{trial}: the instance needed a repair: {repaired}"
    manifest = open_manifest(data / "manifest.sqlite")
    try:
        rows = manifest.pages("box-001")
    finally:
        manifest.close()
    assert sorted(rows) == [f"page_{n}.png" for n in range(PAGES)], trial
    states = {page: (row.status, row.attempts) for page, row in rows.items()}
    assert set(states.values()) == {(DONE, 1)}, f"{trial}: a page was not done once: {states}"
    texts = sorted(path.name for path in (data / "ocr" / "box-001").glob("*.txt"))
    assert texts == [f"page_{n}.png.txt" for n in range(PAGES)], f"{trial}: {texts}"


@pytest.mark.parametrize(("commands", "trials"), [(2, TWO_AT_ONCE_TRIALS),
                                                  (3, THREE_AT_ONCE_TRIALS)])
def test_commands_started_at_once_on_a_new_data_root_leave_it_whole(
        tmp_path: Path, commands: int, trials: int) -> None:
    for trial in range(trials):
        scans, data = fresh_root(tmp_path / f"trial-{trial}")
        env = command_env(scans, data)
        processes = [start_run(env) for _ in range(commands)]
        outcomes = [finished(process) for process in processes]
        for code, stderr in outcomes:
            assert code == 0, f"trial {trial}: a command exited {code}:\n{stderr[-2000:]}"
        assert_instance_and_pages_whole(scans, data, f"trial {trial}")


def runs_in_progress(home: Path) -> int | None:
    """None once no run of the instance is queued or going on (for two looks in a row)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        busy = len(instance.get_run_ids(dg.RunsFilter(statuses=[
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])))
    return busy or None


def test_the_ui_started_beside_a_run_on_a_new_data_root_leaves_it_whole(tmp_path: Path) -> None:
    for trial in range(UI_TRIALS):
        scans, data = fresh_root(tmp_path / f"trial-{trial}")
        env = command_env(scans, data)
        run = start_run(env)
        with running_ui(env, tmp_path / f"ui-{trial}.log"):
            code, stderr = finished(run)
            # The daemon's own runs (the sensor's, the corpus's) end before the UI stops.
            time.sleep(3)
            home = data / "dagster_home"
            poll(lambda home=home: None if runs_in_progress(home) else True,
                 "the daemon's runs to end", timeout=180, interval=2)
        assert code == 0, f"trial {trial}: the run exited {code}:\n{stderr[-2000:]}"
        assert_instance_and_pages_whole(scans, data, f"UI trial {trial}")


def test_an_instance_damaged_by_an_earlier_race_is_repaired_at_start_and_said(
        tmp_path: Path) -> None:
    """An instance left with two schema stamps (by a version without the lock) opens again:
    the command repairs it, says so in one line, and goes on."""
    scans, data = fresh_root(tmp_path)
    env = command_env(scans, data)
    assert finished(start_run(env))[0] == 0
    with closing(sqlite3.connect(data / "dagster_home" / "history" / "runs.db")) as db, db:
        db.execute("INSERT INTO alembic_version VALUES ('5771160a95ad')")

    code, stderr = finished(start_run(env))

    assert code == 0, stderr[-2000:]
    [line] = [line for line in stderr.splitlines() if "repaired" in line]
    assert "runs.db" in line and "two processes created it at once" in line
    assert_instance_and_pages_whole(scans, data, "after the repair")


def test_an_instance_or_manifest_that_cannot_be_opened_exits_2_naming_it(
        tmp_path: Path) -> None:
    scans, data = fresh_root(tmp_path)
    env = command_env(scans, data)
    home = data / "dagster_home"
    (home / "history").mkdir(parents=True)
    (home / "history" / "runs.db").write_text("not a database")

    code, stderr = finished(start_run(env))

    assert code == 2, stderr[-2000:]
    assert f"cannot open the Dagster instance in {home}" in stderr
    assert "Traceback" not in stderr

    (data / "manifest.sqlite").write_text("not a database either")
    status = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "status"], env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert status.returncode == 2
    assert f"cannot open the manifest {data / 'manifest.sqlite'}" in status.stderr
    assert "move it away" in status.stderr and "Traceback" not in status.stderr
