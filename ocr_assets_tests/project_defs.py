"""The project's Dagster definitions as the tests use them, each by name: the folder step with
the default step retry policy (`AutomationConfig()`), the corpus with the default freshness
policy, the sensors and the schedule at the default intervals and cron, and how a test runs
folders and reads what a run recorded. What a deployment loads is `ocr_assets.definitions`;
these are the same factories and modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from ocr_assets.defs.automation.schedules import nightly_schedule
from ocr_assets.defs.automation.sensors import decode_cursor, sensors
from ocr_assets.defs.corpus.assets import corpus_asset
from ocr_assets.defs.corpus.checks import corpus_complete
from ocr_assets.defs.corpus.jobs import CORPUS_TAG, corpus_job
from ocr_assets.defs.ocr.assets import folder_assets
from ocr_assets.defs.ocr.jobs import FOLDER_ASSETS, ocr_folder_job, retry_failed_pages_job
from ocr_assets.defs.ocr.scans import scan_folders
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.resources import OcrConfig

[ocr_scan_folders] = folder_assets()
ocr_corpus = corpus_asset()
scan_folder_sensor, corpus_sensor = sensors(AutomationConfig())
nightly_ingestion = nightly_schedule(AutomationConfig())
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
NO_COMPUTE_LOGS = {"module": "dagster._core.storage.noop_compute_log_manager",
                   "class": "NoOpComputeLogManager"}
"""An instance's `compute_logs` for a test that runs a job in a thread it joins: the capture's
`tail` processes are cleaned up with a 30 s wait each, which a loaded CI machine once spent in
full, so the run in the thread outlived the join."""


def run_folders(instance: dg.DagsterInstance, ocr: OcrConfig, keys: str | Sequence[str], *,
                tags: Mapping[str, str] | None = None,
                raise_on_error: bool = False) -> dg.ExecuteInProcessResult:
    """One run of the folder step over `keys` (one partition, or a range from the first to
    the last), as the folder job runs it."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    run_tags = dict(tags or {})
    if len(keys) > 1:
        run_tags.update({RANGE_START: keys[0], RANGE_END: keys[-1]})
    return dg.materialize([ocr_scan_folders, scan_folders], selection=FOLDER_ASSETS,
                          partition_key=keys[0] if len(keys) == 1 else None, tags=run_tags,
                          instance=instance, resources={"ocr": ocr},
                          raise_on_error=raise_on_error)


def recorded(instance: dg.DagsterInstance, run_id: str,
             kind: dg.DagsterEventType) -> list[dg.EventLogEntry]:
    """What the run recorded of one kind, from the instance (a failed run's result keeps
    only Dagster's own events)."""
    return [entry for entry in instance.all_logs(run_id, of_type=kind)]


def materialization(instance: dg.DagsterInstance, run_id: str, asset: str,
                    partition: str) -> dg.AssetMaterialization:
    """The run's materialization of one asset partition."""
    [found] = [entry.asset_materialization for entry in
               recorded(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
               if entry.asset_materialization.asset_key == dg.AssetKey(asset)
               and entry.asset_materialization.partition == partition]
    return found


def check_results(instance: dg.DagsterInstance, run_id: str,
                  partition: str) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's check results for one folder, by check name."""
    evaluations = [entry.dagster_event.event_specific_data for entry in
                   recorded(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    return {e.check_name: e for e in evaluations if e.partition == partition}


__all__ = [
    "CORPUS_TAG",
    "NO_COMPUTE_LOGS",
    "check_results",
    "corpus_complete",
    "corpus_job",
    "corpus_sensor",
    "decode_cursor",
    "materialization",
    "nightly_ingestion",
    "ocr_corpus",
    "ocr_folder_job",
    "ocr_scan_folders",
    "retry_failed_pages_job",
    "run_folders",
    "scan_folder_sensor",
    "scan_folders",
]
