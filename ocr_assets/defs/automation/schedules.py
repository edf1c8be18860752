"""Nightly ingestion: a cron schedule beside the sensor, and the whole ingestion where the
sensor is off (the nightly-only mode, `OCR_ASSETS_FOLDER_SENSOR=false`).

The sensor runs new and changed folders (it compares each folder's files with what its last run
stored in the manifest, so it also sees what changed while it was stopped); it never retries on
its own. Each night this schedule registers the scans root's new folders as partitions and asks
the same answer to "which folders need a run" (`folders_needing_run`) for more of its reasons: a
folder that is new or changed (the sensor may be off), whose last run failed, or that has
pending or still-helpable failed pages, is run, at an hour when the machine is free, each run
with its queue priority and time cap (`orchestration/requests.py`: the backlog after new and
changed folders).

A schedule cannot return partition requests (Dagster 1.13's `ScheduleDefinition` takes run
requests and skip reasons only), so the evaluation adds the new partitions to the instance
itself, as the command line does, before it requests their runs.
"""

import os

import dagster as dg

from ocr_assets.engine.folder.planning import RUN_NEEDS
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.concurrency import ensure_pool_limit
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.requests import folder_pages, folder_run_requests, plan_runs
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    TAG_TRIGGER,
    folders_needing_run,
    register_and_add_partitions,
)


def evaluate_nightly(context: dg.ScheduleEvaluationContext, ocr: OcrConfig,
                     automation: AutomationConfig) -> list[dg.RunRequest] | dg.SkipReason:
    """The night's run requests: the scans root's new folders registered as partitions, then
    a run for the folders that need one, new folders first, consecutive partitions of a tier
    sharing a run up to `automation.folders_per_run`, with why as a tag."""
    project = ocr.project()
    if not project.scans_root.is_dir():
        return dg.SkipReason(f"the scans root {project.scans_root} does not exist; create it "
                             "or set OCR_ASSETS_SCANS")
    # Written each night as the sensor writes it each tick: with the sensor off, nothing
    # else of the daemon's would (see orchestration/concurrency.py).
    ensure_pool_limit(context.instance, project.config.ocr_runs)
    registration = register_and_add_partitions(context.instance, project)
    if registration.new_partitions:
        context.log.info(f"registered {len(registration.new_partitions)} new folders as "
                         f"partitions: {', '.join(registration.new_partitions[:20])}"
                         + (" ..." if len(registration.new_partitions) > 20 else ""))
    scan = registration.scan
    needs = folders_needing_run(context.instance, project, RUN_NEEDS, scan)
    if not needs:
        return dg.SkipReason("every folder is up to date: nothing new, changed, pending or "
                             "retryable")
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    runs = plan_runs(context.instance.get_dynamic_partitions(scan_folders.name), needs,
                     folder_pages(project, {key: scan.folders[key] for key in needs}),
                     automation.folders_per_run)
    return folder_run_requests(
        runs, lambda batch: f"nightly:{date}:" + batch.run_key({k: k for k in batch.keys}),
        {TAG_TRIGGER: "nightly"}, automation)


def nightly_schedule(automation: AutomationConfig) -> dg.ScheduleDefinition:
    """The nightly ingestion at the cron and timezone of `automation`."""

    @dg.schedule(job_name="ocr_folder_job", cron_schedule=automation.nightly_cron,
                 execution_timezone=automation.timezone,
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Each night, registers the scans root's new folders as "
                             "partitions and runs the folders that are new, changed, read "
                             "with other settings, or have pending or retryable failed pages, "
                             "new ones first, up to OCR_ASSETS_FOLDERS_PER_RUN to a run (cron "
                             "`OCR_ASSETS_NIGHTLY_CRON`, timezone `OCR_ASSETS_TIMEZONE`).")
    def nightly_ingestion(context: dg.ScheduleEvaluationContext, ocr: OcrConfig):
        return evaluate_nightly(context, ocr, automation)

    return nightly_ingestion


@dg.definitions
def defs() -> dg.Definitions:
    """The nightly schedule at the deployment's cron and timezone."""
    return dg.Definitions(schedules=[nightly_schedule(AutomationConfig.from_environ(os.environ))])
