"""The scan folders as an asset: an observable source, one partition per folder, whose data
version is the folder's signature (names, sizes and modification times of its files, the same
fingerprint the sensor and the planning compare). `page_texts` depends on it, so a folder whose
files changed since its text was read shows as unsynced in the UI, as does every folder once
the recipe (`page_texts`'s code version) changed. A whole `ocr_folder_job` run (the sensor's,
the schedule's, the command line's) observes its folder first; the folder sensor observes a
folder when it requests a run for it. Runs launched from the UI's Materialize dialogs leave
observable sources out, so they do not; the asset's own **Observe** button (a run without a
partition) observes every registered folder on disk."""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.naming import display_name
from ocr_assets.orchestration.catalog import OWNERS, tags
from ocr_assets.orchestration.partitions import scan_folders as scan_folder_partitions
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import DATA_VERSION_TAG, SCAN_FOLDERS
from ocr_assets.orchestration.steps import scan_folder

DESCRIPTION = ("The scan folders under the scans root, one partition per folder (a box, a "
               "volume, a batch); its data version is the folder's signature: the names, sizes "
               "and modification times of its files. Observed by the folder sensor when a folder "
               "changed, by the folder runs it, the schedule and the command line start, and, "
               "every folder at once, by Observe here; runs launched from a Materialize dialog "
               "do not observe it.")


def _files(path: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(path))


def observe_every_folder(context: dg.OpExecutionContext,
                         ocr: OcrConfig) -> Iterator[dg.AssetObservation]:
    """Every registered folder on disk as it is now: what the UI's Observe button asks for (a
    run without a partition key). Folders not registered yet are left to the folder sensor."""
    project = ocr.project()
    scan = project.scan()
    partitions = set(context.instance.get_dynamic_partitions(scan_folder_partitions.name))
    observed = sorted(partitions & scan.folders.keys())
    for key in observed:
        path = project.scans_root / scan.folders[key]
        yield dg.AssetObservation(asset_key=SCAN_FOLDERS, partition=key,
                                  tags={DATA_VERSION_TAG: folder_signature(path)},
                                  metadata={"folder": dg.MetadataValue.text(
                                                display_name(scan.folders[key])),
                                            "files": dg.MetadataValue.int(_files(path))})
    gone = sorted(partitions - scan.folders.keys())
    context.log.info(f"observed {len(observed)} scan folders under {project.scans_root}"
                     + (f"; {len(gone)} partitions have no folder there: {', '.join(gone[:20])}"
                        if gone else ""))


def observe_folder(context: dg.OpExecutionContext,
                   ocr: OcrConfig) -> Iterator[dg.ObserveResult | dg.AssetObservation]:
    """The run's folder as it is on disk now; every folder when the run has no partition."""
    if not context.has_partition_key:
        yield from observe_every_folder(context, ocr)
        return
    folder = scan_folder(ocr, context.partition_key)
    if not folder.path.is_dir():
        raise dg.Failure(f"scan folder {folder.path} of partition '{folder.key}' does not "
                         "exist; restore it, or delete the partition (`ocr-assets forget`)",
                         allow_retries=False)
    yield dg.ObserveResult(asset_key=SCAN_FOLDERS,
                           data_version=dg.DataVersion(folder_signature(folder.path)),
                           metadata={"folder": dg.MetadataValue.text(folder.name),
                                     "files": dg.MetadataValue.int(_files(folder.path))})


# The spec is made in place: a module-level AssetSpec would be collected as an asset of its own.
# Skippable: a run without a partition records one observation per folder instead of its output.
[scan_folders] = dg.with_source_code_references([dg.multi_observable_source_asset(
    specs=[dg.AssetSpec(SCAN_FOLDERS, group_name="ocr", owners=OWNERS, tags=tags("input"),
                        kinds={"filesystem"}, description=DESCRIPTION, skippable=True)],
    partitions_def=scan_folder_partitions, name="scan_folders", description=DESCRIPTION,
)(observe_folder)])
