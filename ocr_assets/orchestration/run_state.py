"""What Dagster knows of the scan folders, handed to the engine's one answer to "which folders
need a run, and why" (`engine.folder.planning.folders_to_run`), and the one place folders
become partitions.

The command line, the folder sensor, the nightly schedule and `retry-failed` all ask
`folders_needing_run`; they differ only in which needs they act on. Partitions with a run queued
or in progress are left out (that run will do the work; a second one would only wait for the
pages' leases). The reasons travel as run tags, so the UI says why each run was requested.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from sqlalchemy.exc import IntegrityError

from ocr_assets.engine.folder.planning import FolderNeed, Need, RunState, folders_to_run
from ocr_assets.engine.folder.registry import ScanFolders
from ocr_assets.engine.project import Project
from ocr_assets.orchestration.partitions import scan_folders

SCAN_FOLDERS = dg.AssetKey("scan_folders")
"""The observable source asset of the scan folders (`defs/ocr/scans.py`)."""
PAGE_TEXTS = dg.AssetKey("page_texts")
FAILED_PAGES = dg.AssetKey("failed_pages")
PAGE_ACCURACY = dg.AssetKey("page_accuracy")
SEARCHABLE_PDF = dg.AssetKey("searchable_pdf")
FOLDER_ASSETS = (PAGE_TEXTS, FAILED_PAGES)
"""The assets whose partitions are a folder's run: the OCR and the retry pass with its report."""
DATA_VERSION_TAG = "dagster/data_version"
"""The tag of an asset event that carries its data version (what observations report)."""
TAG_TRIGGER = "ocr_assets/trigger"
"""Run tag: what requested the run (`cli`, `sensor`, `nightly`, `retry-failed`, ...)."""
TAG_REASON = "ocr_assets/reason"
"""Run tag: why the folder needed the run, as `folders_to_run` said."""
FAILED_FOLDERS = "folders"
"""The metadata entry of a failed folder step: partition -> why it failed (every other folder
of the run was recorded)."""
TAG_PAGES = "ocr_assets/pages"
"""Run tag: `failed` reads every failed page of the folder again (the retry job's runs)."""
PARTITIONS_PER_INSERT = 256
"""New partitions added to Dagster's storage in one statement (`register_and_add_partitions`)."""


@dataclass(frozen=True)
class Registration:
    """The scan folders found under the scans root, and which of them are new partitions."""

    scan: ScanFolders
    new_partitions: list[str]


def register_scan_folders(instance: dg.DagsterInstance, project: Project) -> Registration:
    """List the scans root and record every folder's key and name in the manifest; return the
    keys that are not partitions yet. The caller adds them: the command line at once, the
    sensor in its result (so they exist before its run requests)."""
    scan = project.scan()
    project.register(scan)
    known = set(instance.get_dynamic_partitions(scan_folders.name))
    return Registration(scan, sorted(set(scan.folders) - known))


def register_and_add_partitions(instance: dg.DagsterInstance,
                                project: Project) -> Registration:
    """Register the scans root's folders and add the new ones as partitions at once (the
    command line's way; the sensor returns them as a request instead)."""
    registration = register_scan_folders(instance, project)
    try:
        _add_partitions(instance, registration.new_partitions)
    except IntegrityError:  # another command added some of them meanwhile
        known = set(instance.get_dynamic_partitions(scan_folders.name))
        _add_partitions(instance, [k for k in registration.new_partitions if k not in known])
    return registration


def _add_partitions(instance: dg.DagsterInstance, keys: list[str]) -> None:
    """Add `keys` as partitions, `PARTITIONS_PER_INSERT` at a time. Dagster's storage adds
    them in one statement of a row each: the first `ocr-assets run` over 3,000 folders built
    one of 3,000 rows, which raised the process's memory by 1.5 MiB (0.2 in chunks; the
    planning's by 1.0 less; docs/benchmarks.md, "Many small folders"). A key added before a
    later chunk failed stays added: adding is idempotent, and the caller adds the rest."""
    for start in range(0, len(keys), PARTITIONS_PER_INSERT):
        instance.add_dynamic_partitions(scan_folders.name,
                                        keys[start:start + PARTITIONS_PER_INSERT])


def _statuses(instance: dg.DagsterInstance, asset: dg.AssetKey,
              keys: list[str]) -> dict[str, dg.AssetPartitionStatus | None]:
    """The status the UI shows per partition: materialized, in progress, failed or None."""
    if not keys:
        return {}
    return dict(instance.get_status_by_partition(asset, keys, scan_folders) or {})


def run_state(instance: dg.DagsterInstance, keys: list[str]) -> RunState:
    """Which of `keys` are materialized, failed in their last run (and in which asset), or
    have a run in progress."""
    statuses = {asset: _statuses(instance, asset, keys) for asset in FOLDER_ASSETS}
    failed: dict[str, str] = {}
    in_progress: set[str] = set()
    for key in keys:
        for asset in FOLDER_ASSETS:
            status = statuses[asset].get(key)
            if status == dg.AssetPartitionStatus.IN_PROGRESS:
                in_progress.add(key)
            elif status == dg.AssetPartitionStatus.FAILED:
                failed.setdefault(key, asset.to_user_string())
    materialized = instance.get_materialized_partitions(PAGE_TEXTS) & set(keys)
    return RunState(frozenset(materialized), failed, frozenset(in_progress))


def folders_needing_run(instance: dg.DagsterInstance, project: Project,
                        wanted: frozenset[Need], scan: ScanFolders | None = None, *,
                        count_new: bool = False) -> dict[str, FolderNeed]:
    """The registered partitions whose folder is on disk and needs one of the `wanted` runs,
    with why. `scan` is the scans root's listing when the caller has it already; `count_new`
    counts the pages of folders without rows (for a progress bar)."""
    scan = scan if scan is not None else project.scan()
    partitions = set(instance.get_dynamic_partitions(scan_folders.name))
    folders = {key: name for key, name in scan.folders.items() if key in partitions}
    return folders_to_run(project, folders, run_state(instance, sorted(folders)), wanted,
                          count_new=count_new)
