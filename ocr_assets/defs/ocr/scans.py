"""The scan folders as an asset: an observable source, one partition per folder, whose data
version is the folder's signature (names, sizes and modification times of its files, the same
fingerprint the sensor and the planning compare). `page_texts` depends on it, so a folder whose
files changed since its text was read shows as unsynced in the UI, as does every folder once
the recipe (`page_texts`'s code version) changed."""

import dagster as dg

from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.orchestration.partitions import scan_folders as scan_folder_partitions
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import SCAN_FOLDERS


def observe_folders(context: dg.OpExecutionContext, ocr: OcrConfig) -> dg.DataVersionsByPartition:
    """The signature of the run's folder, or of every registered folder on disk when the
    observation is not for one partition (the UI's "Observe" on the whole asset)."""
    project = ocr.project()
    on_disk = project.scan().folders
    keys = ([context.partition_key] if context.has_partition_key
            else [k for k in context.instance.get_dynamic_partitions(
                scan_folder_partitions.name) if k in on_disk])
    versions = {key: dg.DataVersion(folder_signature(project.scans_root / on_disk[key]))
                for key in keys if key in on_disk}
    for key in sorted(set(keys) - versions.keys()):
        context.log.warning(f"the folder of partition '{key}' is not in the scans root "
                            f"{project.scans_root}: nothing to observe")
    return dg.DataVersionsByPartition(versions)


scan_folders = dg.observable_source_asset(
    key=SCAN_FOLDERS, partitions_def=scan_folder_partitions, group_name="ocr",
    description="The scan folders under the scans root, one partition per folder (a box, a "
                "volume, a batch); its data version is the folder's signature: the names, sizes "
                "and modification times of its files. Observed by every folder run and by the "
                "folder sensor when a folder changed.",
    tags={"ocr_assets/layer": "input"},
)(observe_folders)
