"""The folder's checks: the counts invariant and the failure share block bad data; empty and
garbage pages are named.

The checks recompute from the folder, the files and the manifest; they never trust the
numbers the asset reported, so a tampered or stale manifest makes them fail.
"""

import dagster as dg

from ocr_assets.engine.folder.invariants import check_counts, failure_ratio
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.orchestration.metadata import (
    TABLE_ROWS,
    failures_table,
    flagged_table,
    markdown_table,
)
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.steps import scan_folder


@dg.asset_check(asset="page_texts", blocking=True, partitions_def=scan_folders,
                description="Pages on disk = done + failed, every page terminal, every done "
                            "page has its text file. Blocks the corpus when broken.")
def counts_invariant(context: dg.AssetCheckExecutionContext,
                     ocr: OcrConfig) -> dg.AssetCheckResult:
    result = check_counts(scan_folder(ocr, context.partition_key))
    problems = result.problems()
    metadata: dict[str, dg.MetadataValue] = {
        "pages_on_disk": dg.MetadataValue.int(result.pages_on_disk),
        "done": dg.MetadataValue.int(result.done),
        "failed": dg.MetadataValue.int(result.failed),
    }
    if problems:
        metadata["problems"] = dg.MetadataValue.md(markdown_table(
            ("what", "pages"), ((what, ", ".join(pages[:20])) for what, pages in problems.items())))
    return dg.AssetCheckResult(passed=result.passed, metadata=metadata,
                               description=None if result.passed else
                               "; ".join(f"{len(p)} {what}" for what, p in problems.items()))


@dg.asset_check(asset="failed_pages", blocking=True, partitions_def=scan_folders,
                description="At most `max_failed_share` of the folder's pages failed; above it "
                            "the folder has a cause to fix and stays out of the corpus.")
def failure_share(context: dg.AssetCheckExecutionContext,
                  ocr: OcrConfig) -> dg.AssetCheckResult:
    project = ocr.project()
    ratio = failure_ratio(project.manifest.pages(context.partition_key),
                          project.config.max_failed_share)
    return dg.AssetCheckResult(
        passed=ratio.passed, description=ratio.describe(), metadata={
            "pages": dg.MetadataValue.int(ratio.pages),
            "failed": dg.MetadataValue.int(ratio.failed),
            "failed_share": dg.MetadataValue.float(round(ratio.share, 4)),
            "max_failed_share": dg.MetadataValue.float(ratio.max_failed_share),
        })


@dg.asset_check(asset="page_texts", partitions_def=scan_folders,
                description="Warns while the folder has failed pages, naming them with their "
                            "category; `retry_failed_pages_job` (or `ocr-assets retry-failed`) "
                            "reads them again.")
def no_failed_pages(context: dg.AssetCheckExecutionContext,
                    ocr: OcrConfig) -> dg.AssetCheckResult:
    failed = sorted(ocr.project().manifest.pages(context.partition_key, status=FAILED).values(),
                    key=lambda r: r.page_id)
    metadata: dict[str, dg.MetadataValue] = {
        "failed": dg.MetadataValue.int(len(failed)),
        "pages": dg.MetadataValue.json([{"page": r.page_id, "category": r.error_category}
                                        for r in failed[:TABLE_ROWS]]),
    }
    if failed:
        metadata["table"] = dg.MetadataValue.md(failures_table(failed))
    return dg.AssetCheckResult(
        passed=not failed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=(f"{len(failed)} failed pages: "
                     + ", ".join(f"{r.page_id} ({r.error_category})" for r in failed[:10])
                     + "; rerun them with retry_failed_pages_job") if failed else None)


def _flag_check(ocr: OcrConfig, partition_key: str, flag: str) -> dg.AssetCheckResult:
    flagged = sorted((r for r in ocr.project().manifest.pages(partition_key).values()
                      if r.status == DONE and flag in r.flags.split(",")),
                     key=lambda r: r.page_id)
    metadata: dict[str, dg.MetadataValue] = {
        "flagged": dg.MetadataValue.int(len(flagged)),
        "pages": dg.MetadataValue.json([{"page": r.page_id, "reason": r.flag_reasons()[flag]}
                                        for r in flagged]),
    }
    if flagged:
        metadata["table"] = dg.MetadataValue.md(flagged_table(flagged))
    return dg.AssetCheckResult(
        passed=not flagged, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=(f"{len(flagged)} {flag} pages: "
                     + ", ".join(r.page_id for r in flagged[:10])) if flagged else None)


@dg.asset_check(asset="page_texts", partitions_def=scan_folders,
                description="Warns about pages read from only part of their file (a truncated "
                            "scan whose readable part the retry pass read), naming them: their "
                            "text is only part of the page's.")
def partial_pages(context: dg.AssetCheckExecutionContext,
                  ocr: OcrConfig) -> dg.AssetCheckResult:
    return _flag_check(ocr, context.partition_key, "partial")


@dg.asset_check(asset="page_texts", partitions_def=scan_folders,
                description="Warns about pages with (almost) no text, naming them: blank "
                            "pages, or scans Tesseract could not read.")
def empty_pages(context: dg.AssetCheckExecutionContext, ocr: OcrConfig) -> dg.AssetCheckResult:
    return _flag_check(ocr, context.partition_key, "empty")


@dg.asset_check(asset="page_texts", partitions_def=scan_folders,
                description="Warns about pages whose text looks like noise (low confidence, "
                            "few plausible words, few letters), naming them.")
def garbage_pages(context: dg.AssetCheckExecutionContext,
                  ocr: OcrConfig) -> dg.AssetCheckResult:
    return _flag_check(ocr, context.partition_key, "garbage")
