"""The OCR worker pool, kept for the life of the process and shared by every folder's batch.

Starting a pool costs every worker a Python start, the engine's imports and, with a kept-loaded
engine, the language model: 0.5-1 s per folder on 2 cores (docs/benchmarks.md), during which no page
is read. A process that runs many folders (`ocr-assets run` runs one in-process Dagster run per
folder) pays that once, and a kept-loaded engine stays loaded from one folder to the next.

A worker inherits its environment and working directory when it starts, so the pool is replaced
when either changed, or the worker count or recycling did; it is discarded when a batch is
interrupted, so no abandoned page finishes in the background; and it is stopped when the
process exits. That includes a process that is itself a multiprocessing child (a Dagster step
under the multiprocess executor): such a child joins its non-daemonic children (pebble's
workers are) before it exits and skips `atexit`, so the pool is stopped by a multiprocessing
finalizer, which runs before that join, in the main process and in children alike.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.util
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TypeVar

from pebble import ProcessPool

from ocr_assets.engine.page.worker import init_worker

Item = TypeVar("Item")
Result = TypeVar("Result")
_lock = threading.Lock()
_shared: tuple[tuple[object, ...], ProcessPool] | None = None
_finalizer_of_pid: int | None = None
"""The process whose exit already stops the pool (a forked child must register its own)."""
EXIT_PRIORITY = 100
"""Multiprocessing runs finalizers of priority >= 0 before it joins the children."""


def _inherited(workers: int, recycle_after: int, memory_mb: int) -> tuple[object, ...]:
    """Everything a started worker keeps: a change means a new pool. The process id is part
    of it: a forked child must not use (or stop) its parent's pool."""
    return (os.getpid(), workers, recycle_after, memory_mb, os.getcwd(),
            tuple(sorted(os.environ.items())))


def _stop_locked() -> None:
    global _shared
    if _shared is not None:
        inherited, pool = _shared
        _shared = None
        if inherited[0] == os.getpid():
            pool.stop()
            pool.join()


def shutdown_pool() -> None:
    """Stop the shared pool's workers (a new batch starts a new pool)."""
    with _lock:
        _stop_locked()


@contextlib.contextmanager
def worker_pool(workers: int, recycle_after: int, memory_mb: int = 0) -> Iterator[ProcessPool]:
    """The shared pool of `workers` processes, each replaced after `recycle_after` pages, each
    dying with this process and limited to `memory_mb` of address space (`init_worker`)."""
    global _shared, _finalizer_of_pid
    wanted = _inherited(workers, recycle_after, memory_mb)
    with _lock:
        if _shared is not None and (_shared[0] != wanted or not _shared[1].active):
            _stop_locked()
        if _finalizer_of_pid != os.getpid():
            multiprocessing.util.Finalize(None, shutdown_pool, exitpriority=EXIT_PRIORITY)
            _finalizer_of_pid = os.getpid()
        if _shared is None:
            # spawn, not fork: the parent may be a Dagster run with threads (gRPC, event
            # writers), and forking a threaded process can deadlock the child.
            _shared = (wanted, ProcessPool(max_workers=max(1, workers), max_tasks=recycle_after,
                                           context=multiprocessing.get_context("spawn"),
                                           initializer=init_worker,
                                           initargs=(memory_mb, os.getpid())))
        pool = _shared[1]
    try:
        yield pool
    except BaseException:
        shutdown_pool()
        raise



def keep_in_flight(window: int, submit: Callable[[], tuple[Future[Result], Item] | None],
                   settle: Callable[[Item, Future[Result]], None],
                   between: Callable[[], None] = lambda: None) -> None:
    """Keep up to `window` tasks in flight until `submit` has none left and every one is
    settled. `submit` schedules the next task and returns its future with what `settle` needs
    to record it (None when there is no task left); `settle` hears each finished task in this
    thread; `between` runs after each refill and each round of settled tasks.

    Why a window of tasks rather than all of them at once: a page is claimed (its lease
    starts) only when it is submitted, so a page waiting its turn never outlives its lease,
    and the next folder's pages start while the previous folder's last pages finish."""
    in_flight: dict[Future[Result], Item] = {}
    while True:
        while len(in_flight) < window:
            found = submit()
            if found is None:
                break
            future, item = found
            in_flight[future] = item
        between()
        if not in_flight:
            return
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            settle(in_flight.pop(future), future)
        between()
