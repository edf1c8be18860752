"""Dagster runs executed in this process, against the project's persistent instance: the
folder runs (`ocr_folder_job`, many folders to a run) and the corpus (`corpus_job`), each with
this command's configuration as its run config, so the UI shows what every run used."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ocr_assets.cli.exits import EXIT_BLOCKING_CHECK_FAILED, EXIT_OK, EXIT_RUN_FAILED, Refused
from ocr_assets.cli.progress import Progress
from ocr_assets.engine.project import Project

if TYPE_CHECKING:
    import dagster as dg

    from ocr_assets.orchestration.batches import FolderBatch

QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class Outcome:
    """What went wrong in the runs of one command, for its summary and exit code."""

    blocking_failed: list[str] = field(default_factory=list)
    run_failed: list[str] = field(default_factory=list)


def open_project_instance(project: Project) -> dg.DagsterInstance:
    """The persistent instance, dead in-process runs marked failed, the OCR pool's limit in
    force."""
    import warnings

    import dagster as dg

    from ocr_assets.orchestration.concurrency import ensure_pool_limit
    from ocr_assets.orchestration.instance import (
        dagster_home,
        fail_dead_in_process_runs,
        open_instance,
    )

    # Partitioned asset checks are "preview" in Dagster 1.13; the CLI's users need not see that.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    home = dagster_home(project.data_root, os.environ)
    instance = open_instance(home, on_repair=lambda line: print(
        f"repaired the Dagster instance: {line}", file=sys.stderr))
    for run_id in fail_dead_in_process_runs(instance):
        print(f"run {run_id} was left unfinished by a process that died: marked failed, its "
              "pool slot freed", file=sys.stderr)
    try:
        ensure_pool_limit(instance, project.config.ocr_runs)
    except ValueError as exc:
        raise Refused(f"cannot run: {exc}", EXIT_RUN_FAILED) from exc
    return instance


class Jobs:
    """The project's jobs for one command, their definitions loaded on first use and once: a
    command that ran folders and then the corpus loaded them twice (0.35 s the second time),
    and one with nothing to run never loads them."""

    def __init__(self) -> None:
        self._definitions: dg.Definitions | None = None

    def get(self, name: str) -> dg.JobDefinition:
        if self._definitions is None:
            from ocr_assets.definitions import load_definitions

            self._definitions = load_definitions()
        return self._definitions.resolve_job_def(name)


def _run_config(project: Project) -> dict[str, Any]:
    from ocr_assets.orchestration.resources import run_config

    return {**QUIET_LOGGING, **run_config(project.config)}


def _tags(trigger: str, reason: str | None = None) -> dict[str, str]:
    from ocr_assets.orchestration.instance import in_process_run_tags
    from ocr_assets.orchestration.run_state import TAG_REASON, TAG_TRIGGER

    tags = {TAG_TRIGGER: trigger, **in_process_run_tags()}
    if reason:
        tags[TAG_REASON] = reason
    return tags


def _execute_in_process(instance: dg.DagsterInstance, job: dg.JobDefinition, project: Project,
                        tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    """One run of `job` in this process, with this command's configuration. Its steps claim
    pool slots against other commands and the daemon's runs, so a watcher keeps Dagster's slot
    queue from stranding them (`orchestration/slot_queue.py`)."""
    from ocr_assets.orchestration.slot_queue import keep_slot_queue_moving

    with keep_slot_queue_moving(instance):
        return job.execute_in_process(instance=instance, raise_on_error=False,
                                      run_config=_run_config(project), tags=tags)


def _failure_reason(result: Any) -> str:
    """The first step failure's message of an in-process run, for the terminal."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            return f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
    return f"run {result.run_id} failed; see its logs in the Dagster UI"


def _failed_folders(result: Any) -> dict[str, str]:
    """partition -> why, of the folders the folder step named as failed (the others of the
    run were recorded); every folder of the run when the step failed before it could say."""
    from ocr_assets.orchestration.run_state import FAILED_FOLDERS

    for event in result.all_events:
        if not event.is_step_failure:
            continue
        user = event.step_failure_data.user_failure_data
        if user is not None and FAILED_FOLDERS in user.metadata:
            return dict(user.metadata[FAILED_FOLDERS].data)
    return {}


def _blocking_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """partition -> the blocking checks that failed for it in the run, read from the instance
    (where the folder step recorded them, per folder) a page of records at a time. Asked only
    of a run that failed: a run of folders that all passed has none, and reading back its
    thousands of check results cost the orchestrating process memory for nothing."""
    import dagster as dg

    from ocr_assets.orchestration.run_events import check_evaluations

    failed: dict[str, list[str]] = {}
    for evaluation in check_evaluations(instance, run_id):
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed.setdefault(evaluation.partition or "", []).append(evaluation.check_name)
    return failed


def send_alerts(instance: dg.DagsterInstance, project: Project, run_ids: list[str], *,
                freshness: bool = False) -> None:
    """Alert on the runs this command just executed (and, with `freshness`, on an overdue
    corpus), as the daemon's alert sensor would: the same events, sent once each whoever sees
    them first. A channel that is down or slow costs at most its timeout, once a batch; what
    was not delivered is said here, and never changes the exit code."""
    from ocr_assets.engine.alerts.config import AlertConfig
    from ocr_assets.orchestration.alerts import alert_after_runs

    config = AlertConfig.from_environ(os.environ)
    window_s = None
    if freshness:
        from ocr_assets.orchestration.automation import AutomationConfig

        window_s = AutomationConfig.from_environ(os.environ).corpus_freshness_h * 3600
    delivery, problems = alert_after_runs(instance, project, run_ids, config, window_s)
    for line in problems:
        print(f"alerts: {line}", file=sys.stderr)
    for key, why in delivery.failures.items():
        print(f"alert {key} not delivered everywhere: {why}", file=sys.stderr)


def execute_folders(instance: dg.DagsterInstance, project: Project, jobs: Jobs,
                    reasons: dict[str, str], pages_to_do: int, *, trigger: str,
                    job_name: str = "ocr_folder_job") -> Outcome:
    """In-process runs of `job_name` over the partitions of `reasons` (key -> why), many
    folders to a run (`OCR_ASSETS_FOLDERS_PER_RUN`, consecutive partitions), with the progress
    bar. With no partition to run, the definitions (and pandas, which the corpus asset
    imports) are not even loaded."""
    outcome = Outcome()
    if not reasons:
        return outcome
    from ocr_assets.orchestration.automation import AutomationConfig
    from ocr_assets.orchestration.batches import folder_batches
    from ocr_assets.orchestration.partitions import scan_folders

    folders_per_run = AutomationConfig.from_environ(os.environ).folders_per_run
    batches = folder_batches(instance.get_dynamic_partitions(scan_folders.name), reasons,
                             folders_per_run)
    folder_job = jobs.get(job_name)
    with _loaded_objects_frozen(), Progress(pages_to_do, project.manifest) as progress:
        for batch in batches:
            progress.watch(batch.keys)
            _execute_batch(instance, project, folder_job, batch, trigger, outcome)
            _collect_run_garbage()
    return outcome


@contextmanager
def _loaded_objects_frozen() -> Iterator[None]:
    """The objects alive before the folder runs (the imported modules, the definitions: about
    265,000) kept out of the collector's walks while the runs execute: they outlive every run,
    and a full collection walked them all after each run (0.26-0.37 s a run on a 2-core
    machine, where the run's own garbage takes 0.005-0.03 s). Collected first, so that no
    garbage of the planning is frozen with them, and unfrozen after, so that a process that
    goes on (a test, a notebook) is left with nothing frozen."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _collect_run_garbage() -> None:
    """Free what the run just executed left in reference cycles (its result and its events:
    about 25,000 objects for 200 folders) before the next run, or the corpus run, allocates
    its own. Left to the collector's own schedule, they lived on into the next run and raised
    the process's peak by about 2.5 MiB, whatever the run size (docs/benchmarks.md, "Many
    small folders"). With the loaded objects frozen, it walks only what the run left."""
    gc.collect()


def _execute_batch(instance: dg.DagsterInstance, project: Project, folder_job: dg.JobDefinition,
                   batch: FolderBatch, trigger: str, outcome: Outcome) -> None:
    """One in-process run over the batch's folders, what went wrong added to `outcome`. The
    run's result (every event of the run) is let go when this returns, before the next run
    starts: a command that runs many batches holds one run's events at most."""
    result = _execute_in_process(instance, folder_job, project,
                                 {**batch.partition_tags(), **_tags(trigger, batch.reason())})
    send_alerts(instance, project, [result.run_id])
    if result.success:  # a failed blocking check fails the folder step: none failed
        return
    blocking = _blocking_failures(instance, result.run_id)
    for key, checks in sorted(blocking.items()):
        outcome.blocking_failed.append(f"{key}: {', '.join(checks)}")
    failed = _failed_folders(result)
    for key, why in sorted(failed.items()):
        if key not in blocking:
            outcome.run_failed.append(f"{key}: {why}")
    if not failed:
        outcome.run_failed.append(f"{', '.join(batch.keys)}: {_failure_reason(result)}")


def execute_corpus(instance: dg.DagsterInstance, project: Project, jobs: Jobs,
                   outcome: Outcome, *, trigger: str) -> None:
    result = _execute_in_process(instance, jobs.get("corpus_job"), project, _tags(trigger))
    send_alerts(instance, project, [result.run_id], freshness=True)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            outcome.blocking_failed.append(f"corpus: {evaluation.check_name}")
    if not result.success and not outcome.blocking_failed:
        outcome.run_failed.append(f"corpus: {_failure_reason(result)}")


def summarise(project: Project, outcome: Outcome) -> int:
    """The closing lines of a command that ran things, and its exit code. The pages and the
    folders are counted by the manifest: not `status`'s document, whose row per folder (with
    its flagged pages, a query each) the line does not show."""
    from ocr_assets.engine.corpus.layout import PARQUET_KEY
    from ocr_assets.engine.manifest import DONE, FAILED, PENDING, RUNNING

    manifest = project.manifest
    pages = {status: count for status, (count, _) in manifest.status_totals().items()}
    folders = manifest.folder_count()
    print(f"done: {pages.get(DONE, 0)} pages, failed: {pages.get(FAILED, 0)}, pending: "
          f"{pages.get(PENDING, 0) + pages.get(RUNNING, 0)}, in {folders} folders; corpus: "
          f"{project.corpus_store.uri(PARQUET_KEY)}")
    for line in outcome.blocking_failed:
        print(f"blocking check failed: {line}", file=sys.stderr)
    for line in outcome.run_failed:
        print(f"run failed: {line}", file=sys.stderr)
    if outcome.blocking_failed:
        return EXIT_BLOCKING_CHECK_FAILED
    return EXIT_RUN_FAILED if outcome.run_failed else EXIT_OK


def engine_ready(project: Project) -> bool:
    """Whether the engine can read pages; says what to install when it cannot."""
    from ocr_assets.engine.page.engines.registry import check_settings_ready

    try:
        check_settings_ready(project.settings)
    except (RuntimeError, ValueError) as exc:
        print(f"cannot OCR: {exc}", file=sys.stderr)
        return False
    return True
