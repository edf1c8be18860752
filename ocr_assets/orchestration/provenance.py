"""The provenance of a folder's text, as Dagster's data versioning reads it: the recipe it was
read with (the code version of `page_texts`) and the observation of the folder it read (the
event of `scan_folders` its run logged). The folder step records its materializations itself,
so it writes these tags too, with Dagster's own names; a test holds that a changed folder or
recipe then shows the folder's text as unsynced."""

from __future__ import annotations

import dagster as dg

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
