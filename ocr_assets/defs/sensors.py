"""The scan-folder sensor: new or changed folders become partitions and runs in one tick."""

import json

import dagster as dg

from ocr_assets.defs.jobs import ocr_folder_job
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine.registry import folder_signature, list_scan_folders, register_folders


@dg.sensor(job=ocr_folder_job, minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Registers every folder under the scans root as a partition and requests "
                       "a run for each new or changed folder (run key: partition + signature).")
def scan_folder_sensor(context: dg.SensorEvaluationContext, ocr: OcrConfig) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    scan = list_scan_folders(ocr.scans_path)
    for name, reason in scan.problems.items():
        context.log.warning(f"scan folder {name!r} skipped: {reason}")
    register_folders(ocr.manifest(), scan)
    known = set(context.instance.get_dynamic_partitions(scan_folders.name))
    new_keys = sorted(set(scan.folders) - known)
    signatures = {key: folder_signature(ocr.scans_path / name)
                  for key, name in scan.folders.items()}
    run_requests = [
        dg.RunRequest(partition_key=key, run_key=f"{key}:{signature}",
                      tags={"ocr_assets/trigger": "sensor"})
        for key, signature in signatures.items() if seen.get(key) != signature
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[scan_folders.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(signatures, sort_keys=True),
    )
