"""A folder's record in Dagster: what its run read (an observation), and, once the run is
over, the materializations of its assets and the results of its checks, logged by whichever
step finished it (the folder step of a run, or the last step of the sharded job)."""

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
    context.log_event(dg.AssetObservation(SCAN_FOLDERS, partition=folder.key,
                                          tags={DATA_VERSION_TAG: signature}))
    return signature


def record_folder(context: dg.OpExecutionContext, run: FolderRun, recipe: str,
                  selected: Collection[dg.AssetKey]) -> list[str]:
    """Log the folder's materializations of the `selected` assets and their check results;
    return its failed blocking checks."""
    results = folder_results(run)
    for asset, metadata in results.metadata.items():
        if asset in selected:
            context.log_event(dg.AssetMaterialization(
                asset, partition=results.key, metadata=metadata,
                tags=page_texts_tags(context.instance, results.key, recipe)
                if asset == PAGE_TEXTS else None))
    # Each check result points at the materialization just logged, as a check step's would:
    # Dagster shows a folder's check status only while it is about the folder's latest one.
    targets = {asset: check_target(context.instance, asset, results.key)
               for asset in results.metadata if asset in selected}
    for check in results.checks:
        if check.check.asset in selected:
            context.log_event(check.evaluation(results.key, targets[check.check.asset]))
    return results.blocking_failures()
