"""Nightly ingestion: a cron schedule beside the sensor.

Schedules cannot add dynamic partitions (the sensor does that); this one re-requests every
registered folder each night so that pages which failed for transient reasons are retried and
nothing the sensor missed (it was off, the daemon was down) stays behind. A folder with
nothing to do costs one manifest look-up and skips all OCR.
"""

import os

import dagster as dg

from ocr_assets.defs.jobs import ocr_folder_job
from ocr_assets.defs.partitions import scan_folders

NIGHTLY_CRON = os.environ.get("OCR_ASSETS_NIGHTLY_CRON", "0 2 * * *")
NIGHTLY_TIMEZONE = os.environ.get("OCR_ASSETS_TIMEZONE", "UTC")


@dg.schedule(job=ocr_folder_job, cron_schedule=NIGHTLY_CRON,
             execution_timezone=NIGHTLY_TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING)
def nightly_ingestion(context: dg.ScheduleEvaluationContext):
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions(scan_folders.name):
        yield dg.RunRequest(partition_key=key, run_key=f"nightly:{date}:{key}",
                            tags={"ocr_assets/trigger": "nightly"})
