"""The assets: per-folder page text, failed-pages report and accuracy, and the corpus across
folders.

```
scan_folders ──► page_texts ──► failed_pages
                     ├────────► page_accuracy (pages with ground truth)
                     └────────► ocr_corpus (all partitions)
```
The outputs live in the output store (text, facts, reports, corpus: the data directory unless
`OCR_ASSETS_OUTPUT_URL` says otherwise) and in the manifest; the assets record
that a materialization happened and what it found, so they return `MaterializeResult`s.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dagster as dg

from ocr_assets.defs.concurrency import OCR_POOL, workers_per_run
from ocr_assets.defs.metadata import TABLE_ROWS, failures_table, folder_metadata, markdown_table
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine.corpus.build import build_corpus
from ocr_assets.engine.folder.accuracy import (
    NORMALISATION,
    FolderAccuracy,
    accuracy_frame,
    evaluate_folder,
)
from ocr_assets.engine.folder.batch import process_folder
from ocr_assets.engine.folder.registry import folder_path
from ocr_assets.engine.folder.reports import (
    failed_pages_frame,
    write_failed_pages_report,
    write_frame_report,
)
from ocr_assets.engine.folder.retry import PageRetry, load_record, retry_failed_pages
from ocr_assets.engine.manifest import DONE, FAILED, PageRecord
from ocr_assets.engine.settings import OcrSettings

STEP_RETRIES = int(os.environ.get("OCR_ASSETS_STEP_RETRIES", "2"))
STEP_RETRY_DELAY_S = float(os.environ.get("OCR_ASSETS_STEP_RETRY_DELAY_S", "10"))
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=STEP_RETRIES, delay=STEP_RETRY_DELAY_S,
                                 backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
"""For the step as a whole, against transient failures: whatever escapes the step is one, an
`OSError` above all (a disk full or unreachable for a moment, an engine or worker pool that
could not start a process) or a database error of the manifest (a connection dropped
mid-statement). Retry n waits `(2^n - 1) * delay`, plus or minus `delay` (0-20 s, then 20-40 s
by default).

Never retried: bad pages (they never raise; they are recorded failed and reported), a
configuration or installation problem (the engine raises `RuntimeError` or `ValueError`: a
missing Tesseract, language or package, a bad `folder.toml`; it becomes
`dg.Failure(allow_retries=False)`), a missing scan folder, and a failed blocking check (checks
have no retry policy). `OCR_ASSETS_STEP_RETRIES` and `OCR_ASSETS_STEP_RETRY_DELAY_S` are read
when the definitions load."""


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


@contextmanager
def failing_for_good(what: str) -> Iterator[None]:
    """The engine's refusal to start (a bad folder.toml, a missing language or Tesseract:
    `RuntimeError`, `ValueError`) as a step failure the retry policy leaves alone, since
    another attempt would meet the same cause."""
    try:
        yield
    except (RuntimeError, ValueError) as exc:
        raise dg.Failure(f"{what} could not start: {exc}", allow_retries=False) from exc


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
    with failing_for_good(f"OCR of folder {folder_name!r}"):
        report = process_folder(folder, key, folder_name, manifest=manifest,
                                out_root=ocr.ocr_store, settings=settings,
                                scans_root=ocr.scans_path, on_page=log_page)
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
        with failing_for_good(f"retry pass of folder {folder_name!r}"):
            retry = retry_failed_pages(folder, key, folder_name, manifest=manifest,
                                       out_root=ocr.ocr_store, reports=reports,
                                       settings=run_settings(context, ocr),
                                       scans_root=ocr.scans_path, on_page=log_retry)
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


def folder_accuracy(ocr: OcrConfig, partition_key: str) -> FolderAccuracy:
    """CER and WER of the folder's pages that have ground truth (asset and check share it)."""
    record = ocr.manifest().folder(partition_key)
    return evaluate_folder(folder_or_fail(ocr, partition_key), partition_key,
                           manifest=ocr.manifest(), outputs=ocr.ocr_store.child(partition_key),
                           folder_name=record.folder_name if record else partition_key,
                           gt_root=ocr.ground_truth_path)


@dg.asset(partitions_def=scan_folders, deps=[page_texts], group_name="quality",
          kinds={"pandas"},
          description="Character and word error rates of every page that has ground truth "
                      "(`<stem>.gt.txt` beside it, or under OCR_ASSETS_GROUND_TRUTH), per page "
                      "and for the folder (`<data>/reports/<partition>/accuracy.csv`).")
def page_accuracy(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    key = context.partition_key
    result = folder_accuracy(ocr, key)
    metadata: dict[str, dg.MetadataValue] = {
        "pages_evaluated": dg.MetadataValue.int(len(result.pages)),
        "pages_without_ground_truth": dg.MetadataValue.int(result.without_ground_truth),
        "normalisation": dg.MetadataValue.text(NORMALISATION),
    }
    if not result.pages:
        context.log.info(f"'{key}': no page has ground truth; nothing to evaluate")
        return dg.MaterializeResult(metadata=metadata)
    csv_uri, _ = write_frame_report(accuracy_frame(result), ocr.reports_store.child(key),
                                    "accuracy")
    context.log.info(f"'{key}': CER {result.cer:.2%}, WER {result.wer:.2%} over "
                     f"{len(result.pages)} pages with ground truth")
    worst = sorted(result.pages, key=lambda p: p.cer, reverse=True)
    metadata.update({
        "cer": dg.MetadataValue.float(round(result.cer or 0.0, 6)),
        "wer": dg.MetadataValue.float(round(result.wer or 0.0, 6)),
        "report": dg.MetadataValue.path(csv_uri),
        "pages": dg.MetadataValue.md(markdown_table(
            ("page", "CER", "WER", "reference chars"),
            ((p.page, f"{p.cer:.2%}", f"{p.wer:.2%}", p.reference_chars) for p in worst))),
    })
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(deps=[page_texts], group_name="corpus", kinds={"pandas", "parquet", "sqlite"},
          description="Every done page of every folder whose blocking checks pass: "
                      "`<data>/corpus/pages.parquet`, `pages.jsonl` and `pages.sqlite` (FTS5 "
                      "full-text index). Incremental: only changed folders are re-read.")
def ocr_corpus(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    summary = build_corpus(ocr.manifest(), ocr.ocr_store, ocr.corpus_store,
                           scans_root=ocr.scans_path, max_failed_share=ocr.max_failed_share)
    if summary.excluded:
        context.log.warning(f"folders left out of the corpus: {summary.excluded}")
    context.log.info(f"corpus: {summary.rows} pages from {summary.folders} folders; re-read "
                     f"{len(summary.reread)}, reused {len(summary.reused)}, removed "
                     f"{len(summary.removed)}")
    return dg.MaterializeResult(metadata={
        "rows": dg.MetadataValue.int(summary.rows),
        "folders": dg.MetadataValue.int(summary.folders),
        "reread_folders": dg.MetadataValue.int(len(summary.reread)),
        "reused_folders": dg.MetadataValue.int(len(summary.reused)),
        "reread": dg.MetadataValue.json(summary.reread[:TABLE_ROWS]),
        "removed": dg.MetadataValue.json(summary.removed[:TABLE_ROWS]),
        "excluded": dg.MetadataValue.md(
            markdown_table(("partition", "why"), summary.excluded.items())
            if summary.excluded else "None."),
        "parquet": dg.MetadataValue.path(str(summary.parquet)),
        "jsonl": dg.MetadataValue.path(str(summary.jsonl)),
        "sqlite": dg.MetadataValue.path(str(summary.sqlite)),
    })
