"""A step Dagster's pool queue stranded beside a free slot gets it (`slot_queue.py`).

The strand is made with the storage calls two racing processes make, in the order that strands:
the newcomer found no free slot, the holder freed the slot and found nobody waiting, then the
newcomer's row went in unassigned."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ocr_assets.cli.runs import Jobs, Outcome, execute_corpus
from ocr_assets.defs.automation.sensors import evaluate_corpus
from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.engine.project import Project
from ocr_assets.orchestration import slot_queue
from ocr_assets.orchestration.concurrency import CORPUS_POOL, OCR_POOL, ensure_pool_limit
from ocr_assets.orchestration.slot_queue import assign_stranded_steps, stranded_steps
from ocr_assets_tests.project_defs import NO_COMPUTE_LOGS


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"compute_logs": NO_COMPUTE_LOGS}) as instance:
        ensure_pool_limit(instance, 1, cores=2)
        yield instance


@pytest.fixture(params=["sqlite", "postgres"])
def storage_instance(request: pytest.FixtureRequest) -> Iterator[dg.DagsterInstance]:
    """The embedded default's storage, and the production one (dagster-postgres)."""
    overrides: dict[str, object] = {"compute_logs": NO_COMPUTE_LOGS}
    if request.param == "postgres":
        url = request.getfixturevalue("new_postgres_database")()
        # The driver the project's deploy files name (SQLAlchemy's default is psycopg 3).
        overrides["storage"] = {"postgres": {"postgres_url": url.replace(
            "postgresql://", "postgresql+psycopg2://", 1)}}
    with dg.instance_for_test(overrides=overrides) as instance:
        ensure_pool_limit(instance, 1, cores=2)
        yield instance


def _strand(storage, pool: str, holder: str, newcomer: str) -> None:
    """`holder` holds the pool's one slot; `newcomer` queues just as `holder` lets it go."""
    assert storage.claim_concurrency_slot(pool, holder, "step").is_claimed
    assert not storage.has_unassigned_slots(pool)  # what the newcomer saw
    storage.free_concurrency_slots_for_run(holder)  # finds nobody waiting
    storage.add_pending_step(pool, newcomer, "step", should_assign=False)


def test_a_stranded_step_is_assigned_and_then_claims_the_slot(
        storage_instance: dg.DagsterInstance) -> None:
    storage = storage_instance.event_log_storage
    _strand(storage, CORPUS_POOL, "holder", "newcomer")
    claim = storage.claim_concurrency_slot(CORPUS_POOL, "newcomer", "step")
    assert not claim.is_assigned and not claim.is_claimed, "Dagster left it stranded"
    assert stranded_steps(storage, [CORPUS_POOL, OCR_POOL]) == {
        CORPUS_POOL: [(CORPUS_POOL, "newcomer", "step")]}

    assert assign_stranded_steps(storage, settle_s=0) == [(CORPUS_POOL, "newcomer", "step")]
    assert storage.claim_concurrency_slot(CORPUS_POOL, "newcomer", "step").is_claimed
    assert assign_stranded_steps(storage, settle_s=0) == []


def test_a_step_waiting_for_a_held_slot_is_left_waiting(
        storage_instance: dg.DagsterInstance) -> None:
    storage = storage_instance.event_log_storage
    assert storage.claim_concurrency_slot(OCR_POOL, "holder", "step").is_claimed
    assert not storage.claim_concurrency_slot(OCR_POOL, "waiter", "step").is_assigned
    assert stranded_steps(storage, [OCR_POOL]) == {}
    assert assign_stranded_steps(storage, settle_s=0) == []
    assert not storage.claim_concurrency_slot(OCR_POOL, "waiter", "step").is_assigned


def test_a_slot_handed_over_while_settling_is_left_to_dagster(
        storage_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen stranded once, then assigned by Dagster before the second look: not assigned a
    second time, so the next step in the queue is not given a slot that is not free."""
    storage = storage_instance.event_log_storage
    _strand(storage, OCR_POOL, "holder", "first")
    storage.add_pending_step(OCR_POOL, "second", "step", should_assign=False)
    monkeypatch.setattr(slot_queue, "sleep",
                        lambda _s: storage.assign_pending_steps([OCR_POOL]))
    assert assign_stranded_steps(storage) == []
    info = storage.get_concurrency_info(OCR_POOL)
    assert {step.run_id for step in info.pending_steps if step.assigned_timestamp} == {"first"}


def test_a_commands_corpus_run_stranded_by_another_command_finishes(
        instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """The hang two `ocr-assets run` commands started at once met: the corpus build queued
    behind the other command's build, which let the slot go without assigning it."""
    storage = instance.event_log_storage
    project = Project(ProjectConfig(data_root=str(tmp_path / "data"),
                                    scans_root=str(tmp_path / "scans")))
    (tmp_path / "scans").mkdir()
    assert storage.claim_concurrency_slot(CORPUS_POOL, "other-command", "ocr_corpus").is_claimed
    outcome = Outcome()
    build = threading.Thread(target=execute_corpus, args=(instance, project, Jobs(), outcome),
                             kwargs={"trigger": "test"})
    build.start()
    deadline = time.monotonic() + 60
    while not storage.get_concurrency_info(CORPUS_POOL).pending_steps[1:]:
        assert time.monotonic() < deadline, "the corpus run never queued for the slot"
        time.sleep(0.1)
    # The other command lets the slot go the way the race does: without assigning it.
    storage._free_concurrency_slots("other-command")
    storage._remove_pending_steps("other-command")
    build.join(timeout=90)
    assert not build.is_alive(), "the corpus run still waits for a free slot"
    assert outcome.run_failed == [] and outcome.blocking_failed == []
    assert project.corpus_store.exists(PARQUET_KEY)


def test_the_corpus_sensor_unsticks_the_daemons_runs(
        instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the daemon launched have no watcher: each sensor tick looks for them."""
    storage = instance.event_log_storage
    _strand(storage, OCR_POOL, "holder", "launched-run")
    monkeypatch.setattr(slot_queue, "sleep", lambda _s: None)
    evaluate_corpus(dg.build_sensor_context(instance=instance), max_age_s=60)
    assert storage.claim_concurrency_slot(OCR_POOL, "launched-run", "step").is_claimed
