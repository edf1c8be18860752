"""Nightly ingestion: a cron schedule beside the sensor.

The sensor runs new and changed folders (it compares each folder's files with what its last run
stored in the manifest, so it also sees what changed while it was stopped); it never retries on
its own. Each night this schedule asks the same answer to "which folders need a run"
(`folders_needing_run`) for more of its reasons: a folder whose last run failed, or that has
pending or still-helpable failed pages, is run too, at an hour when the machine is free.
Schedules cannot add partitions: registering folders is the sensor's (and the CLI's) job.
"""

import os

import dagster as dg

from ocr_assets.engine.folder.planning import RUN_NEEDS
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.batches import folder_batches, run_request
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import TAG_TRIGGER, folders_needing_run


def evaluate_nightly(context: dg.ScheduleEvaluationContext, ocr: OcrConfig,
                     folders_per_run: int):
    """The night's run requests for the folders that need a run, consecutive partitions
    sharing a run up to `folders_per_run`, with why as a tag."""
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    needs = folders_needing_run(context.instance, ocr.project(), RUN_NEEDS)
    if not needs:
        return dg.SkipReason("every registered folder is up to date: nothing new, changed, "
                             "pending or retryable")
    batches = folder_batches(context.instance.get_dynamic_partitions(scan_folders.name),
                             {key: need.why for key, need in needs.items()}, folders_per_run)
    return [run_request(batch, f"nightly:{date}:" + batch.run_key({k: k for k in batch.keys}),
                        {TAG_TRIGGER: "nightly"})
            for batch in batches]


def nightly_schedule(automation: AutomationConfig) -> dg.ScheduleDefinition:
    """The nightly ingestion at the cron and timezone of `automation`."""

    @dg.schedule(job_name="ocr_folder_job", cron_schedule=automation.nightly_cron,
                 execution_timezone=automation.timezone,
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Each night, runs for the folders that are new, changed, read "
                             "with other settings, or have pending or retryable failed pages, "
                             "up to OCR_ASSETS_FOLDERS_PER_RUN to a run (cron "
                             "`OCR_ASSETS_NIGHTLY_CRON`, timezone `OCR_ASSETS_TIMEZONE`).")
    def nightly_ingestion(context: dg.ScheduleEvaluationContext, ocr: OcrConfig):
        return evaluate_nightly(context, ocr, automation.folders_per_run)

    return nightly_ingestion


@dg.definitions
def defs() -> dg.Definitions:
    """The nightly schedule at the deployment's cron and timezone."""
    return dg.Definitions(schedules=[nightly_schedule(AutomationConfig.from_environ(os.environ))])
