"""How many folders OCR at once, and with how many Tesseract processes each.

Tesseract is CPU-bound (one single-threaded process per page), so the invariant is
`concurrent OCR runs x workers per run <= cores`. Two numbers enforce it:

- the limit of the `tesseract` pool: every step that runs Tesseract claims one of its slots,
  so at most that many OCR steps run at once (queued runs wait in the run queue);
- the workers per run, derived at run time from the pool limit actually in force:
  `cores // min(pool limit, max_concurrent_runs)`.

The pool limit itself is written into the instance (`set_concurrency_slots`, what
`dagster instance concurrency set tesseract N` does) by the project's commands and by the
sensor on each tick: the project's `ocr_runs` (`OCR_ASSETS_OCR_RUNS`) when set; otherwise a
limit an operator set (in the UI under Deployment > Concurrency, or with the command above) is
kept; otherwise the instance's
`concurrency: pools: default_limit` (a cluster's dagster.yaml, or the Helm chart's
`concurrency.pools.defaultLimit`); otherwise `DEFAULT_OCR_RUNS`.

Why write the default at all instead of leaving it to Dagster: Dagster 1.13 initialises a
pool's limit from the default when a step first claims a slot, and on PostgreSQL that crashes
runs which initialise it at the same moment, or after the default changed
(dagster-io/dagster#33552). A limit written explicitly is never initialised again.

A second pool, `corpus`, has one slot, always: the corpus build and its check are its steps,
so builds never overlap (`CORPUS_POOL`).
"""

from __future__ import annotations

import dagster as dg

from ocr_assets.engine.settings import default_workers

OCR_POOL = "tesseract"
"""Dagster pool of every step that runs Tesseract (the OCR of a folder, its retry pass)."""
CORPUS_POOL = "corpus"
"""Dagster pool of the corpus build and its check, with one slot: two runs that build the
corpus at once (two commands, a command and the daemon's corpus sensor) would otherwise write
its files over each other's, and a check could read one build's Parquet beside another's
index."""
DEFAULT_OCR_RUNS = 1
"""By default one folder OCRs at a time, with one worker per core: the fastest for big folders
and for `ocr-assets run`, which OCRs folders one after the other. With many small folders on
a big machine, more concurrent runs (`OCR_ASSETS_OCR_RUNS=4`: 4 runs x cores/4 workers) keep
the cores busier at the tail of each folder."""


def ensure_pool_limit(instance: dg.DagsterInstance, ocr_runs: int = 0,
                      cores: int | None = None) -> int:
    """Give the `tesseract` pool its limit and return the limit in force.

    `ocr_runs` (the project's `OCR_ASSETS_OCR_RUNS`), when above 0, always wins (at most the
    cores); otherwise a limit an operator set is
    kept; a pool with no limit of its own, or only one Dagster took from the default, gets the
    instance's configured default limit, and `DEFAULT_OCR_RUNS` where none is configured.

    The configured default is not capped at the cores of this process: on a cluster it counts
    OCR steps on all the OCR nodes, and this process (a code server) may run on none of them.
    Once written, the limit counts as set: a later change of the default takes effect through
    `dagster instance concurrency set tesseract N` (or `OCR_ASSETS_OCR_RUNS`)."""
    if ocr_runs < 0:
        raise ValueError(f"OCR_ASSETS_OCR_RUNS={ocr_runs} must be at least 1 (or 0: not set)")
    ensure_corpus_pool(instance)
    wanted = ocr_runs or None
    storage = instance.event_log_storage
    limits = {pool.name: pool for pool in storage.get_pool_limits()}
    current = limits.get(OCR_POOL)
    if wanted is not None:
        wanted = min(wanted, cores or default_workers())
    elif current is not None and not current.from_default:
        return current.limit
    else:
        configured = instance.global_op_concurrency_default_limit
        wanted = configured if configured is not None else DEFAULT_OCR_RUNS
    if current is None or current.from_default or current.limit != wanted:
        storage.set_concurrency_slots(OCR_POOL, wanted)
    return wanted


def ensure_corpus_pool(instance: dg.DagsterInstance) -> None:
    """Give the `corpus` pool its one slot, written like the `tesseract` pool's limit (a pool
    with no limit of its own would let every corpus step run at once)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    limits = {pool.name: pool for pool in storage.get_pool_limits()}
    current = limits.get(CORPUS_POOL)
    if current is None or current.from_default or current.limit != 1:
        storage.set_concurrency_slots(CORPUS_POOL, 1)


def pool_limit(instance: dg.DagsterInstance) -> int:
    """The limit of the `tesseract` pool in force now (1 when the instance has none)."""
    limits = {pool.name: pool.limit for pool in instance.event_log_storage.get_pool_limits()}
    limit = limits.get(OCR_POOL) or instance.global_op_concurrency_default_limit or 1
    max_runs = _max_concurrent_runs(instance)
    return max(1, min(limit, max_runs) if max_runs > 0 else limit)


def _max_concurrent_runs(instance: dg.DagsterInstance) -> int:
    queue = instance.get_concurrency_config().run_queue_config
    return queue.max_concurrent_runs if queue is not None else -1


def workers_per_run(instance: dg.DagsterInstance, configured: int,
                    cores: int | None = None) -> int:
    """Tesseract processes for one run: the configured number (`OCR_ASSETS_WORKERS`), or
    `cores // concurrent OCR runs`, so that all the runs together never exceed the cores."""
    if configured > 0:
        return configured
    return max(1, (cores or default_workers()) // pool_limit(instance))
