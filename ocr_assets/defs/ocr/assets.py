"""The OCR of one scan folder (partition): its page texts, then the retry pass over its failed
pages with the failed-pages report.

```
scan_folders ──► page_texts ──► failed_pages
```
The outputs live in the output store and the manifest; the assets record that a
materialization happened and what it found, so they return `MaterializeResult`s. Both steps
run Tesseract, so both claim a slot of the `tesseract` pool, and both retry transient failures
with the policy of `AutomationConfig` (read when the definitions load, hence the factory).
"""

import os

import dagster as dg

from ocr_assets.engine.folder.batch import process_folder
from ocr_assets.engine.folder.reports import failed_pages_frame, write_failed_pages_report
from ocr_assets.engine.folder.retry import PageRetry, load_record, retry_failed_pages
from ocr_assets.engine.manifest import DONE, FAILED, PageRecord
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.concurrency import OCR_POOL
from ocr_assets.orchestration.metadata import failures_table, folder_metadata
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.steps import failing_for_good, run_settings, scan_folder


def ocr_page_texts(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    """OCR every page of the folder that is not done for its input and recipe."""
    folder = scan_folder(ocr, context.partition_key)
    if not folder.path.is_dir():
        raise dg.Failure(f"scan folder {folder.path} of partition '{folder.key}' does not "
                         "exist; restore it, or delete the partition (`ocr-assets forget`)",
                         allow_retries=False)

    def log_page(page_id: str, outcome) -> None:
        if outcome.status == DONE:
            context.log.debug(f"{page_id}: done in {outcome.ms} ms")
        else:
            context.log.warning(f"{page_id}: {outcome.error_category}: {outcome.error_message}")

    settings = run_settings(context, ocr)
    context.log.info(f"OCR of folder {folder.name!r} ({folder.path}) with "
                     f"{settings.workers} workers, lang={settings.lang}, psm={settings.psm}")
    with failing_for_good(f"OCR of folder {folder.name!r}"):
        report = process_folder(folder, settings=settings, on_page=log_page)
    context.log.info(f"{folder.name!r}: {report.pages} pages, {report.done} done, "
                     f"{report.failed} failed, {report.skipped} skipped, "
                     f"{report.processed} OCRed at {report.pages_per_s:.2f} pages/s")
    metadata = folder_metadata(report)
    metadata["path"] = dg.MetadataValue.path(folder.outputs.uri(""))
    return dg.MaterializeResult(metadata=metadata)


def retry_and_report(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    """The retry pass over the folder's failed pages, then its failed-pages report."""
    folder = scan_folder(ocr, context.partition_key)
    manifest = folder.manifest

    def log_retry(page_id: str, entry: PageRetry) -> None:
        if entry.recovered_by:
            context.log.info(f"{page_id}: recovered by {entry.recovered_by}")
        else:
            context.log.warning(f"{page_id}: still failing: {entry.category}: {entry.message}")

    if folder.path.is_dir():
        with failing_for_good(f"retry pass of folder {folder.name!r}"):
            retry = retry_failed_pages(folder, settings=run_settings(context, ocr),
                                       on_page=log_retry)
        context.log.info(f"retry pass of {folder.name!r}: {retry.tried} pages tried, "
                         f"{retry.recovered} recovered, {retry.still_failing} still failing, "
                         f"{retry.already_tried} already tried on the same input, "
                         f"{len(retry.not_retried)} without a strategy")
    frame = failed_pages_frame(manifest, folder.key, load_record(folder.reports))
    csv_path, _ = write_failed_pages_report(frame, folder.reports)
    failures: list[PageRecord] = sorted((r for r in manifest.pages(folder.key).values()
                                         if r.status == FAILED), key=lambda r: r.page_id)
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


def folder_assets(step_retry: dg.RetryPolicy | None = None) -> list[dg.AssetsDefinition]:
    """`page_texts` and `failed_pages`, with `step_retry` (the default `AutomationConfig`'s
    when None) as their retry policy."""
    retry = step_retry or AutomationConfig().step_retry_policy()
    page_texts = dg.asset(
        name="page_texts", partitions_def=scan_folders, pool=OCR_POOL, retry_policy=retry,
        group_name="ocr", kinds={"python", "tesseract"},
        description="The OCR text of every page of one scan folder (`<data>/ocr/<partition>/`),"
                    " one `.txt` and one `.json` of facts per page; the manifest is the record.",
    )(ocr_page_texts)
    failed_pages = dg.asset(
        name="failed_pages", partitions_def=scan_folders, deps=[page_texts], pool=OCR_POOL,
        retry_policy=retry, group_name="ocr", kinds={"pandas", "tesseract"},
        description="The retry pass over the folder's failed pages (re-decode, downscale, "
                    "other page segmentation), then the report of every failed page: its "
                    "category, message, attempts and what the pass achieved "
                    "(`<data>/reports/<partition>/failed_pages.csv` and `.json`).",
    )(retry_and_report)
    return [page_texts, failed_pages]


@dg.definitions
def defs() -> dg.Definitions:
    """The folder assets with the deployment's step retry policy."""
    automation = AutomationConfig.from_environ(os.environ)
    return dg.Definitions(assets=folder_assets(automation.step_retry_policy()))
