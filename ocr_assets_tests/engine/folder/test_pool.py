"""The shared worker pool: reused by consecutive batches, replaced when what a worker inherits
changes, discarded when a batch is interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.folder.pool import keep_in_flight, shutdown_pool, worker_pool
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import Run, new_run


def pids_of(pool, tasks: int = 4) -> set[int]:
    """The worker processes that ran `tasks` tasks."""
    return {pool.schedule(os.getpid).result(timeout=60) for _ in range(tasks)}


@pytest.fixture(autouse=True)
def fresh_pool():
    shutdown_pool()
    yield
    shutdown_pool()


def test_consecutive_batches_share_the_workers() -> None:
    with worker_pool(2, 100) as first:
        before = pids_of(first)
    with worker_pool(2, 100) as second:
        after = pids_of(second)
    assert second is first
    # Tasks land on whichever of the two workers is free, so each batch may see either one;
    # a restarted pool would bring new processes and the union would exceed the two workers.
    assert len(before | after) <= 2 and os.getpid() not in before | after


def test_a_changed_environment_or_worker_count_starts_new_workers(monkeypatch) -> None:
    with worker_pool(2, 100) as first:
        before = pids_of(first)
    monkeypatch.setenv("OCR_ASSETS_TEST_POOL_MARKER", "changed")
    with worker_pool(2, 100) as changed_env:
        assert changed_env is not first and not first.active
        assert pids_of(changed_env).isdisjoint(before)
    with worker_pool(1, 100) as fewer:
        assert fewer is not changed_env


def test_a_worker_is_replaced_after_recycle_after_tasks() -> None:
    with worker_pool(1, recycle_after=2) as pool:
        # One at a time, so the one worker's task count is exact.
        tasks_per_pid = Counter(pool.schedule(os.getpid).result(timeout=60) for _ in range(6))
    assert len(tasks_per_pid) >= 3, tasks_per_pid
    assert max(tasks_per_pid.values()) <= 2, tasks_per_pid


def test_a_batchs_recycle_after_setting_reaches_its_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault engine's log names the worker that read each page: with `recycle_after=1`
    no worker reads two pages, with the default one worker reads them all."""
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("OCR_ASSETS_FAULT_LOG", str(log))
    recycled, kept = new_run(tmp_path / "recycled"), new_run(tmp_path / "kept")
    for run in (recycled, kept):
        for n in range(3):
            Image.new("L", (60, 40), 255).save(run.folder / f"p{n}.png")

    def reader_pids(run: Run, **settings: object) -> list[str]:
        log.unlink(missing_ok=True)
        assert run.process(engine=fault(), workers=1, **settings).done == 3
        return [line.split("\t")[0] for line in log.read_text().splitlines()]

    assert len(set(reader_pids(recycled, recycle_after=1))) == 3
    assert len(set(reader_pids(kept))) == 1


def test_an_interrupted_batch_discards_its_pool() -> None:
    with pytest.raises(KeyboardInterrupt), worker_pool(2, 100) as interrupted:
        pids_of(interrupted)
        raise KeyboardInterrupt
    assert not interrupted.active
    with worker_pool(2, 100) as next_pool:
        assert next_pool is not interrupted


CHILD_USES_THE_POOL = """
import multiprocessing, os, sys
from ocr_assets.engine.folder.pool import worker_pool

def use_the_pool():
    with worker_pool(1, 10) as pool:
        pool.schedule(os.getpid).result(timeout=60)

if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=use_the_pool)
    child.start()
    child.join(120)
    sys.exit(0 if child.exitcode == 0 else 1)
"""


def test_a_multiprocessing_child_that_used_the_pool_still_exits(tmp_path: Path) -> None:
    """A Dagster step under the multiprocess executor is such a child: it joins its
    non-daemonic children before it exits, and skips atexit."""
    script = tmp_path / "child_uses_the_pool.py"
    script.write_text(CHILD_USES_THE_POOL)
    finished = subprocess.run([sys.executable, str(script)], timeout=240, check=False,
                              cwd=Path(__file__).resolve().parents[2])
    assert finished.returncode == 0


def test_keep_in_flight_never_exceeds_its_window_and_settles_every_task() -> None:
    """The loop both passes drive the pool with: at most `window` tasks at once, each settled
    once in the calling thread, and `between` run after each refill and each round."""
    running, most, lock = 0, 0, threading.Lock()
    release = threading.Semaphore(0)

    def task(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.acquire()
        with lock:
            running -= 1
        return n * n

    queue = iter(range(10))
    settled: list[tuple[int, int]] = []
    rounds: list[int] = []
    caller = threading.get_ident()
    with ThreadPoolExecutor(max_workers=8) as executor:

        def submit() -> tuple[Future[int], int] | None:
            n = next(queue, None)
            if n is None:
                return None
            return executor.submit(task, n), n

        def settle(n: int, future: Future[int]) -> None:
            assert threading.get_ident() == caller
            settled.append((n, future.result()))

        def let_one_finish_at_a_time() -> None:  # tasks pile up until the window is full
            for _ in range(10):
                threading.Event().wait(0.02)
                release.release()

        releaser = threading.Thread(target=let_one_finish_at_a_time)
        releaser.start()
        keep_in_flight(3, submit, settle, lambda: rounds.append(len(settled)))
        releaser.join()

    assert sorted(settled) == [(n, n * n) for n in range(10)]
    assert most == 3, "the window was filled, and never exceeded (8 threads could run)"
    assert rounds[-1] == 10 and len(rounds) >= 4
