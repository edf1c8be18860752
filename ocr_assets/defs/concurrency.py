"""How many folders OCR at once, and with how many Tesseract processes each.

Tesseract is CPU-bound (one single-threaded process per page), so the invariant is
`concurrent OCR runs x workers per run <= cores`. Two numbers enforce it:

- the limit of the `tesseract` pool: every step that runs Tesseract claims one of its slots,
  so at most that many OCR steps run at once (queued runs wait in the run queue);
- the workers per run, derived at run time from the pool limit actually in force:
  `cores // min(pool limit, max_concurrent_runs)`.

`dagster.yaml` is static YAML, so the pool limit itself is set in the instance
(`set_concurrency_slots`, what `dagster instance concurrency set tesseract N` does) by the
project's commands and by the sensor on each tick: `OCR_ASSETS_OCR_RUNS` when set, otherwise a
default derived from the cores, unless an operator has set the limit themselves (in the UI
under Deployment > Concurrency, or with the command above): that value is kept.
"""

from __future__ import annotations

import os

import dagster as dg

from ocr_assets.engine.settings import default_workers

OCR_POOL = "tesseract"
"""Dagster pool of every step that runs Tesseract (the OCR of a folder, its retry pass)."""
DEFAULT_OCR_RUNS = 1
"""By default one folder OCRs at a time, with one worker per core: the fastest for big folders
and for `ocr-assets run`, which OCRs folders one after the other. With many small folders on
a big machine, more concurrent runs (`OCR_ASSETS_OCR_RUNS=4`: 4 runs x cores/4 workers) keep
the cores busier at the tail of each folder."""


def configured_ocr_runs() -> int | None:
    """`OCR_ASSETS_OCR_RUNS`, validated; None when unset."""
    value = os.environ.get("OCR_ASSETS_OCR_RUNS", "").strip()
    if not value:
        return None
    try:
        runs = int(value)
    except ValueError:
        raise ValueError(f"OCR_ASSETS_OCR_RUNS={value!r} is not a whole number; set it to how "
                         "many folders may OCR at once") from None
    if runs < 1:
        raise ValueError(f"OCR_ASSETS_OCR_RUNS={runs} must be at least 1")
    return runs


def ensure_pool_limit(instance: dg.DagsterInstance, cores: int | None = None) -> int:
    """Give the `tesseract` pool its limit and return the limit in force.

    `OCR_ASSETS_OCR_RUNS` always wins (at most the cores); otherwise a limit an operator set is
    kept, and a pool with no limit of its own gets `DEFAULT_OCR_RUNS`."""
    cores = cores or default_workers()
    wanted = configured_ocr_runs()
    storage = instance.event_log_storage
    limits = {pool.name: pool for pool in storage.get_pool_limits()}
    current = limits.get(OCR_POOL)
    if wanted is None:
        if current is not None and not current.from_default:
            return current.limit
        wanted = DEFAULT_OCR_RUNS
    wanted = min(wanted, cores)
    if current is None or current.from_default or current.limit != wanted:
        storage.set_concurrency_slots(OCR_POOL, wanted)
    return wanted


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
