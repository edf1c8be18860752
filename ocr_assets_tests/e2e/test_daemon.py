"""The automation for real: `dagster-daemon run` on a temporary DAGSTER_HOME with the project's
dagster.yaml. Folders dropped into the scans root are found by the sensor, queued, run by the
daemon within the OCR pool's limit, land in the manifest, and the corpus sensor rebuilds the
corpus. Bounded in time; the daemon and everything it started are killed in teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import psutil
import pytest

from ocr_assets.engine.manifest import open_manifest
from ocr_assets.engine.settings import default_workers
from ocr_assets.orchestration.batches import partitions_of_run
from ocr_assets.orchestration.instance import (
    PROJECT_INSTANCE_YAML,
    PROJECT_ROOT,
    render_instance_yaml,
)
from ocr_assets.orchestration.priority import PRIORITY_TAG

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
DEADLINE_S = 240
"""Generous on a loaded 2-core machine: daemon start, code server, a process per run."""


@dataclass
class Daemon:
    home: Path
    scans: Path
    data: Path
    process: subprocess.Popen
    log: Path
    instance: dg.DagsterInstance
    peak_tesseract: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def live_tesseracts(self) -> int:
        count = 0
        for child in self.descendants():
            try:
                count += child.name() == "tesseract"
            except psutil.NoSuchProcess:
                continue
        return count

    def sample(self) -> None:
        """Record the peak number of live Tesseract processes among the daemon's descendants
        (run workers are started by its code server, which the daemon started)."""
        while not self._stop.wait(0.05):
            self.peak_tesseract = max(self.peak_tesseract, self.live_tesseracts())

    def drop_folder(self, name: str, pages: list[Path]) -> None:
        """Copy the pages beside the scans root, then move the folder in at once, as a careful
        scanner does: the sensor never sees half a folder."""
        staging = self.scans.parent / f"staging-{name}"
        staging.mkdir()
        for n, page in enumerate(pages, start=1):
            shutil.copy(page, staging / f"page_{n}{page.suffix}")
        staging.rename(self.scans / name)

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"dagster-daemon exited ({self.process.returncode}) while waiting "
                            f"for {what}:\n{self.log.read_text()[-4000:]}")
            if condition():
                return
            time.sleep(0.5)
        pytest.fail(f"not within {DEADLINE_S} s: {what}\n{self.log.read_text()[-4000:]}")

    def runs(self, job_name: str) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(dg.RunsFilter(job_name=job_name)))


def _stop_tree(daemon: Daemon) -> None:
    """SIGTERM the daemon's process group, then SIGKILL whatever of it is left."""
    tree = [daemon.process, *daemon.descendants()]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(daemon.process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        daemon.process.wait(timeout=20)
    for proc in tree:
        try:
            proc.kill()
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    psutil.wait_procs([p for p in tree if isinstance(p, psutil.Process)], timeout=10)


def _start_daemon(root: Path, ocr_runs: str | None, settings: dict[str, str]) -> Daemon:
    home, scans, data = root / "dagster_home", root / "scans", root / "data"
    home.mkdir()
    scans.mkdir()
    (home / "dagster.yaml").write_bytes(
        render_instance_yaml(PROJECT_INSTANCE_YAML.read_text(), home))
    # Create the storage before the daemon starts: two processes creating a fresh SQLite
    # schema at once race in its migrations.
    instance = dg.DagsterInstance.from_config(str(home))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_ASSETS_")}
    env.update({
        "DAGSTER_HOME": str(home), "OCR_ASSETS_SCANS": str(scans),
        "OCR_ASSETS_DATA": str(data), "OCR_ASSETS_SENSOR_INTERVAL_S": "1",
        "OCR_ASSETS_CORPUS_INTERVAL_S": "1", "OCR_ASSETS_CORPUS_MAX_AGE_S": "3600",
        # The CLI engine: every page is a Tesseract process the sampler can count (tesserocr
        # reads inside the worker, and only orientation detection starts the CLI, for a
        # fraction of a second that a sample every 50 ms may miss).
        "OCR_ASSETS_ENGINE": "pytesseract",
    })
    if ocr_runs:
        env["OCR_ASSETS_OCR_RUNS"] = ocr_runs
    env.update(settings)
    log = root / "daemon.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
             str(PROJECT_ROOT / "workspace.yaml")], cwd=PROJECT_ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    return Daemon(home, scans, data, process, log, instance)


@contextlib.contextmanager
def running_daemon(root: Path, ocr_runs: str | None,
                   settings: dict[str, str] | None = None) -> Iterator[Daemon]:
    """A daemon on a fresh home and scans root; `settings`: more `OCR_ASSETS_*` variables."""
    daemon = _start_daemon(root, ocr_runs, settings or {})
    sampler = threading.Thread(target=daemon.sample, daemon=True)
    sampler.start()
    try:
        yield daemon
    finally:
        daemon._stop.set()
        sampler.join()
        tree = daemon.descendants()
        _stop_tree(daemon)
        daemon.instance.dispose()
        leaked = [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not leaked, f"processes left behind by the daemon: {leaked}"


def drop_and_wait(daemon: Daemon, names: list[str], pages: list[Path]) -> None:
    """Drop the folders, wait for their sensor-triggered runs to succeed and for the corpus to
    hold every one of their pages; check the pages in the manifest and the peak of Tesseracts."""
    for name in names:
        daemon.drop_folder(name, pages)

    def folder_runs() -> dict[str, list[dg.DagsterRun]]:
        """Each dropped folder's runs (a run may cover several: a range)."""
        order = daemon.instance.get_dynamic_partitions("scan_folders")
        covering: dict[str, list[dg.DagsterRun]] = {}
        for run in daemon.runs("ocr_folder_job"):
            for key in set(partitions_of_run(run.tags, order)) & set(names):
                covering.setdefault(key, []).append(run)
        return covering

    def all_succeeded() -> bool:
        runs = [run for folder in folder_runs().values() for run in folder]
        failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
        assert not failed, f"run {failed[0].run_id} failed:\n{daemon.log.read_text()[-3000:]}"
        return {key for key, folder in folder_runs().items()
                if any(r.status == dg.DagsterRunStatus.SUCCESS for r in folder)} == set(names)

    daemon.wait_for(f"the sensor's runs of {len(names)} folders to succeed", all_succeeded)
    covering = folder_runs()
    assert all(len(runs) == 1 for runs in covering.values()), \
        "one run for each folder: the sensor's run keys are idempotent"
    runs = {run.run_id: run for folder in covering.values() for run in folder}.values()
    assert {r.tags["ocr_assets/trigger"] for r in runs} == {"sensor"}
    manifest = open_manifest(daemon.data / "manifest.sqlite")
    expected = set()
    for name in names:
        rows = manifest.pages(name)
        assert len(rows) == len(pages) and {r.status for r in rows.values()} == {"done"}
        expected |= {(name, page) for page in rows}

    corpus = daemon.data / "corpus" / "pages.parquet"

    def corpus_has_the_pages() -> bool:
        if not corpus.is_file():
            return False
        frame = pd.read_parquet(corpus, columns=["partition", "page"])
        return set(zip(frame["partition"], frame["page"], strict=True)) == expected

    daemon.wait_for("the corpus sensor's build with every page", corpus_has_the_pages)
    text = pd.read_parquet(corpus).set_index(["partition", "page"]).loc[
        (names[0], "page_1.tif"), "text"]
    assert "quick brown" in text
    cores = default_workers()
    assert 1 <= daemon.peak_tesseract <= cores, (
        f"peak of {daemon.peak_tesseract} live Tesseract processes on {cores} cores")


def test_the_daemon_ocrs_dropped_folders_within_the_pool_and_builds_the_corpus(
        tmp_path: Path) -> None:
    """Three folders at once, OCR_ASSETS_OCR_RUNS=2: two OCR together with cores // 2 workers
    each, the third waits in the queue. Without the pool or the derived workers the peak would
    be up to 3 x cores Tesseracts."""
    with running_daemon(tmp_path, ocr_runs="2") as daemon:
        drop_and_wait(daemon, ["box-1", "box-2", "box-3"],
                      [PAGES / "phototest.tif", PAGES / "eurotext.tif"])


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("OCR_ASSETS_SLOW_TESTS") != "1",
                    reason="about 2 minutes: set OCR_ASSETS_SLOW_TESTS=1 to run it")
def test_many_queued_folder_runs_with_the_default_pool(tmp_path: Path) -> None:
    """Eight folders of four pages with the default pool (one OCR run, a worker per core)."""
    with running_daemon(tmp_path, ocr_runs=None) as daemon:
        drop_and_wait(daemon, [f"queued-{n}" for n in range(1, 9)],
                      [PAGES / "phototest.tif", PAGES / "eurotext.tif"] * 2)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("OCR_ASSETS_SLOW_TESTS") != "1",
                    reason="one to two minutes (Dagster's scheduler ticks on whole minutes): "
                           "set OCR_ASSETS_SLOW_TESTS=1 to run it")
def test_nightly_only_ingests_a_dropped_folder_with_the_sensor_off(tmp_path: Path) -> None:
    """The nightly-only mode: the folder sensor starts stopped, the nightly schedule (every
    minute here) registers a folder dropped in the scans root and runs it."""
    nightly_only = {"OCR_ASSETS_FOLDER_SENSOR": "false", "OCR_ASSETS_NIGHTLY_CRON": "* * * * *"}
    with running_daemon(tmp_path, ocr_runs=None, settings=nightly_only) as daemon:
        daemon.drop_folder("box-1", [PAGES / "phototest.tif"])

        def succeeded() -> bool:
            runs = daemon.runs("ocr_folder_job")
            failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
            assert not failed, f"run {failed[0].run_id} failed:\n{daemon.log.read_text()[-3000:]}"
            return any(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)

        daemon.wait_for("the nightly run of the dropped folder", succeeded)
        assert daemon.instance.get_dynamic_partitions("scan_folders") == ["box-1"]
        runs = daemon.runs("ocr_folder_job")
        assert {r.tags["ocr_assets/trigger"] for r in runs} == {"nightly"}, \
            "the sensor is off: only the schedule requested runs"
        assert all(r.tags[PRIORITY_TAG] and r.tags[dg.MAX_RUNTIME_SECONDS_TAG] for r in runs)
        rows = open_manifest(daemon.data / "manifest.sqlite").pages("box-1")
        assert {r.status for r in rows.values()} == {"done"}
