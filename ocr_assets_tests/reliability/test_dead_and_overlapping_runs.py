"""Runs that die and runs that overlap, as separate processes on one manifest:

- a page left `running` by a SIGKILLed run is taken over by the very next run (its holder is
  provably dead), not minutes later when the lease expires, and the dead run's workers die
  with it instead of OCRing on as orphans;
- two runs of the same folder at once OCR every page exactly once and lose no manifest row.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.manifest import DONE, RUNNING, open_manifest
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import new_run

REPO = Path(__file__).resolve().parents[2]


def start_run(folder: Path, manifest: Path | str, out_root: Path, engine: str, workers: int,
              log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "OCR_ASSETS_FAULT_LOG": str(log)}
    return subprocess.Popen(
        [sys.executable, "-m", "ocr_assets_tests.reliability.folder_run", str(folder),
         str(manifest), str(out_root), engine, str(workers)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def statuses(manifest: Path) -> dict[str, str]:
    with sqlite3.connect(manifest) as db:
        return dict(db.execute("SELECT page_id, status FROM pages"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to collect it.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z")


def test_a_page_left_running_by_a_killed_run_is_recovered_by_the_next_run(
        tmp_path: Path) -> None:
    run = new_run(tmp_path)
    Image.new("L", (120, 60), 255).save(run.folder / "slow.png")
    log = tmp_path / "attempts.log"
    victim = start_run(run.folder, run.manifest.path, run.out_root, fault("delay=30"), 1, log)
    wait_for(lambda: log.exists() and log.read_text().strip(), "the page to start")
    assert statuses(run.manifest.path) == {"slow.png": RUNNING}
    worker_pid = int(log.read_text().split("\t")[0])

    victim.send_signal(signal.SIGKILL)  # the run only: its worker must not outlive it
    victim.wait()
    wait_for(lambda: not alive(worker_pid), "the orphaned worker to die", limit_s=20)

    report = run.process(engine=fault(), workers=1)  # at once: the lease has not expired

    row = run.manifest.pages(run.key)["slow.png"]
    assert (report.processed, row.status, row.attempts, row.lease_owner) == (1, DONE, 2, None)
    assert run.text("slow.png") == fake_text((run.folder / "slow.png").read_bytes())
    assert check_counts(run.scan_folder).passed


@pytest.mark.parametrize("backend", ["sqlite",
                                     pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_runs_of_one_folder_at_once_do_every_page_once_and_lose_no_row(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    run = new_run(tmp_path)
    location: Path | str = run.manifest.path
    if backend == "postgresql":
        location = request.getfixturevalue("postgres_manifest_url")
        run.manifest = open_manifest(location)
    pages = []
    for n in range(24):
        page = run.folder / f"p_{n:02d}.png"
        Image.new("L", (100 + n, 50), 255).save(page)  # distinct bytes, distinct texts
        pages.append(page)
    log = tmp_path / "attempts.log"
    run.manifest.sync_pages(run.key, [])  # the schema exists before both runs start

    # A fast and a slow run: the fast one races ahead through pages the slow one had also
    # planned to do, so the slow one keeps reaching pages that were finished since its plan.
    runs = [start_run(run.folder, location, run.out_root, fault("delay=0.15"), workers, log)
            for workers in (4, 1)]
    reports = []
    for process in runs:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        reports.append(json.loads(out))

    attempts = [Path(line.split("\t")[1]).name for line in log.read_text().splitlines()]
    assert sorted(attempts) == sorted(p.name for p in pages), "a page was OCRed twice or never"
    assert sum(r["processed"] for r in reports) == len(pages)
    # The run that ended last saw every page done; the other may have left pages to it.
    assert max(r["done"] for r in reports) == len(pages)
    rows = run.manifest.pages(run.key)
    assert sorted(rows) == sorted(p.name for p in pages)
    assert all(row.status == DONE and row.attempts == 1 for row in rows.values())
    for page in pages:
        assert run.text(page.name) == fake_text(page.read_bytes())
    assert check_counts(run.scan_folder).passed
