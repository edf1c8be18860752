"""Retries and concurrency: the project's dagster.yaml as an instance loads it, the OCR pool's
limit, and workers per run that keep concurrent runs x workers within the cores."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.orchestration.concurrency import (
    CORPUS_POOL,
    OCR_POOL,
    ensure_pool_limit,
    pool_limit,
    workers_per_run,
)
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML, render_instance_yaml
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets_tests.project_defs import (
    CORPUS_TAG,
    NO_COMPUTE_LOGS,
    corpus_complete,
    corpus_job,
    ocr_corpus,
    ocr_scan_folders,
)


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_bytes(
        render_instance_yaml(PROJECT_INSTANCE_YAML.read_text(), tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def test_dagster_yaml_retries_crashed_runs_only(instance: dg.DagsterInstance) -> None:
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2
    assert not instance.run_retries_retry_on_asset_or_op_failure
    assert instance.run_monitoring_enabled


def test_dagster_yaml_queues_runs_and_limits_the_ocr_pool(instance: dg.DagsterInstance) -> None:
    config = instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    assert config.pool_config.pool_granularity.value == "op"
    queue = config.run_queue_config
    assert queue.max_concurrent_runs == 10
    assert {"key": "ocr_assets/job", "value": "corpus", "limit": 1} in \
        queue.tag_concurrency_limits
    assert corpus_job.tags == CORPUS_TAG
    assert instance.run_coordinator.dequeue_interval_seconds == 1, \
        "a requested run leaves the queue within a second, not Dagster's default 5"


def test_the_tesseract_step_is_in_the_pool_and_retries_with_a_backoff() -> None:
    """The folder step runs Tesseract (the main pass and the retry pass) for every folder of
    its run: it claims one slot of the pool, and retries a transient failure."""
    assert ocr_scan_folders.op.pool == OCR_POOL
    policy = ocr_scan_folders.op.retry_policy
    assert policy.max_retries >= 1
    assert policy.backoff == dg.Backoff.EXPONENTIAL
    assert policy.jitter == dg.Jitter.PLUS_MINUS


def test_pool_limit_defaults_to_one_keeps_an_operators_choice_and_obeys_the_variable(
        instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCR_ASSETS_OCR_RUNS", raising=False)
    assert ensure_pool_limit(instance, cores=8) == 1
    assert workers_per_run(instance, 0, cores=8) == 8

    instance.event_log_storage.set_concurrency_slots(OCR_POOL, 2)  # set in the UI
    assert ensure_pool_limit(instance, cores=8) == 2
    assert workers_per_run(instance, 0, cores=8) == 4

    assert ensure_pool_limit(instance, 16, cores=8) == 8, "never more runs than cores"
    assert workers_per_run(instance, 0, cores=8) == 1
    assert workers_per_run(instance, 3, cores=8) == 3, "OCR_ASSETS_WORKERS wins"

    with pytest.raises(ValueError, match="OCR_ASSETS_OCR_RUNS"):
        ensure_pool_limit(instance, -1)
    with pytest.raises(ValueError, match="OCR_ASSETS_OCR_RUNS"):
        ProjectConfig.from_environ({"OCR_ASSETS_OCR_RUNS": "none"})


def _tesseract_pool(instance: dg.DagsterInstance) -> tuple[int, bool] | None:
    """(limit, taken from the default) of the pool as stored, None without a row."""
    for pool in instance.event_log_storage.get_pool_limits():
        if pool.name == OCR_POOL:
            return pool.limit, pool.from_default
    return None


def test_a_configured_pool_default_is_kept_and_written_as_the_pools_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster's dagster.yaml (or the Helm chart's concurrency.pools.defaultLimit) sets the
    OCR steps of all its nodes: the sensor must not replace it with one slot, nor cap it at the
    cores of the code server it runs in."""
    monkeypatch.delenv("OCR_ASSETS_OCR_RUNS", raising=False)
    cluster = {"concurrency": {"pools": {"default_limit": 4}}}
    with dg.instance_for_test(overrides=cluster) as instance:
        assert _tesseract_pool(instance) is None
        assert ensure_pool_limit(instance, cores=2) == 4
        assert _tesseract_pool(instance) == (4, False), "written, so never initialised again"
        assert pool_limit(instance) == 4

    with dg.instance_for_test(overrides=cluster) as instance:
        # What Dagster does when a step claims a slot first: a row taken from the default.
        instance.event_log_storage.initialize_concurrency_limit_to_default(OCR_POOL)
        assert _tesseract_pool(instance) == (4, True)
        assert ensure_pool_limit(instance, cores=2) == 4
        assert _tesseract_pool(instance) == (4, False)

        instance.event_log_storage.set_concurrency_slots(OCR_POOL, 6)  # set in the UI
        assert ensure_pool_limit(instance, cores=2) == 6, "an operator's limit beats the default"
        assert ensure_pool_limit(instance, 3, cores=8) == 3, "the setting beats both"


def test_without_a_configured_default_the_pool_gets_one_slot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCR_ASSETS_OCR_RUNS", raising=False)
    with dg.instance_for_test() as instance:
        assert instance.global_op_concurrency_default_limit is None
        assert ensure_pool_limit(instance, cores=8) == 1
        assert _tesseract_pool(instance) == (1, False)


def test_runs_times_workers_never_exceed_the_cores(instance: dg.DagsterInstance) -> None:
    """Concurrent OCR runs are bounded by the pool and by max_concurrent_runs (10 here)."""
    for cores in (1, 2, 3, 8, 16, 64):
        for runs in range(1, cores + 3):
            assert ensure_pool_limit(instance, runs, cores=cores) <= cores
            concurrent = pool_limit(instance)
            assert concurrent == min(runs, cores, 10)
            assert concurrent * workers_per_run(instance, 0, cores=cores) <= cores


def test_one_corpus_build_or_check_at_a_time_whatever_the_default(tmp_path: Path) -> None:
    """The corpus build and its check share the `corpus` pool, which gets one slot even where
    a cluster's default is 4: a second build waits for the first instead of writing the
    corpus's files over its files."""
    assert ocr_corpus.op.pool == CORPUS_POOL
    assert corpus_complete.node_def.pool == CORPUS_POOL
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 4}},
                                         "compute_logs": NO_COMPUTE_LOGS}) as instance:
        instance.event_log_storage.set_concurrency_slots(CORPUS_POOL, 3)  # set in the UI
        ensure_pool_limit(instance, cores=2)
        assert {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}[
            CORPUS_POOL] == 1
        ocr = OcrConfig(scans_root=str(tmp_path / "scans"), data_root=str(tmp_path / "data"))
        (tmp_path / "scans").mkdir()
        instance.event_log_storage.claim_concurrency_slot(CORPUS_POOL, "a-build", "ocr_corpus")
        results: list[dg.ExecuteInProcessResult] = []
        second = threading.Thread(target=lambda: results.append(dg.materialize(
            [ocr_corpus, corpus_complete], instance=instance, resources={"ocr": ocr})))
        second.start()
        time.sleep(4)
        assert second.is_alive() and not ocr.project().corpus_store.exists(PARQUET_KEY), \
            "the second build did not wait for the slot"
        instance.event_log_storage.free_concurrency_slots_for_run("a-build")
        second.join(timeout=60)
        assert results and results[0].success
        assert ocr.project().corpus_store.exists(PARQUET_KEY)
