"""Which events become alerts, read from Dagster: the same code for the alert sensor (daemon
runs, and command-line runs when a daemon is up) and for the command line after its own runs.

A finished run gives:
- one `blocking_check_failed` alert per folder (or for the corpus) whose blocking checks failed
  in it, naming the checks, with the folder's page counts from the manifest;
- one `failed_share` alert per folder whose failed pages are over `OCR_ASSETS_ALERT_FAILED_SHARE`
  but within the blocking limit (keyed by its counts: the nightly re-run of an unchanged folder
  says nothing new);
- one `run_failed` alert when it failed for anything a blocking check does not explain (folders
  that could not run, a crash, a step out of retries), naming the folders and why.
So a folder whose blocking check failed its run is one message, not two. The corpus's freshness
is read from its last build and the folder materializations after it (`engine.alerts.freshness`).
"""

from __future__ import annotations

import time

import dagster as dg

from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.engine.alerts.dispatch import Delivery, deliver
from ocr_assets.engine.alerts.freshness import CorpusFreshness
from ocr_assets.engine.alerts.message import (
    BLOCKING_CHECK_FAILED,
    FAILED_SHARE,
    RUN_FAILED,
    Alert,
    FolderIssue,
)
from ocr_assets.engine.manifest import DONE, FAILED, PENDING, RUNNING
from ocr_assets.engine.project import Project
from ocr_assets.orchestration.alert_channels import alert_channels
from ocr_assets.orchestration.run_events import check_evaluations
from ocr_assets.orchestration.run_state import FAILED_FOLDERS, PAGE_TEXTS

CORPUS = dg.AssetKey("ocr_corpus")
SHARE_CHECK = "failure_share"
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
"""The error of a step that Dagster failed because a blocking check did not pass."""
WAITING_LIMIT = 1000
"""At most this many folder materializations after the corpus build are read for its
freshness: enough to name the folders, bounded for a sensor tick."""


def _folder(project: Project, partition: str, why: str) -> FolderIssue:
    record = project.manifest.folder(partition)
    return FolderIssue(partition, record.folder_name if record else None, why)


def _folder_counts(project: Project, partition: str) -> dict[str, int | float]:
    """The folder's pages by status as the manifest has them after the run."""
    counts = project.manifest.status_counts(partition).get(partition, {})
    pages = sum(counts.values())
    return {"pages": pages, "done": counts.get(DONE, 0), "failed": counts.get(FAILED, 0),
            "pending": counts.get(PENDING, 0) + counts.get(RUNNING, 0),
            "failed_share": round(counts.get(FAILED, 0) / pages, 4) if pages else 0.0}


def _numbers(metadata: dict[str, dg.MetadataValue]) -> dict[str, int | float]:
    return {name: value.value for name, value in metadata.items()
            if isinstance(value, dg.IntMetadataValue | dg.FloatMetadataValue)
            and value.value is not None}


def _unexplained_failures(instance: dg.DagsterInstance, run: dg.DagsterRun,
                          blocked: set[str]) -> tuple[dict[str, str], list[str]]:
    """The run's failures that no failed blocking check explains: partition -> why for the
    folders the folder step named (but the `blocked` ones), and the other steps' messages (but
    those Dagster failed for a blocking check); the run's own message when no step failed (a
    crash, a dead process, a stop)."""
    folders: dict[str, str] = {}
    others: list[str] = []
    step_failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for entry in step_failures:
        failure = entry.dagster_event.step_failure_data
        user = failure.user_failure_data
        if user is not None and FAILED_FOLDERS in user.metadata:
            named = dict(user.metadata[FAILED_FOLDERS].data)
            folders.update({key: why for key, why in named.items() if key not in blocked})
        elif failure.error is None or failure.error.cls_name != CHECK_FAILED_ERROR:
            message = failure.error.message.strip() if failure.error else "no error recorded"
            others.append(f"{entry.dagster_event.step_key}: {message.splitlines()[0]}")
    if not step_failures:
        failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        others.append(failures[-1].message.strip().splitlines()[0] if failures
                      else f"run {run.run_id} failed")
    return folders, others


def run_alerts(instance: dg.DagsterInstance, project: Project, run_id: str,
               config: AlertConfig) -> list[Alert]:
    """The alerts of one finished run (none for a run that is not finished, or is gone)."""
    run = instance.get_run_by_id(run_id)
    if run is None or not run.is_finished:
        return []
    url = config.run_url(run_id)
    common = {"run_id": run_id, "job": run.job_name, "url": url}
    alerts: list[Alert] = []
    blocking: dict[str | None, list[dg.AssetCheckEvaluation]] = {}
    for evaluation in check_evaluations(instance, run_id):
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            blocking.setdefault(evaluation.partition, []).append(evaluation)
        elif evaluation.passed and evaluation.check_name == SHARE_CHECK and evaluation.partition:
            numbers = _numbers(evaluation.metadata)
            if numbers.get("failed_share", 0.0) > config.failed_share:
                # Keyed by the counts the check saw: the same state of the folder, seen by
                # another run (the nightly one), is not news.
                alerts.append(Alert(
                    key=f"{FAILED_SHARE}:{evaluation.partition}:{numbers.get('failed')}:"
                        f"{numbers.get('pages')}",
                    kind=FAILED_SHARE,
                    what=(f"{evaluation.description}; above the alert share of "
                          f"{config.failed_share:.0%}: look at its failed_pages report for "
                          "the cause, fix it, then `ocr-assets retry-failed`"),
                    folders=(_folder(project, evaluation.partition, "failed-page share"),),
                    counts=_folder_counts(project, evaluation.partition), **common))
    for partition, failed in blocking.items():
        checks = "; ".join(f"{e.check_name}: {e.description or 'failed'}" for e in failed)
        what = (f"{checks}; the folder stays out of the corpus until its checks pass"
                if partition else f"{checks}; the corpus was not updated")
        counts = (_folder_counts(project, partition) if partition
                  else {k: v for e in failed for k, v in _numbers(e.metadata).items()})
        subject = partition or failed[0].asset_key.to_user_string()
        alerts.append(Alert(
            key=f"{BLOCKING_CHECK_FAILED}:{run_id}:{subject}",
            kind=BLOCKING_CHECK_FAILED, what=what,
            folders=(_folder(project, partition, checks),) if partition else (),
            counts=counts, **common))
    if run.status == dg.DagsterRunStatus.FAILURE:
        folders, others = _unexplained_failures(
            instance, run, {key for key in blocking if key is not None})
        if folders or others:
            reasons = others + [f"{key}: {why}" for key, why in sorted(folders.items())]
            alerts.append(Alert(
                key=f"{RUN_FAILED}:{run_id}", kind=RUN_FAILED,
                what=(f"{run.job_name} failed: {'; '.join(reasons[:5])}"
                      + (f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else "")),
                folders=tuple(_folder(project, key, why) for key, why in sorted(folders.items())),
                counts={"folders_failed": len(folders)}, **common))
    return alerts


def corpus_freshness(instance: dg.DagsterInstance, window_s: float) -> CorpusFreshness:
    """The corpus's last build and the folders materialized after it."""
    built = instance.fetch_materializations(CORPUS, limit=1).records
    build = built[0] if built else None
    after = dg.AssetRecordsFilter(asset_key=PAGE_TEXTS,
                                  after_storage_id=build.storage_id if build else None)
    changes = instance.fetch_materializations(after, limit=WAITING_LIMIT, ascending=True).records
    waiting = sorted({record.partition_key for record in changes if record.partition_key})
    return CorpusFreshness(
        window_s=window_s, built_at=build.timestamp if build else None,
        build_id=build.storage_id if build else None,
        first_change_at=changes[0].timestamp if changes else None, waiting=tuple(waiting))


def freshness_alerts(instance: dg.DagsterInstance, config: AlertConfig, window_s: float,
                     now: float) -> list[Alert]:
    """The corpus-overdue alert, when it is overdue at `now`."""
    freshness = corpus_freshness(instance, window_s)
    if not freshness.overdue(now):
        return []
    return [freshness.alert(now, config.asset_url(CORPUS.to_user_string()))]


def send_alerts(project: Project, alerts: list[Alert],
                config: AlertConfig) -> tuple[Delivery, list[str]]:
    """Deliver `alerts` to the configured channels, each once (the manifest is the ledger);
    returns what was done and the lines about channels that cannot be used."""
    channels, problems = alert_channels(config)
    return deliver(alerts, channels, project.manifest), problems


def alert_after_runs(instance: dg.DagsterInstance, project: Project, run_ids: list[str],
                     config: AlertConfig, freshness_window_s: float | None = None,
                     ) -> tuple[Delivery, list[str]]:
    """What the command line calls after its runs: their alerts (and the corpus's freshness
    against `freshness_window_s`, when given), sent once each: a daemon's alert sensor that
    sees the same events sends nothing again."""
    if not config.configured:
        return Delivery(), []
    alerts = [alert for run_id in run_ids for alert in run_alerts(instance, project, run_id,
                                                                  config)]
    if freshness_window_s is not None:
        alerts += freshness_alerts(instance, config, freshness_window_s, time.time())
    return send_alerts(project, alerts, config)
