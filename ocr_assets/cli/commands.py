"""The commands that run things through Dagster: `run`, `retry-failed` and `forget`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ocr_assets.cli.exits import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, Refused
from ocr_assets.cli.options import project_config
from ocr_assets.cli.runs import (
    Jobs,
    Outcome,
    engine_ready,
    execute_corpus,
    execute_folders,
    open_project_instance,
    summarise,
)
from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.engine.folder.planning import RETRY_NEEDS, RUN_NEEDS, FolderNeed
from ocr_assets.engine.page.engines.choice import fallback_note
from ocr_assets.engine.project import Project

if TYPE_CHECKING:
    import dagster as dg


def cmd_run(args: argparse.Namespace) -> int:
    """Register every folder, run each one that needs it, then the corpus."""
    project = Project(project_config(args))
    instance = open_project_instance(project)
    reasons, pages_to_do = _plan_run(instance, project)
    if pages_to_do and (note := fallback_note(project.config.engine,
                                                 project.settings.archival_formats)):
        print(note, file=sys.stderr)
    # Only now, so that a re-run with nothing to OCR never loads the engine (pytesseract
    # imports pandas): the check is for pages that are about to be read.
    if pages_to_do and not engine_ready(project):
        return EXIT_RUN_FAILED
    jobs = Jobs()
    outcome = execute_folders(instance, project, jobs, reasons, pages_to_do, trigger="cli")
    if reasons or not project.corpus_store.exists(PARQUET_KEY):
        execute_corpus(instance, project, jobs, outcome, trigger="cli")
    return summarise(project, outcome)


def _plan_run(instance: dg.DagsterInstance, project: Project) -> tuple[dict[str, str], int]:
    """Register the scans root's folders and say what the run will do; return the folders
    that need a run (partition -> why) and their pages. The scans root's listing is let go
    with the needs, before the runs."""
    from ocr_assets.orchestration.run_state import (
        folders_needing_run,
        register_and_add_partitions,
    )

    scan = register_and_add_partitions(instance, project).scan
    for name, reason in scan.problems.items():
        print(f"skipped folder {name!r}: {reason}", file=sys.stderr)
    if not scan.folders:
        print(f"no scan folders under {project.scans_root}: put each box or volume of page "
              "images in a folder of its own there", file=sys.stderr)
    needs = folders_needing_run(instance, project, RUN_NEEDS, scan, count_new=True)
    reasons, pages_to_do = _reasons_and_pages(needs)
    print(f"{len(scan.folders)} folders, {len(needs)} to run, {pages_to_do} pages to OCR, "
          f"{project.settings.workers} workers, engine {project.settings.engine}; Dagster "
          f"home {instance.root_directory}", file=sys.stderr)
    return reasons, pages_to_do


def cmd_retry_failed(args: argparse.Namespace) -> int:
    """Run exactly the partitions whose last run failed or that have failed pages."""
    project = Project(project_config(args))
    instance = open_project_instance(project)
    reasons, pages = _retry_plan(instance, project)
    if not reasons:
        print("nothing to retry: no partition's last run failed, and no page failed",
              file=sys.stderr)
        return EXIT_OK
    if args.dry_run:
        print(f"{len(reasons)} partitions would be run (--dry-run: nothing was launched)",
              file=sys.stderr)
        return EXIT_OK
    if not engine_ready(project):
        return EXIT_RUN_FAILED
    print(f"retrying {len(reasons)} partitions ({pages} failed or unfinished pages)",
          file=sys.stderr)
    jobs = Jobs()
    outcome = execute_folders(instance, project, jobs, reasons, pages,
                              trigger="retry-failed", job_name="retry_failed_pages_job")
    execute_corpus(instance, project, jobs, outcome, trigger="retry-failed")
    return summarise(project, outcome)


def _retry_plan(instance: dg.DagsterInstance, project: Project
                ) -> tuple[dict[str, str], int]:
    """The partitions to retry (partition -> why), each said on the terminal, and the pages
    their runs will read (the failed ones, and a failed run's unfinished ones), from the same
    reading of the manifest as their needs."""
    from ocr_assets.orchestration.run_state import folders_needing_run

    needs = folders_needing_run(instance, project, RETRY_NEEDS)
    for key, need in needs.items():
        print(f"{key}: {need.why}", file=sys.stderr)
    return _reasons_and_pages(needs)


def _reasons_and_pages(needs: dict[str, FolderNeed]) -> tuple[dict[str, str], int]:
    """What a command keeps of its planning for its runs: each partition's reason, and the
    pages the runs will read (their progress bar's total). The needs themselves (about 0.3
    KiB a folder) are let go before the runs."""
    return {key: need.why for key, need in needs.items()}, sum(
        need.pages for need in needs.values())


def _resolve_partition(name: str, project: Project, partitions: set[str]) -> str | None:
    """A partition key given as itself or as its folder's name."""
    manifest = project.manifest
    if name in partitions or manifest.folder(name) is not None:
        return name
    matches = [r.partition_key for r in manifest.folders() if r.folder_name == name]
    return matches[0] if len(matches) == 1 else None


def _partitions_in_runs(instance: dg.DagsterInstance, order: list[str]) -> dict[str, str]:
    """partition -> the id of a run queued or in progress that covers it (its partition, or a
    range of many)."""
    import dagster as dg

    from ocr_assets.orchestration.batches import partitions_of_run

    runs = instance.get_runs(dg.RunsFilter(statuses=[
        dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]))
    return {key: run.run_id for run in runs for key in partitions_of_run(run.tags, order)}


def cmd_forget(args: argparse.Namespace) -> int:
    """Delete partitions whose folders were removed: the partition, its outputs, its reports
    and its manifest rows; then rebuild the corpus without their pages."""
    project = Project(project_config(args))
    instance = open_project_instance(project)
    from ocr_assets.engine.folder.forget import forget_folder_data
    from ocr_assets.orchestration.partitions import scan_folders

    order = instance.get_dynamic_partitions(scan_folders.name)
    partitions = set(order)
    busy = _partitions_in_runs(instance, order)
    on_disk = project.scan().folders
    keys: list[str] = []
    for name in args.folders:
        key = _resolve_partition(name, project, partitions)
        if key is None:
            raise Refused(f"{name!r} is neither a partition nor a registered folder; "
                          "`ocr-assets status` lists them", EXIT_USAGE)
        if key in on_disk and not args.keep_scans:
            raise Refused(f"the folder of '{key}' ({project.scans_root / on_disk[key]}) is "
                          "still in the scans root, and the sensor would add it again: move it "
                          "away first, or pass --keep-scans to forget its results anyway",
                          EXIT_USAGE)
        if key in busy:
            raise Refused(f"partition '{key}' has a run queued or in progress ({busy[key]}); "
                          "wait for it or terminate it in the UI, then forget it", EXIT_USAGE)
        keys.append(key)
    for key in keys:
        if key in partitions:
            instance.delete_dynamic_partition(scan_folders.name, key)
        forgotten = forget_folder_data(project, key)
        print(f"forgot '{key}': partition deleted, {forgotten.pages} manifest rows and "
              f"{forgotten.files} output and report files removed", file=sys.stderr)
    outcome = Outcome()
    if not args.no_corpus:
        execute_corpus(instance, project, Jobs(), outcome, trigger="forget")
    return summarise(project, outcome)
