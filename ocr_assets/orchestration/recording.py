"""A folder's record in Dagster: what its run read (an observation), and, once the run is
over, the materializations of its assets and the results of its checks, logged by whichever
step finished it (the folder step of a run, or the last step of the sharded job).

Each event is written to the instance the moment it is made, exactly as `context.log_event`
writes it (the same event, run and step, so the UI, the backfill and the alerts see the same),
but not also kept for the step's own stream: `log_event` keeps every event until the step
yields, and Dagster then keeps each yielded event in the step's list (for hooks, which this
project does not use) and in an in-process run's result until the step ends. A step over 200
folders held about 2,600 events (13 a folder), 5.5 MiB, and that was what made the
orchestrating process's peak grow with the folders of a run (docs/benchmarks.md, "Many small
folders"). The cost: an in-process run's result does not list these events; the
instance has them (`instance.all_logs`, `get_latest_materialization_event`, the check
results), which is where this project and its tests read them.
"""

from __future__ import annotations

from collections.abc import Collection

import dagster as dg

from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.folder.run import FolderRun
from ocr_assets.engine.project import ScanFolder
from ocr_assets.orchestration.folder_results import folder_results
from ocr_assets.orchestration.provenance import check_target, page_texts_tags
from ocr_assets.orchestration.run_state import DATA_VERSION_TAG, PAGE_TEXTS, SCAN_FOLDERS


def observe_folder(context: dg.OpExecutionContext, folder: ScanFolder) -> str:
    """Record the folder's state as read by this run (its signature, the data version of
    `scan_folders`), and return it."""
    signature = folder_signature(folder.path)
    _write_event(context, dg.AssetObservation(SCAN_FOLDERS, partition=folder.key,
                                              tags={DATA_VERSION_TAG: signature}))
    return signature


def record_folder(context: dg.OpExecutionContext, run: FolderRun, recipe: str,
                  selected: Collection[dg.AssetKey]) -> list[str]:
    """Log the folder's materializations of the `selected` assets and their check results;
    return its failed blocking checks."""
    results = folder_results(run)
    for asset, metadata in results.metadata.items():
        if asset in selected:
            _write_event(context, dg.AssetMaterialization(
                asset, partition=results.key, metadata=metadata,
                tags=page_texts_tags(context.instance, results.key, recipe)
                if asset == PAGE_TEXTS else None))
    # Each check result points at the materialization just logged, as a check step's would:
    # Dagster shows a folder's check status only while it is about the folder's latest one.
    targets = {asset: check_target(context.instance, asset, results.key)
               for asset in results.metadata if asset in selected}
    for check in results.checks:
        if check.check.asset in selected:
            _write_event(context, check.evaluation(results.key, targets[check.check.asset]))
    return results.blocking_failures()


def _write_event(context: dg.OpExecutionContext,
                 event: dg.AssetObservation | dg.AssetMaterialization | dg.AssetCheckEvaluation,
                 ) -> None:
    """Write `event` to the instance as the step's, as `context.log_event` would, without
    keeping it for the step's stream (the module's docstring says why)."""
    step = context.get_step_execution_context()
    if isinstance(event, dg.AssetMaterialization):
        dg.DagsterEvent.asset_materialization(step, event)
    elif isinstance(event, dg.AssetObservation):
        dg.DagsterEvent.asset_observation(step, event)
    else:
        dg.DagsterEvent.asset_check_evaluation(step, event)
