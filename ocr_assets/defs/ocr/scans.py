"""The scan folders as an asset: an observable source, one partition per folder, whose data
version is the folder's signature (names, sizes and modification times of its files, the same
fingerprint the sensor and the planning compare). `page_texts` depends on it, so a folder whose
files changed since its text was read shows as unsynced in the UI, as does every folder once
the recipe (`page_texts`'s code version) changed. Every folder run observes its folder first;
the folder sensor observes a folder when it requests a run for it."""

import os
from collections.abc import Iterator

import dagster as dg

from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.orchestration.catalog import OWNERS, tags
from ocr_assets.orchestration.partitions import scan_folders as scan_folder_partitions
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import SCAN_FOLDERS
from ocr_assets.orchestration.steps import scan_folder

DESCRIPTION = ("The scan folders under the scans root, one partition per folder (a box, a "
               "volume, a batch); its data version is the folder's signature: the names, sizes "
               "and modification times of its files. Observed by every folder run and by the "
               "folder sensor when a folder changed.")


def observe_folder(context: dg.OpExecutionContext,
                   ocr: OcrConfig) -> Iterator[dg.ObserveResult]:
    """The run's folder as it is on disk now."""
    folder = scan_folder(ocr, context.partition_key)
    if not folder.path.is_dir():
        raise dg.Failure(f"scan folder {folder.path} of partition '{folder.key}' does not "
                         "exist; restore it, or delete the partition (`ocr-assets forget`)",
                         allow_retries=False)
    files = sum(len(names) for _, _, names in os.walk(folder.path))
    yield dg.ObserveResult(asset_key=SCAN_FOLDERS,
                           data_version=dg.DataVersion(folder_signature(folder.path)),
                           metadata={"folder": dg.MetadataValue.text(folder.name),
                                     "files": dg.MetadataValue.int(files)})


# The spec is made in place: a module-level AssetSpec would be collected as an asset of its own.
[scan_folders] = dg.with_source_code_references([dg.multi_observable_source_asset(
    specs=[dg.AssetSpec(SCAN_FOLDERS, group_name="ocr", owners=OWNERS, tags=tags("input"),
                        kinds={"filesystem"}, description=DESCRIPTION)],
    partitions_def=scan_folder_partitions, name="scan_folders", description=DESCRIPTION,
)(observe_folder)])
