"""Which partitions the nightly schedule and `ocr-assets retry-failed` run, and why.

Both start from the registered partitions whose folder is on disk, and leave out partitions
with a run queued or in progress (that run will do the work; a second one would only wait for
the pages' leases). The reasons travel as run tags, so the UI says why each run was requested.
"""

from __future__ import annotations

import dagster as dg

from ocr_assets.defs.assets import failed_pages, page_texts
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine.folder.reconcile import folders_needing_work
from ocr_assets.engine.folder.registry import list_scan_folders


def _partition_statuses(instance: dg.DagsterInstance, asset: dg.AssetsDefinition,
                        keys: list[str]) -> dict[str, dg.AssetPartitionStatus | None]:
    """The status the UI shows per partition: materialized, in progress, failed or None."""
    if not keys:
        return {}
    return dict(instance.get_status_by_partition(asset.key, keys, scan_folders) or {})


def folders_on_disk(instance: dg.DagsterInstance, ocr: OcrConfig) -> dict[str, str]:
    """Registered partitions whose folder is under the scans root: key -> folder name."""
    partitions = set(instance.get_dynamic_partitions(scan_folders.name))
    scan = list_scan_folders(ocr.scans_path)
    return {key: name for key, name in scan.folders.items() if key in partitions}


def nightly_selection(instance: dg.DagsterInstance, ocr: OcrConfig) -> dict[str, str]:
    """Partitions that are new, changed, or have pending or helpable failed pages."""
    folders = folders_on_disk(instance, ocr)
    statuses = _partition_statuses(instance, page_texts, sorted(folders))
    idle = {k: v for k, v in folders.items()
            if statuses.get(k) != dg.AssetPartitionStatus.IN_PROGRESS}
    materialized = {k for k, s in statuses.items() if s == dg.AssetPartitionStatus.MATERIALIZED}
    return folders_needing_work(ocr.manifest(), ocr.scans_path, ocr.reports_store, idle,
                                materialized, ocr.settings)


def retry_selection(instance: dg.DagsterInstance, ocr: OcrConfig) -> dict[str, str]:
    """Exactly the partitions whose last run failed (for either folder asset) or that have
    failed pages."""
    folders = folders_on_disk(instance, ocr)
    keys = sorted(folders)
    texts = _partition_statuses(instance, page_texts, keys)
    reports = _partition_statuses(instance, failed_pages, keys)
    counts = ocr.manifest().status_counts()
    reasons: dict[str, str] = {}
    for key in keys:
        if dg.AssetPartitionStatus.IN_PROGRESS in (texts.get(key), reports.get(key)):
            continue
        failed = counts.get(key, {}).get("failed", 0)
        if texts.get(key) == dg.AssetPartitionStatus.FAILED:
            reasons[key] = "last run failed (page_texts)"
        elif reports.get(key) == dg.AssetPartitionStatus.FAILED:
            reasons[key] = "last run failed (failed_pages)"
        elif failed:
            reasons[key] = f"{failed} failed pages"
    return reasons
