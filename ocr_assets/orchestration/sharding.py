"""The steps of the sharded job, as plain functions of a Dagster context: plan the folders'
shards, read one shard, record the folders once every shard is over. `defs/cluster/jobs.py`
wires them into the job; the engine (`engine.folder.shard`) does the work."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dagster as dg

from ocr_assets.engine.folder.batch import (
    FolderReport,
    folder_settings_ready,
    plan_folder,
    summarise,
)
from ocr_assets.engine.folder.retry import retry_failed_pages
from ocr_assets.engine.folder.run import FolderRun
from ocr_assets.engine.folder.shard import Shard, ShardReport, ocr_shard, plan_shards
from ocr_assets.engine.manifest import DONE, PageOutcome
from ocr_assets.engine.project import FolderNotRegisteredError, ScanFolder
from ocr_assets.orchestration.recording import observe_folder, record_folder
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    FAILED_FOLDERS,
    FAILED_PAGES,
    PAGE_ACCURACY,
    PAGE_TEXTS,
    register_and_add_partitions,
)
from ocr_assets.orchestration.steps import failing_for_good

RECORDED_ASSETS = (PAGE_TEXTS, FAILED_PAGES, PAGE_ACCURACY)


def _folders(ocr: OcrConfig, keys: Sequence[str]) -> list[ScanFolder]:
    try:
        return [ocr.project().folder(key) for key in keys]
    except FolderNotRegisteredError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


def shards_of(context: dg.OpExecutionContext, ocr: OcrConfig, keys: Sequence[str],
              pages_per_shard: int) -> tuple[list[str], Iterator[tuple[str, Shard]]]:
    """Register the scans root's folders (as partitions too), bring the manifest of each
    requested folder (every folder when `keys` is empty) up to date, and split the pages that
    need OCR into shards: the folders, and each shard with its step's mapping key."""
    project = ocr.project()
    registration = register_and_add_partitions(context.instance, project)
    wanted = list(keys) or sorted(registration.scan.folders)
    todo: dict[str, int] = {}
    with failing_for_good("the plan of the sharded run"):
        for folder in _folders(ocr, wanted):
            observe_folder(context, folder)
            settings = folder_settings_ready(folder, project.settings)
            todo[folder.key] = len(plan_folder(folder, settings).todo)
    shards = plan_shards(todo, pages_per_shard)
    context.log.info(f"{sum(todo.values())} pages of {len(todo)} folders to read, in "
                     f"{len(shards)} shards of at most {pages_per_shard} pages")
    return wanted, ((f"s{n}_{shard.key}", shard) for n, shard in enumerate(shards))


def read_shard(context: dg.OpExecutionContext, ocr: OcrConfig, shard: Shard) -> ShardReport:
    """Read one shard on this host, and the free pages of its folders after it."""
    project = ocr.project()

    def log_page(folder: ScanFolder, page_id: str, outcome: PageOutcome) -> None:
        if outcome.status != DONE:
            context.log.warning(f"{folder.key}/{page_id}: {outcome.error_category}: "
                                f"{outcome.error_message}")

    with failing_for_good(f"the OCR of shard {shard.key} of {', '.join(shard.folders)}"):
        report = ocr_shard(_folders(ocr, shard.folders), shard, project.settings,
                           on_page=log_page)
    context.log.info(f"shard {shard.key} of {', '.join(shard.folders)} on host {report.host}: "
                     f"{report.processed} pages read ({report.done} done, {report.failed} "
                     f"failed) in {report.passes} passes, {report.waited_s:.1f} s waiting for "
                     f"other hosts' leases, {report.lost_leases} left to other hosts (their "
                     "leases expired here before they were recorded)")
    return report


def record_folders(context: dg.OpExecutionContext, ocr: OcrConfig, keys: Sequence[str],
                   reports: Sequence[ShardReport], recipe: str) -> None:
    """Once every shard is over: each folder's retry pass, reports, materializations and
    checks; a failed blocking check fails the step, naming the folders, after all are
    recorded."""
    project = ocr.project()
    problems: dict[str, str] = {}
    for folder in _folders(ocr, keys):
        with failing_for_good(f"the retry pass of {folder.name!r}"):
            retry = retry_failed_pages(folder, settings=project.settings)
        report = FolderReport(folder.key, folder.name, recovered=retry.recovered)
        summarise(report, folder.manifest)
        shards = [r.folders[folder.key] for r in reports if folder.key in r.folders]
        report.processed = sum(shard.processed for shard in shards)
        report.ocr_ms = [ms for shard in shards for ms in shard.ocr_ms]
        report.elapsed_s = max((shard.elapsed_s for shard in shards), default=0.0)
        context.log.info(f"{folder.name!r}: {report.pages} pages, {report.done} done, "
                         f"{report.failed} failed; retry pass: {retry.tried} tried, "
                         f"{retry.recovered} recovered")
        for check in record_folder(context, FolderRun(folder, report, retry), recipe,
                                   RECORDED_ASSETS):
            problems[folder.key] = f"blocking check {check} failed"
    hosts = sorted({r.host for r in reports})
    context.log.info(f"{len(reports)} shards read on {len(hosts)} hosts: {', '.join(hosts)}")
    if problems:
        raise dg.Failure(
            description="; ".join(f"{key}: {why}" for key, why in sorted(problems.items())),
            metadata={FAILED_FOLDERS: dg.MetadataValue.json(dict(sorted(problems.items())))},
            allow_retries=False)
