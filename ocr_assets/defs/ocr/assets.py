"""The OCR of scan folders (partitions): one step reads every folder of its run through one pool
and records, for each folder, its page texts, its failed-pages report, its accuracy and (where
the folder asks for it) its searchable PDF, with their checks.

```
scan_folders ──► page_texts ──► failed_pages
                      ├───────► page_accuracy
                      └───────► searchable_pdf
```
The searchable PDF is an asset of its own but an output of this same step, not a step of its
own: it is merged from page PDFs the OCR pass already wrote, in a fraction of a second per
folder, so a step (and with the multiprocess executor a process) per run for it would cost more
than the merge, and many small folders would wait for it; here each folder's PDF is recorded
the moment the folder is done, like its reports.
A run covers one folder (a click in the UI, a sensor's request) or many (`ocr-assets run`, a
backfill: `BackfillPolicy.multi_run`, `OCR_ASSETS_FOLDERS_PER_RUN` folders a run), and either
way each folder gets its own materializations and check results, recorded the moment it is
done: what the UI shows for a folder is the manifest's after its run. So the step records them
itself (written to the instance as `context.log_event` would, without being kept for the
step's stream: `orchestration/recording.py`) instead of returning outputs, the same way for
one folder or many; the checks are declared on the step and evaluated by it, and the jobs
leave them out of their selection so Dagster plans no unpartitioned check of its own.

A folder that cannot run (gone from the scans root, not registered, a bad `folder.toml`, a
missing language) or whose blocking check fails does not stop the others: the step ends with
one failure naming them, so their partitions show failed (or checked) and the others' do not.
"""

import os
from collections.abc import Iterator

import dagster as dg

from ocr_assets.engine.folder.retry import PageRetry
from ocr_assets.engine.folder.run import FolderRun, ocr_folders
from ocr_assets.engine.manifest import DONE, PageOutcome
from ocr_assets.engine.page.engines.choice import fallback_note
from ocr_assets.engine.project import FolderNotRegisteredError, ScanFolder
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.catalog import OWNERS, REPORT_SCHEMA, tags
from ocr_assets.orchestration.concurrency import OCR_POOL
from ocr_assets.orchestration.folder_results import check_specs
from ocr_assets.orchestration.page_progress import PageProgress
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.recording import observe_folder, record_folder
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    FAILED_FOLDERS,
    FAILED_PAGES,
    PAGE_ACCURACY,
    PAGE_TEXTS,
    SCAN_FOLDERS,
    SEARCHABLE_PDF,
    TAG_PAGES,
)
from ocr_assets.orchestration.steps import failing_for_good, run_settings


def ocr_scan_folders(context: dg.AssetExecutionContext, ocr: OcrConfig, recipe: str) -> None:
    """OCR the run's folders, then retry their failed pages; record each folder when it is
    done."""
    project = ocr.project()
    settings = run_settings(context, ocr)
    failed_again = context.run.tags.get(TAG_PAGES) == "failed"
    problems: dict[str, str] = {}
    folders: list[ScanFolder] = []
    for key in context.partition_keys:
        try:
            folder = project.folder(key)
        except FolderNotRegisteredError as exc:
            problems[key] = str(exc)
            continue
        if not folder.path.is_dir():
            problems[key] = (f"scan folder {folder.path} does not exist; restore it, or delete "
                             "the partition (`ocr-assets forget`)")
            continue
        observe_folder(context, folder)
        folders.append(folder)

    progress = PageProgress(context.log)

    def log_page(folder: ScanFolder, page_id: str, outcome: PageOutcome) -> None:
        progress.page(outcome)
        if outcome.status != DONE:
            context.log.warning(f"{folder.key}/{page_id}: {outcome.error_category}: "
                                f"{outcome.error_message}")

    def log_retry(folder: ScanFolder, page_id: str, entry: PageRetry) -> None:
        if entry.recovered_by:
            context.log.info(f"{folder.key}/{page_id}: recovered by {entry.recovered_by}")
        else:
            context.log.warning(f"{folder.key}/{page_id}: still failing: {entry.category}: "
                                f"{entry.message}")

    def folder_done(run: FolderRun) -> None:
        report, retry = run.report, run.retry
        context.log.info(f"{run.folder.name!r}: {report.pages} pages, {report.done} done, "
                         f"{report.failed} failed, {report.skipped} skipped, "
                         f"{report.processed} OCRed at {report.pages_per_s:.2f} pages/s, "
                         f"{report.reused} taken from the same scan read before; retry "
                         f"pass: {retry.tried} tried, {retry.recovered} recovered")
        for check in record_folder(context, run, recipe, context.selected_asset_keys):
            problems[run.folder.key] = f"blocking check {check} failed"

    def refused(folder: ScanFolder, exc: Exception) -> None:
        problems[folder.key] = f"OCR of folder {folder.name!r} could not start: {exc}"

    context.log.info(f"OCR of {len(folders)} folders with {settings.workers} workers, "
                     f"engine {settings.engine}, lang={settings.lang}, psm={settings.psm}"
                     + ("; every failed page is read again" if failed_again else ""))
    if note := fallback_note(ocr.engine, settings.archival_formats):
        context.log.warning(note)
    with failing_for_good("the OCR of the run's folders"):
        ocr_folders(folders, settings, on_folder=folder_done, failed_again=failed_again,
                    on_page=log_page, on_retry=log_retry, on_refused=refused)
    if problems:
        raise dg.Failure(
            description="; ".join(f"{key}: {why}" for key, why in sorted(problems.items())),
            metadata={FAILED_FOLDERS: dg.MetadataValue.json(dict(sorted(problems.items())))},
            allow_retries=False)


def folder_assets(step_retry: dg.RetryPolicy | None = None, recipe: str | None = None,
                  folders_per_run: int | None = None) -> list[dg.AssetsDefinition]:
    """The folder step, with `step_retry` as its retry policy, `recipe` as the code version of
    `page_texts` (a new recipe marks every folder's text unsynced) and at most
    `folders_per_run` folders in a backfill's run; the default `AutomationConfig`'s and the
    default settings' where None."""
    automation = AutomationConfig()
    recipe = recipe or OcrSettings().recipe_key()
    common = {"partitions_def": scan_folders, "owners": OWNERS, "skippable": True}

    @dg.multi_asset(
        name="ocr_scan_folders",
        specs=[
            dg.AssetSpec(
                PAGE_TEXTS, deps=[SCAN_FOLDERS], code_version=recipe, group_name="ocr",
                kinds={"python", "tesseract"}, tags=tags("pages"), **common,
                description="The OCR text of every page of one scan folder "
                            "(`<data>/ocr/<partition>/`), one `.txt` and one `.json` of facts "
                            "per page, after the retry pass over its failed pages (re-decode, "
                            "downscale, other page segmentation); the manifest is the record, "
                            "and the metadata is where the folder stands after the run. Its "
                            "code version is the recipe: the settings that change the text."),
            dg.AssetSpec(
                FAILED_PAGES, deps=[PAGE_TEXTS], group_name="ocr", kinds={"pandas", "csv"},
                tags=tags("report"), metadata={"dagster/column_schema": REPORT_SCHEMA},
                **common,
                description="The report of every failed page of the folder, and of every page "
                            "the retry pass recovered: its category, message, attempts and what "
                            "the pass did (`<data>/reports/<partition>/failed_pages.csv` and "
                            "`.json`)."),
            dg.AssetSpec(
                PAGE_ACCURACY, deps=[PAGE_TEXTS], group_name="quality",
                kinds={"pandas", "csv"}, tags=tags("quality"), **common,
                description="Character and word error rates of every page that has ground "
                            "truth (`<stem>.gt.txt` beside it, or under OCR_ASSETS_GROUND_TRUTH),"
                            " per page and for the folder "
                            "(`<data>/reports/<partition>/accuracy.csv`)."),
            dg.AssetSpec(
                SEARCHABLE_PDF, deps=[PAGE_TEXTS], group_name="ocr", kinds={"pdf"},
                tags=tags("deliverable"), **common,
                description="One searchable PDF of the folder (`<data>/pdf/<partition>.pdf`): "
                            "its done pages in page order, each the image Tesseract read with "
                            "the words of the same pass as invisible text; PDF/A-2b with "
                            "OCR_ASSETS_PDFA. Made only for folders that ask for it "
                            "(OCR_ASSETS_SEARCHABLE_PDF, or `searchable_pdf` in `folder.toml`), "
                            "recorded for every folder (`made` says which). Rebuilt only when "
                            "its done pages changed."),
        ],
        check_specs=check_specs(), partitions_def=scan_folders, can_subset=True, pool=OCR_POOL,
        retry_policy=step_retry or automation.step_retry_policy(),
        backfill_policy=dg.BackfillPolicy.multi_run(
            max_partitions_per_run=folders_per_run or automation.folders_per_run),
        description="The OCR of the run's scan folders through one pool of Tesseract workers, "
                    "the retry pass over their failed pages, their reports and checks, each "
                    "folder recorded when it is done.",
    )
    def ocr_scan_folders_step(context: dg.AssetExecutionContext,
                              ocr: OcrConfig) -> Iterator[dg.MaterializeResult]:
        ocr_scan_folders(context, ocr, recipe)
        # Each folder was recorded when it was done; a step with several outputs must still
        # be a generator to return none.
        yield from ()

    return list(dg.with_source_code_references([ocr_scan_folders_step]))


@dg.definitions
def defs() -> dg.Definitions:
    """The folder step with the deployment's step retry policy, recipe and run size."""
    automation = AutomationConfig.from_environ(os.environ)
    recipe = OcrConfig.from_environ(os.environ).project().settings.recipe_key()
    return dg.Definitions(assets=folder_assets(automation.step_retry_policy(), recipe,
                                               automation.folders_per_run))
