"""The OCR of one scan folder (partition): its page texts, read and retried in one step, then
its failed-pages report.

```
scan_folders ──► page_texts ──► failed_pages
```
The outputs live in the output store and the manifest; the assets record that a
materialization happened and what it found, so they return `MaterializeResult`s. `page_texts`
runs Tesseract (the main pass, then the retry pass), so it claims a slot of the `tesseract`
pool, and its metadata is where the folder stands after both passes: the numbers
`ocr-assets status` gives. Both steps retry transient failures with the policy of
`AutomationConfig`, and `page_texts`'s code version is the recipe of the configured settings:
both are read when the definitions load, hence the factory.
"""

import os

import dagster as dg

from ocr_assets.engine.folder.reports import failed_pages_frame, write_failed_pages_report
from ocr_assets.engine.folder.retry import PageRetry, load_record
from ocr_assets.engine.folder.run import ocr_folder
from ocr_assets.engine.manifest import DONE, FAILED, PageOutcome, PageRecord
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.catalog import OWNERS, REPORT_SCHEMA, tags
from ocr_assets.orchestration.concurrency import OCR_POOL
from ocr_assets.orchestration.metadata import failures_table, folder_metadata
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import SCAN_FOLDERS, TAG_PAGES
from ocr_assets.orchestration.steps import failing_for_good, run_settings, scan_folder


def ocr_page_texts(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    """OCR every page of the folder that is not done for its input and recipe, then retry its
    failed pages with other settings; record where the folder stands after both."""
    folder = scan_folder(ocr, context.partition_key)
    if not folder.path.is_dir():
        raise dg.Failure(f"scan folder {folder.path} of partition '{folder.key}' does not "
                         "exist; restore it, or delete the partition (`ocr-assets forget`)",
                         allow_retries=False)

    def log_page(page_id: str, outcome: PageOutcome) -> None:
        if outcome.status == DONE:
            context.log.debug(f"{page_id}: done in {outcome.ms} ms")
        else:
            context.log.warning(f"{page_id}: {outcome.error_category}: {outcome.error_message}")

    def log_retry(page_id: str, entry: PageRetry) -> None:
        if entry.recovered_by:
            context.log.info(f"{page_id}: recovered by {entry.recovered_by}")
        else:
            context.log.warning(f"{page_id}: still failing: {entry.category}: {entry.message}")

    settings = run_settings(context, ocr)
    failed_again = context.run.tags.get(TAG_PAGES) == "failed"
    context.log.info(f"OCR of folder {folder.name!r} ({folder.path}) with "
                     f"{settings.workers} workers, lang={settings.lang}, psm={settings.psm}"
                     + ("; every failed page is read again" if failed_again else ""))
    with failing_for_good(f"OCR of folder {folder.name!r}"):
        run = ocr_folder(folder, settings=settings, failed_again=failed_again,
                         on_page=log_page, on_retry=log_retry)
    report, retry = run.report, run.retry
    context.log.info(f"{folder.name!r}: {report.pages} pages, {report.done} done, "
                     f"{report.failed} failed, {report.skipped} skipped, "
                     f"{report.processed} OCRed at {report.pages_per_s:.2f} pages/s; retry "
                     f"pass: {retry.tried} tried, {retry.recovered} recovered, "
                     f"{retry.already_tried} already tried on the same input")
    metadata = folder_metadata(report)
    metadata["path"] = dg.MetadataValue.path(folder.outputs.uri(""))
    return dg.MaterializeResult(metadata=metadata)


def report_failed_pages(context: dg.AssetExecutionContext,
                        ocr: OcrConfig) -> dg.MaterializeResult:
    """The folder's failed-pages report, from the manifest and the retry pass's record."""
    folder = scan_folder(ocr, context.partition_key)
    manifest = folder.manifest
    frame = failed_pages_frame(manifest, folder.key, load_record(folder.reports))
    csv_path, _ = write_failed_pages_report(frame, folder.reports)
    failures: list[PageRecord] = sorted(manifest.pages(folder.key, status=FAILED).values(),
                                        key=lambda r: r.page_id)
    still = frame[frame["status"] == FAILED]
    by_category = still["category"].value_counts().to_dict() if len(still) else {}
    if failures:
        context.log.warning(f"{len(failures)} failed pages in '{folder.key}': {by_category}")
    return dg.MaterializeResult(metadata={
        "failed": dg.MetadataValue.int(len(failures)),
        "recovered": dg.MetadataValue.int(int((frame["retry_outcome"] == "recovered").sum())),
        "by_category": dg.MetadataValue.json(by_category),
        "by_retry_outcome": dg.MetadataValue.json(
            frame["retry_outcome"].value_counts().to_dict() if len(frame) else {}),
        "report": dg.MetadataValue.path(str(csv_path)),
        "pages": dg.MetadataValue.md(failures_table(failures) if failures
                                     else "No failed pages."),
    })


def folder_assets(step_retry: dg.RetryPolicy | None = None,
                  recipe: str | None = None) -> list[dg.AssetsDefinition]:
    """`page_texts` and `failed_pages`, with `step_retry` (the default `AutomationConfig`'s
    when None) as their retry policy and `recipe` (the default settings' when None) as the
    code version of `page_texts`: a new recipe marks every folder's text unsynced."""
    retry = step_retry or AutomationConfig().step_retry_policy()
    page_texts = dg.asset(
        name="page_texts", partitions_def=scan_folders, deps=[SCAN_FOLDERS], pool=OCR_POOL,
        retry_policy=retry, code_version=recipe or OcrSettings().recipe_key(), group_name="ocr",
        kinds={"python", "tesseract"}, owners=OWNERS, tags=tags("pages"),
        description="The OCR text of every page of one scan folder (`<data>/ocr/<partition>/`),"
                    " one `.txt` and one `.json` of facts per page, after the retry pass over "
                    "its failed pages (re-decode, downscale, other page segmentation); the "
                    "manifest is the record, and the metadata is where the folder stands "
                    "after the run. Its code version is the recipe: the settings that change "
                    "the text.",
    )(ocr_page_texts)
    failed_pages = dg.asset(
        name="failed_pages", partitions_def=scan_folders, deps=[page_texts],
        retry_policy=retry, group_name="ocr", kinds={"pandas", "csv"}, owners=OWNERS,
        tags=tags("report"), metadata={"dagster/column_schema": REPORT_SCHEMA},
        description="The report of every failed page of the folder, and of every page the "
                    "retry pass recovered: its category, message, attempts and what the pass "
                    "did (`<data>/reports/<partition>/failed_pages.csv` and `.json`).",
    )(report_failed_pages)
    return list(dg.with_source_code_references([page_texts, failed_pages]))


@dg.definitions
def defs() -> dg.Definitions:
    """The folder assets with the deployment's step retry policy."""
    automation = AutomationConfig.from_environ(os.environ)
    recipe = OcrConfig.from_environ(os.environ).project().settings.recipe_key()
    return dg.Definitions(assets=folder_assets(automation.step_retry_policy(), recipe))
