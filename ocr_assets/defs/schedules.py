"""Nightly ingestion: a cron schedule beside the sensor.

The sensor reacts to changes it sees between two ticks; it cannot see what happened while it
was stopped or the daemon was down, and it never retries on its own. Each night this schedule
reconciles every registered folder with the manifest (`defs/selection.py`) and requests a run
for each one that is new, changed, or has pending or still-helpable failed pages, at an hour
when the machine is free. Schedules cannot add partitions: registering folders is the
sensor's (and the CLI's) job.
"""

import os

import dagster as dg

from ocr_assets.defs.jobs import ocr_folder_job
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.defs.selection import nightly_selection

NIGHTLY_CRON = os.environ.get("OCR_ASSETS_NIGHTLY_CRON", "0 2 * * *")
NIGHTLY_TIMEZONE = os.environ.get("OCR_ASSETS_TIMEZONE", "UTC")
TAG_REASON = "ocr_assets/reason"


@dg.schedule(job=ocr_folder_job, cron_schedule=NIGHTLY_CRON,
             execution_timezone=NIGHTLY_TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Each night, a run for every folder that is new, changed, or has "
                         "pending or retryable failed pages (cron `OCR_ASSETS_NIGHTLY_CRON`, "
                         "timezone `OCR_ASSETS_TIMEZONE`).")
def nightly_ingestion(context: dg.ScheduleEvaluationContext, ocr: OcrConfig):
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    reasons = nightly_selection(context.instance, ocr)
    if not reasons:
        return dg.SkipReason("every registered folder is up to date: nothing new, changed, "
                             "pending or retryable")
    return [dg.RunRequest(partition_key=key, run_key=f"nightly:{date}:{key}",
                          tags={"ocr_assets/trigger": "nightly", TAG_REASON: why})
            for key, why in reasons.items()]
