"""Sensors: new or changed scan folders become partitions and runs in one tick; a changed set of
finished folders rebuilds the corpus.

`scan_folder_sensor` keeps one fingerprint per folder in its cursor (names, sizes and
modification times of its files: one `stat` per file, no image read), compressed, so a tick over
10,000 folders stays far inside the sensor timeout (see `benchmarks/sensor_tick.py`). Run keys
are `<partition>:<fingerprint>`: a repeated tick, or a tick evaluated twice, requests nothing
twice, and a folder changed again gets a new run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import zlib

import dagster as dg

from ocr_assets.defs.assets import failed_pages, page_texts
from ocr_assets.defs.concurrency import ensure_pool_limit
from ocr_assets.defs.jobs import corpus_job, ocr_folder_job
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine.folder.forget import forget_folder_data
from ocr_assets.engine.folder.registry import (
    ScanFolders,
    folder_signature,
    list_scan_folders,
    register_folders,
)

SENSOR_INTERVAL_S = int(os.environ.get("OCR_ASSETS_SENSOR_INTERVAL_S", "30"))
CORPUS_INTERVAL_S = int(os.environ.get("OCR_ASSETS_CORPUS_INTERVAL_S", "60"))
CORPUS_MAX_AGE_S = int(os.environ.get("OCR_ASSETS_CORPUS_MAX_AGE_S", "900"))
SIGNATURE_CHARS = 16
"""64 bits of the folder fingerprint: enough to tell one state of a folder from the next."""
TAG_TRIGGER = "ocr_assets/trigger"


def encode_cursor(signatures: dict[str, str]) -> str:
    """`partition -> fingerprint` as compact JSON, zlib-compressed and base64-encoded (10,000
    folders take about 200 kB instead of a megabyte)."""
    raw = json.dumps(signatures, sort_keys=True, separators=(",", ":")).encode()
    return "z1:" + base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def decode_cursor(cursor: str | None) -> dict[str, str]:
    """The sensor's cursor; a plain-JSON cursor from an earlier version is read as well."""
    if not cursor:
        return {}
    if cursor.startswith("z1:"):
        return json.loads(zlib.decompress(base64.b64decode(cursor[3:])))
    return {key: value[:SIGNATURE_CHARS] for key, value in json.loads(cursor).items()}


def _forget_orphans(context: dg.SensorEvaluationContext, ocr: OcrConfig, on_disk: set[str],
                    partitions: set[str]) -> None:
    """A folder gone from disk whose partition was deleted (in the UI) is forgotten: both say
    it is gone for good. Either alone is not enough (an unmounted disk, a slip in the UI)."""
    manifest = ocr.manifest()
    for record in manifest.folders():
        key = record.partition_key
        if key in on_disk or key in partitions:
            continue
        forgotten = forget_folder_data(manifest, key, out_root=ocr.ocr_store,
                                       reports_root=ocr.reports_store)
        context.log.info(f"forgot folder {record.folder_name!r} (partition '{key}' deleted, "
                         f"folder gone): {forgotten.pages} manifest rows, {forgotten.files} "
                         "files")


@dg.sensor(job=ocr_folder_job, minimum_interval_seconds=SENSOR_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Registers every new folder under the scans root as a partition and "
                       "requests a run for each new or changed folder (run key: partition + "
                       "fingerprint of its files), in the same tick.")
def scan_folder_sensor(context: dg.SensorEvaluationContext, ocr: OcrConfig):
    ensure_pool_limit(context.instance)
    if not ocr.scans_path.is_dir():
        return dg.SkipReason(f"the scans root {ocr.scans_path} does not exist; create it or "
                             "set OCR_ASSETS_SCANS")
    seen = decode_cursor(context.cursor)
    scan = list_scan_folders(ocr.scans_path)
    if not scan.folders and seen:
        return dg.SkipReason(f"the scans root {ocr.scans_path} is empty, but {len(seen)} folders"
                             " were there at the last tick: is its storage mounted? Nothing is"
                             " requested or forgotten until they are back (remove folders for "
                             "good with `ocr-assets forget`)")
    for name, reason in scan.problems.items():
        context.log.warning(f"scan folder {name!r} skipped: {reason}")
    partitions = set(context.instance.get_dynamic_partitions(scan_folders.name))
    new_keys = sorted(set(scan.folders) - partitions)
    unregistered = {key: name for key, name in scan.folders.items()
                    if key not in seen or key in new_keys}
    register_folders(ocr.manifest(), ScanFolders(folders=unregistered))

    signatures = {key: folder_signature(ocr.scans_path / name)[:SIGNATURE_CHARS]
                  for key, name in scan.folders.items()}
    run_requests = [dg.RunRequest(partition_key=key, run_key=f"{key}:{signature}",
                                  tags={TAG_TRIGGER: "sensor"})
                    for key, signature in signatures.items() if seen.get(key) != signature]
    for key in sorted(set(seen) - set(scan.folders)):
        context.log.warning(f"the folder of partition '{key}' is gone from the scans root; "
                            f"`ocr-assets forget {key}` deletes its partition, outputs and "
                            "manifest rows")
    _forget_orphans(context, ocr, set(scan.folders), partitions | set(new_keys))
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[scan_folders.build_add_request(new_keys)] if new_keys else [],
        cursor=encode_cursor(signatures),
    )


def _latest_folder_event(instance: dg.DagsterInstance) -> int:
    """Storage id of the newest materialization of either folder asset (0 when none)."""
    newest = 0
    for asset in (page_texts, failed_pages):
        records = instance.fetch_materializations(asset.key, limit=1).records
        if records:
            newest = max(newest, records[0].storage_id)
    return newest


def _runs_in_progress(instance: dg.DagsterInstance, job_name: str) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(
        job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                     dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]),
        limit=1))


@dg.sensor(job=corpus_job, minimum_interval_seconds=CORPUS_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Rebuilds the corpus when folders were materialized or partitions "
                       "deleted since its last build: once the folder runs are done, or every "
                       "OCR_ASSETS_CORPUS_MAX_AGE_S seconds while they go on.")
def corpus_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    partitions = sorted(instance.get_dynamic_partitions(scan_folders.name))
    digest = hashlib.sha1("\n".join(partitions).encode(), usedforsecurity=False).hexdigest()[:12]
    state = f"{_latest_folder_event(instance)}:{digest}"
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("state") == state:
        return dg.SkipReason("the corpus is up to date with every folder materialization")
    if _runs_in_progress(instance, corpus_job.name):
        return dg.SkipReason("a corpus run is queued or in progress")
    if (_runs_in_progress(instance, ocr_folder_job.name)
            and time.time() - previous.get("requested_at", 0) < CORPUS_MAX_AGE_S):
        return dg.SkipReason("folder runs are in progress; the corpus is rebuilt when they are "
                             f"done, or {CORPUS_MAX_AGE_S} s after its last build")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"corpus:{state}", tags={TAG_TRIGGER: "sensor"})],
        cursor=json.dumps({"state": state, "requested_at": time.time()}))
