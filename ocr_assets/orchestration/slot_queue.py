"""Unstick a step that Dagster's pool queue left waiting beside a free slot.

Dagster 1.13 queues a step for a pool slot in two moves that are not one transaction:
`claim_concurrency_slot` first asks whether the pool has a slot nobody was given
(`has_unassigned_slots`), then inserts the step's `pending_steps` row, given the slot or not.
A step that frees the pool's last slot between the two moves finds nobody waiting to give it
to; the newcomer's row then goes in unassigned, beside a free slot, and nothing assigns it
again: the run waits for ever. Two `ocr-assets` commands started at once hit this on the
one-slot `corpus` pool (one build waited in `InstanceConcurrencyContext.claim` with the slot
free); any pool and storage can.

`assign_stranded_steps` gives such a step the slot, the way Dagster itself does when a slot is
freed (`assign_pending_steps`). It only acts on a state seen twice, `settle_s` apart, so that a
slot being handed over at that moment is left to Dagster. Assigning is not claiming: the slot
rows stay the semaphore, so a step assigned twice over still runs alone.
`keep_slot_queue_moving` runs it every few seconds beside an in-process run; the sensors run
it on each tick for runs the daemon launched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from time import sleep
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from ocr_assets.orchestration.concurrency import CORPUS_POOL, OCR_POOL

if TYPE_CHECKING:
    import dagster as dg
    from dagster._core.storage.event_log.base import EventLogStorage

PROJECT_POOLS = (OCR_POOL, CORPUS_POOL)
"""The pools the project's steps claim slots in."""
SETTLE_S = 1.0
"""How long a stranded step must stay stranded before it is assigned: far longer than the
moment between a slot freed and Dagster giving it to the next step."""
WATCH_INTERVAL_S = 3.0
"""How often an in-process run's watcher looks at the queue (one small query)."""

QueuedStep = tuple[str, str, str]
"""(pool, run id, step key) of a queued step."""


def stranded_steps(storage: EventLogStorage, pools: Sequence[str]) -> dict[str, list[QueuedStep]]:
    """pool -> its steps that wait unassigned while the pool has slots nobody was given, the
    oldest and most urgent first (Dagster's own order), as many as there are such slots."""
    stranded: dict[str, list[QueuedStep]] = {}
    for pool, info in storage.get_concurrency_infos(list(pools)).items():
        assigned = [step for step in info.pending_steps if step.assigned_timestamp is not None]
        free = info.slot_count - len(assigned)
        waiting = sorted((step for step in info.pending_steps if step.assigned_timestamp is None),
                         key=lambda step: (-(step.priority or 0), step.enqueued_timestamp))
        if free > 0 and waiting:
            stranded[pool] = [(pool, step.run_id, step.step_key) for step in waiting[:free]]
    return stranded


def assign_stranded_steps(storage: EventLogStorage, pools: Sequence[str] = PROJECT_POOLS,
                          settle_s: float = SETTLE_S) -> list[QueuedStep]:
    """Give the pools' free slots to steps stranded now and still stranded `settle_s` later;
    return those steps. Dagster's own order (priority, then age) picks which waiting steps get
    the slots: the same ones, unless a more urgent step queued in the meantime.

    Costs one query when nothing is stranded, which is nearly always."""
    if not storage.supports_global_concurrency_limits:
        return []
    first = stranded_steps(storage, pools)
    if not first:
        return []
    sleep(settle_s)
    second = stranded_steps(storage, list(first))
    assigned: list[QueuedStep] = []
    for pool, steps in second.items():
        still = [step for step in steps if step in first[pool]]
        if still:
            storage.assign_pending_steps([pool] * len(still))
            assigned.extend(still)
    return assigned


@contextmanager
def keep_slot_queue_moving(instance: dg.DagsterInstance,
                           interval_s: float = WATCH_INTERVAL_S) -> Iterator[None]:
    """While the block runs (an in-process run, whose steps may wait for a slot), assign its
    or anyone's stranded steps every `interval_s`. The watcher is a daemon thread, stopped on
    leaving the block."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval_s):
            try:
                assign_stranded_steps(instance.event_log_storage)
            except OperationalError:  # a database busy or briefly away: look again later
                continue

    watcher = threading.Thread(target=watch, name="ocr-assets-slot-queue", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
