"""The provenance of a folder's results, as Dagster reads it: the recipe its text was read with
(the code version of `page_texts`), the observation of the folder it read (the event of
`scan_folders` its run logged), and the materialization each check result is about. The folder
step records its materializations and check results itself, so it writes these pointers too,
with Dagster's own names; tests hold that a changed folder or recipe then shows the folder's
text as unsynced, and that each folder's check results count as its current ones."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from ocr_assets.orchestration.run_state import SCAN_FOLDERS

CODE_VERSION_TAG = "dagster/code_version"
INPUT_EVENT_POINTER_TAG = f"dagster/input_event_pointer/{SCAN_FOLDERS.to_user_string()}"
INPUT_DATA_VERSION_TAG = f"dagster/input_data_version/{SCAN_FOLDERS.to_user_string()}"


def page_texts_tags(instance: dg.DagsterInstance, partition: str,
                    recipe: str) -> dict[str, str]:
    """The tags of a folder's `page_texts` materialization: its recipe, and the latest
    observation of its folder (the one its run logged before reading it)."""
    tags = {CODE_VERSION_TAG: recipe}
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=SCAN_FOLDERS, asset_partitions=[partition]),
        limit=1).records
    if records:
        observation = records[0]
        tags[INPUT_EVENT_POINTER_TAG] = str(observation.storage_id)
        version = (observation.asset_observation.tags or {}).get("dagster/data_version")
        if version:
            tags[INPUT_DATA_VERSION_TAG] = version
    return tags


def check_target(instance: dg.DagsterInstance, asset: dg.AssetKey,
                 partition: str) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The partition's latest materialization of `asset` (the one its run just logged), as the
    target of a check result. Dagster counts a partition's check result (the partition
    statuses of a check in the UI) only while it targets the partition's latest
    materialization; a check step's own result points at it the same way."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1).records
    if not records:
        return None
    latest = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest.storage_id, run_id=latest.event_log_entry.run_id,
        timestamp=latest.timestamp)
