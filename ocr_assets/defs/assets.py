"""The assets: per-folder page text and failed-pages report, and the corpus across folders.

```
scan_folders ──► page_texts ──► failed_pages
                     └────────► ocr_corpus (all partitions)
```
The outputs live in the output store (text, facts, reports, corpus: the data directory unless
`OCR_ASSETS_OUTPUT_URL` says otherwise) and in the manifest; the assets record
that a materialization happened and what it found, so they return `MaterializeResult`s.
"""

from dataclasses import replace
from pathlib import Path

import dagster as dg

from ocr_assets.defs.concurrency import OCR_POOL, workers_per_run
from ocr_assets.defs.metadata import failures_table, folder_metadata, markdown_table
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine import OcrSettings, PageRecord, process_folder
from ocr_assets.engine.corpus import build_corpus
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.engine.registry import folder_path
from ocr_assets.engine.reports import failed_pages_frame, write_failed_pages_report
from ocr_assets.engine.retry import PageRetry, load_record, retry_failed_pages

TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL,
                                 jitter=dg.Jitter.PLUS_MINUS)
"""For the step as a whole (disk full for a moment, a worker pool that fails to start); bad
pages never raise, so a folder with bad pages is not retried by this."""


def run_settings(context: dg.AssetExecutionContext, ocr: OcrConfig) -> OcrSettings:
    """The OCR settings of this run: workers sized to the `tesseract` pool limit in force, so
    concurrent OCR runs never oversubscribe the cores (see `defs/concurrency.py`)."""
    return replace(ocr.settings, workers=workers_per_run(context.instance, ocr.workers))


def folder_and_name(ocr: OcrConfig, partition_key: str) -> tuple[Path, str]:
    """The partition's folder on disk and its name as the operator knows it."""
    record = ocr.manifest().folder(partition_key)
    return folder_or_fail(ocr, partition_key), record.folder_name if record else partition_key


def folder_or_fail(ocr: OcrConfig, partition_key: str):
    try:
        return folder_path(ocr.scans_path, ocr.manifest(), partition_key)
    except KeyError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


@dg.asset(partitions_def=scan_folders, pool=OCR_POOL, retry_policy=TRANSIENT_RETRY,
          group_name="ocr", kinds={"python", "tesseract"},
          description="The OCR text of every page of one scan folder (`<data>/ocr/<partition>/`),"
                      " one `.txt` and one `.json` of facts per page; the manifest is the record.")
def page_texts(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    key = context.partition_key
    manifest = ocr.manifest()
    folder, folder_name = folder_and_name(ocr, key)
    if not folder.is_dir():
        raise dg.Failure(f"scan folder {folder} of partition '{key}' does not exist; restore it, "
                         "or delete the partition (`ocr-assets forget`)", allow_retries=False)

    def log_page(page_id: str, outcome) -> None:
        if outcome.status == DONE:
            context.log.debug(f"{page_id}: done in {outcome.ms} ms")
        else:
            context.log.warning(f"{page_id}: {outcome.error_category}: {outcome.error_message}")

    settings = run_settings(context, ocr)
    context.log.info(f"OCR of folder {folder_name!r} ({folder}) with "
                     f"{settings.workers} workers, lang={ocr.lang}, psm={ocr.psm}")
    try:
        report = process_folder(folder, key, folder_name, manifest=manifest,
                                out_root=ocr.ocr_store, settings=settings,
                                scans_root=ocr.scans_path, on_page=log_page)
    except (RuntimeError, ValueError) as exc:
        raise dg.Failure(f"OCR of folder {folder_name!r} could not start: {exc}",
                         allow_retries=False) from exc
    context.log.info(f"{folder_name!r}: {report.pages} pages, {report.done} done, "
                     f"{report.failed} failed, {report.skipped} skipped, "
                     f"{report.processed} OCRed at {report.pages_per_s:.2f} pages/s")
    metadata = folder_metadata(report)
    metadata["path"] = dg.MetadataValue.path(ocr.ocr_store.uri(key))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(partitions_def=scan_folders, deps=[page_texts], pool=OCR_POOL,
          retry_policy=TRANSIENT_RETRY, group_name="ocr", kinds={"pandas", "tesseract"},
          description="The retry pass over the folder's failed pages (re-decode, downscale, "
                      "other page segmentation), then the report of every failed page: its "
                      "category, message, attempts and what the pass achieved "
                      "(`<data>/reports/<partition>/failed_pages.csv` and `.json`).")
def failed_pages(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    key = context.partition_key
    manifest = ocr.manifest()
    folder, folder_name = folder_and_name(ocr, key)
    reports = ocr.reports_store.child(key)

    def log_retry(page_id: str, entry: PageRetry) -> None:
        if entry.recovered_by:
            context.log.info(f"{page_id}: recovered by {entry.recovered_by}")
        else:
            context.log.warning(f"{page_id}: still failing: {entry.category}: {entry.message}")

    if folder.is_dir():
        try:
            retry = retry_failed_pages(folder, key, folder_name, manifest=manifest,
                                       out_root=ocr.ocr_store, reports=reports,
                                       settings=run_settings(context, ocr),
                                       scans_root=ocr.scans_path, on_page=log_retry)
        except (RuntimeError, ValueError) as exc:
            raise dg.Failure(f"retry pass of folder {folder_name!r} could not start: {exc}",
                             allow_retries=False) from exc
        context.log.info(f"retry pass of {folder_name!r}: {retry.tried} pages tried, "
                         f"{retry.recovered} recovered, {retry.still_failing} still failing, "
                         f"{retry.already_tried} already tried on the same input, "
                         f"{len(retry.not_retried)} without a strategy")
    frame = failed_pages_frame(manifest, key, load_record(reports))
    csv_path, _ = write_failed_pages_report(frame, reports)
    failures: list[PageRecord] = sorted((r for r in manifest.pages(key).values()
                                         if r.status == FAILED), key=lambda r: r.page_id)
    still = frame[frame["status"] == FAILED]
    by_category = still["category"].value_counts().to_dict() if len(still) else {}
    if failures:
        context.log.warning(f"{len(failures)} failed pages in '{key}': {by_category}")
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


@dg.asset(deps=[page_texts], group_name="corpus", kinds={"pandas", "parquet"},
          description="Every done page of every complete folder: `<data>/corpus/pages.parquet`"
                      " and `pages.jsonl`.")
def ocr_corpus(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    summary = build_corpus(ocr.manifest(), ocr.ocr_store, ocr.corpus_store,
                           max_failed_share=ocr.max_failed_share)
    if summary.excluded:
        context.log.warning(f"folders left out of the corpus: {summary.excluded}")
    context.log.info(f"corpus: {summary.rows} pages from {summary.folders} folders")
    return dg.MaterializeResult(metadata={
        "rows": dg.MetadataValue.int(summary.rows),
        "folders": dg.MetadataValue.int(summary.folders),
        "excluded": dg.MetadataValue.md(
            markdown_table(("partition", "why"), summary.excluded.items())
            if summary.excluded else "None."),
        "parquet": dg.MetadataValue.path(str(summary.parquet)),
        "jsonl": dg.MetadataValue.path(str(summary.jsonl)),
    })
