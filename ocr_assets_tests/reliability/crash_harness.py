"""The crash-and-resume harness: real `ocr-assets run`s over a few folders, killed with SIGKILL,
then resumed with the same command, with every promise checked after each run.

Each trial copies a fresh scans root (three folders, one with a hostile name, one with a page
that fails for good, all three read by one Dagster run: the kills hit a run over several
folders), starts `ocr-assets run` in a process group of its own with the
fault-injection engine (`fault:delay=...`: instant, deterministic text, so every output can be
checked byte for byte), kills it one way, and resumes it with the same command until a run
ends by itself. The ways to die:

- `orchestrator`, `group`, `worker`: SIGKILL from outside, to the run's main process (its workers
  must die with it), to the whole process group, or to one pool worker (the run goes on), at a
  random moment once a random number of pages is finished;
- `manifest.commit`, `atomic.partial`, `atomic.written`, `atomic.renamed`: SIGKILL from inside,
  at a named kill point (`OCR_ASSETS_KILL_AT`): inside a manifest transaction before COMMIT, or
  in a page write half-way through the data, with the temp file complete, or just renamed.

After every run (killed or not), `check_safety`: each done row has its text, whole and equal to
what the engine read, and facts for the same input; no page done before the run was OCRed again
in it; the manifest has no row for a page that is not on disk. After the resume,
`check_complete`: the run exited 0, every page is terminal (all done but the one that must
fail), the counts invariant holds in every folder, the corpus has exactly the done pages, and
no temp file is left. A page not in that state is *lost*.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.discovery import discover_pages
from ocr_assets.engine.folder.invariants import check_counts
from ocr_assets.engine.manifest import DONE, FAILED, open_manifest
from ocr_assets.engine.page.fingerprint import file_fingerprint
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project
from ocr_assets_tests.doubles.fake_tesseract import fake_text
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import importing_the_tests

EXTERNAL_KILLS = ("orchestrator", "group", "worker")
KILL_POINTS = ("manifest.commit", "atomic.partial", "atomic.written", "atomic.renamed")
KILL_MODES = EXTERNAL_KILLS + KILL_POINTS
FOLDERS = {"box-a": 6, "box b, 'wide'": 6, "box-c": 5}
"""Folder name -> good pages; box-c also has one page that fails for good (too_large)."""
FAILING_PAGE = "p9.fault-image-too-large.png"
RUN_LIMIT_S = 300


class HarnessFailure(AssertionError):
    """A promise was broken; the message says which, in which trial, for which page."""


@dataclass
class TrialResult:
    mode: str
    killed_runs: int = 0
    """Runs that died of SIGKILL."""
    killed_workers: int = 0
    """Workers SIGKILLed from outside while their run went on."""
    runs: int = 0
    pages: int = 0
    lost: list[str] = field(default_factory=list)
    redone_after_done: list[str] = field(default_factory=list)
    folders_per_run: int = 0
    """The most folders one run covered: the kills hit runs over several folders."""


def make_scans(root: Path) -> int:
    """The scans root of one trial; returns its page count."""
    pages = 0
    for index, (name, good) in enumerate(FOLDERS.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for n in range(good):
            # Distinct sizes: distinct bytes, so every page has its own expected text.
            Image.new("L", (160 + 10 * index + n, 80), 255).save(folder / f"p{n}.png")
        pages += good
    Image.new("L", (90, 90), 255).save(root / "box-c" / FAILING_PAGE)
    return pages + 1


def _command(scans: Path, data: Path) -> list[str]:
    return [sys.executable, "-m", "ocr_assets.cli", "run", "--scans", str(scans),
            "--data", str(data), "--workers", "2"]


def _env(log: Path, kill_at: str | None, delay_s: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    env.update(OCR_ASSETS_ENGINE=fault(f"delay={delay_s:g}"), OCR_ASSETS_FAULT_LOG=str(log))
    if kill_at:
        env["OCR_ASSETS_KILL_AT"] = kill_at
    return env


def _finished_pages(manifest: Path) -> int:
    if not manifest.exists():
        return 0
    try:
        with sqlite3.connect(f"{manifest.absolute().as_uri()}?mode=ro", uri=True,
                             timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM pages WHERE status IN ('done', 'failed')"
                              ).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _processes() -> list[tuple[int, str, int, int, bytes]]:
    """(pid, state, ppid, process group, command line) of every process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid, pgrp = (entry / "stat").read_text().rpartition(")")[2].split()[:3]
            found.append((int(entry.name), state, int(ppid), int(pgrp),
                          (entry / "cmdline").read_bytes()))
        except (OSError, ValueError):
            continue
    return found


def _workers_of(pid: int) -> list[int]:
    """The pool workers (multiprocessing spawn children) of the run's main process."""
    return [p for p, state, ppid, _, cmd in _processes()
            if ppid == pid and state != "Z" and b"spawn_main" in cmd]


def _group_alive(pgid: int) -> bool:
    return any(pgrp == pgid and state != "Z" for _, state, _, pgrp, _ in _processes())


def _kill_from_outside(process: subprocess.Popen[bytes], mode: str, manifest: Path,
                       after_pages: int, rng: random.Random) -> bool:
    """Wait until `after_pages` pages are finished (or the run ends), then SIGKILL; returns
    whether a kill was delivered."""
    deadline = time.monotonic() + RUN_LIMIT_S
    while process.poll() is None and _finished_pages(manifest) < after_pages:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 0.3))
    if process.poll() is not None:
        return False
    if mode == "orchestrator":
        process.send_signal(signal.SIGKILL)
        return True
    if mode == "group":
        os.killpg(process.pid, signal.SIGKILL)
        return True
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        workers = _workers_of(process.pid)
        if workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
            return True
        time.sleep(0.05)
    return False


def _reap(process: subprocess.Popen[bytes]) -> int:
    try:
        process.wait(timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise HarnessFailure(f"a run did not finish within {RUN_LIMIT_S} s") from None
    # Workers die with their run (PR_SET_PDEATHSIG); the fake Tesseract of a killed worker
    # finishes its page within the delay. Anything still alive later outlived its run.
    deadline = time.monotonic() + 10
    while _group_alive(process.pid):
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise HarnessFailure("processes of a killed run were still alive 10 s later "
                                 "(a worker outlived its run)")
        time.sleep(0.05)
    return process.returncode


def _attempted(log: Path) -> Counter[str]:
    """Page (folder/file) -> how often the engine started on it, from the fault log."""
    if not log.exists():
        return Counter()
    return Counter("/".join(Path(line.split("\t", 1)[1]).parts[-2:])
                   for line in log.read_text(encoding="utf-8",
                                             errors="surrogateescape").splitlines() if line)


def _done_pages(data: Path) -> dict[str, str]:
    """folder/page -> partition key of every page the manifest says is done."""
    manifest = open_manifest(data / "manifest.sqlite")
    try:
        done = {}
        for folder in manifest.folders():
            for page_id, row in manifest.pages(folder.partition_key).items():
                if row.status == DONE:
                    done[f"{folder.folder_name}/{page_id}"] = folder.partition_key
        return done
    finally:
        manifest.close()


def check_safety(scans: Path, data: Path, where: str) -> None:
    """What must hold at any instant, even right after a kill."""
    if not (data / "manifest.sqlite").exists():
        return
    manifest = open_manifest(data / "manifest.sqlite")
    try:
        for folder in manifest.folders():
            on_disk = {p.page_id for p in discover_pages(scans / folder.folder_name).pages}
            if not on_disk:
                raise HarnessFailure(f"{where}: folder {folder.folder_name!r} not found")
            rows = manifest.pages(folder.partition_key)
            if stray := sorted(rows.keys() - on_disk):
                raise HarnessFailure(f"{where}: rows for pages not on disk: {stray}")
            for page_id, row in rows.items():
                if row.status != DONE:
                    continue
                source = scans / folder.folder_name / page_id
                text_key, facts_key = output_keys(row.output_name or "")
                out_dir = data / "ocr" / folder.partition_key
                try:
                    text = (out_dir / text_key).read_text(encoding="utf-8")
                    facts = json.loads((out_dir / facts_key).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise HarnessFailure(f"{where}: done page {folder.folder_name}/{page_id} "
                                         f"has no whole outputs: {exc}") from exc
                if text != fake_text(source.read_bytes()):
                    raise HarnessFailure(f"{where}: done page {folder.folder_name}/{page_id} "
                                         f"has a wrong or truncated text: {text!r}")
                if not facts.get("fingerprint") == row.fingerprint == file_fingerprint(source):
                    raise HarnessFailure(f"{where}: facts of {page_id} are for another input")
    finally:
        manifest.close()


def check_complete(scans: Path, data: Path, returncode: int, pages: int,
                   result: TrialResult) -> None:
    """What must hold once a run ended by itself after the kills."""
    where = f"trial {result.mode}, after the resume"
    if returncode != 0:
        raise HarnessFailure(f"{where}: the resumed run exited {returncode}")
    project = Project(ProjectConfig(data_root=str(data), scans_root=str(scans)))
    manifest = project.manifest
    try:
        seen = 0
        for folder in manifest.folders():
            counts = check_counts(project.folder(folder.partition_key))
            if not counts.passed:
                raise HarnessFailure(f"{where}: counts invariant of {folder.folder_name!r}: "
                                     f"{counts.problems()}")
            for page_id, row in manifest.pages(folder.partition_key).items():
                seen += 1
                must_fail = page_id == FAILING_PAGE
                ok = ((row.status, row.error_category) == (FAILED, "too_large") if must_fail
                      else row.status == DONE)
                if not ok:
                    result.lost.append(f"{folder.folder_name}/{page_id}")
        result.lost += ["(missing rows)"] * (pages - seen)
    finally:
        manifest.close()
    corpus = pd.read_parquet(data / "corpus" / "pages.parquet", columns=["folder", "page"])
    in_corpus = sorted(f"{f}/{p}" for f, p in zip(corpus["folder"], corpus["page"],
                                                   strict=True))
    if in_corpus != sorted(_done_pages(data)):
        raise HarnessFailure(f"{where}: the corpus does not hold exactly the done pages")
    leftovers = [str(p) for p in data.rglob(".*.tmp")]
    if leftovers:
        raise HarnessFailure(f"{where}: temp files left behind: {leftovers}")
    result.folders_per_run = _largest_folder_run(data)


def _largest_folder_run(data: Path) -> int:
    """The most folders one Dagster run of the trial covered (the folders share a run)."""
    import dagster as dg

    from ocr_assets.orchestration.batches import partitions_of_run

    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        order = instance.get_dynamic_partitions("scan_folders")
        runs = instance.get_runs(dg.RunsFilter(job_name="ocr_folder_job"))
        return max((len(partitions_of_run(run.tags, order)) for run in runs), default=0)


def run_trial(root: Path, mode: str, rng: random.Random, delay_s: float = 0.1) -> TrialResult:
    """One trial in a fresh directory: a killed run, then resumes until one ends by itself."""
    scans, data = root / "scans", root / "data"
    result = TrialResult(mode, pages=make_scans(scans))
    done_before: dict[str, str] = {}
    kill_next = True
    while True:
        result.runs += 1
        if result.runs > 6:
            raise HarnessFailure(f"trial {mode}: no run ended by itself after 5 kills")
        log = root / f"attempts-{result.runs}.log"
        kill_at = None
        if kill_next and mode in KILL_POINTS:
            count = rng.randint(3, 30) if mode == "manifest.commit" else rng.randint(1, 4)
            kill_at = f"{mode}:{count}" + ("" if mode == "manifest.commit" else ":group")
        stderr = root / f"stderr-{result.runs}.txt"
        with stderr.open("wb") as err:
            process = subprocess.Popen(_command(scans, data),
                                       env=importing_the_tests(_env(log, kill_at, delay_s)),
                                       stdout=subprocess.DEVNULL, stderr=err,
                                       start_new_session=True)
            killed_worker = False
            if kill_next and mode in EXTERNAL_KILLS:
                delivered = _kill_from_outside(process, mode, data / "manifest.sqlite",
                                               rng.randint(0, result.pages - 2), rng)
                killed_worker = delivered and mode == "worker"
            returncode = _reap(process)
        result.killed_workers += killed_worker
        killed = returncode == -signal.SIGKILL
        result.killed_runs += killed
        where = f"trial {mode}, run {result.runs} ({'killed' if killed else 'ended'})"
        check_safety(scans, data, where)
        attempts = _attempted(log)
        redone = sorted(page for page in attempts if page in done_before)
        result.redone_after_done += redone
        if redone:
            raise HarnessFailure(f"{where}: pages done before were OCRed again: {redone}")
        done_before = _done_pages(data)
        if not killed and returncode != 0:
            raise HarnessFailure(f"{where}: exited {returncode}: "
                                 f"{stderr.read_text(errors='replace')[-2000:]}")
        # A worker killed from outside costs its page (worker_crashed, retried by the next
        # run) but not the run, which ends by itself; one more run must then finish the job.
        if not killed and not killed_worker:
            check_complete(scans, data, returncode, result.pages, result)
            return result
        kill_next = False


def run_harness(root: Path, trials: int, seed: int, delay_s: float = 0.1,
                modes: tuple[str, ...] = KILL_MODES) -> dict[str, object]:
    """`trials` trials cycling through `modes`; returns the figures for docs/reliability.md."""
    rng = random.Random(seed)
    results = []
    for index in range(trials):
        mode = modes[index % len(modes)]
        results.append(run_trial(root / f"trial-{index:02d}", mode, rng, delay_s))
    return {
        "seed": seed,
        "trials": len(results),
        "killed_runs": sum(r.killed_runs for r in results),
        "killed_workers": sum(r.killed_workers for r in results),
        "runs": sum(r.runs for r in results),
        "pages": sum(r.pages for r in results),
        "lost": sum(len(r.lost) for r in results),
        "redone_after_done": sum(len(r.redone_after_done) for r in results),
        "by_mode": dict(Counter(r.mode for r in results)),
        "min_folders_per_run": min(r.folders_per_run for r in results),
        "lost_pages": [page for r in results for page in r.lost],
    }
