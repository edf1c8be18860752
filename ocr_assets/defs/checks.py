"""Asset checks: the counts invariant and the failure ratio block bad data; empty and garbage
pages are named; a folder whose error rate against ground truth is above the limit is warned
about.

The checks recompute from the folder, the files and the manifest; they never trust the
numbers the asset reported, so a tampered or stale manifest makes them fail.
"""

import dagster as dg

from ocr_assets.defs.assets import (
    failed_pages,
    folder_accuracy,
    folder_or_fail,
    ocr_corpus,
    page_accuracy,
    page_texts,
)
from ocr_assets.defs.metadata import flagged_table, markdown_table
from ocr_assets.defs.partitions import scan_folders
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.engine.corpus.build import expected_pages, read_corpus
from ocr_assets.engine.corpus.search import count_indexed_pages
from ocr_assets.engine.folder.invariants import check_counts, failure_ratio
from ocr_assets.engine.manifest import DONE


@dg.asset_check(asset=page_texts, blocking=True, partitions_def=scan_folders,
                description="Pages on disk = done + failed, every page terminal, every done "
                            "page has its text file. Blocks the corpus when broken.")
def counts_invariant(context: dg.AssetCheckExecutionContext,
                     ocr: OcrConfig) -> dg.AssetCheckResult:
    key = context.partition_key
    result = check_counts(folder_or_fail(ocr, key), key, manifest=ocr.manifest(),
                          out_root=ocr.ocr_store, scans_root=ocr.scans_path)
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


@dg.asset_check(asset=failed_pages, blocking=True, partitions_def=scan_folders,
                description="At most `max_failed_share` of the folder's pages failed; above it "
                            "the folder has a cause to fix and stays out of the corpus.")
def failure_share(context: dg.AssetCheckExecutionContext,
                  ocr: OcrConfig) -> dg.AssetCheckResult:
    ratio = failure_ratio(ocr.manifest().pages(context.partition_key), ocr.max_failed_share)
    return dg.AssetCheckResult(
        passed=ratio.passed, description=ratio.describe(), metadata={
            "pages": dg.MetadataValue.int(ratio.pages),
            "failed": dg.MetadataValue.int(ratio.failed),
            "failed_share": dg.MetadataValue.float(round(ratio.share, 4)),
            "max_failed_share": dg.MetadataValue.float(ratio.max_failed_share),
        })


def _flag_check(ocr: OcrConfig, partition_key: str, flag: str) -> dg.AssetCheckResult:
    flagged = sorted((r for r in ocr.manifest().pages(partition_key).values()
                      if r.status == DONE and flag in r.flags.split(",")),
                     key=lambda r: r.page_id)
    metadata: dict[str, dg.MetadataValue] = {
        "flagged": dg.MetadataValue.int(len(flagged)),
        "pages": dg.MetadataValue.json([{"page": r.page_id, "reason": r.flag_reason}
                                        for r in flagged]),
    }
    if flagged:
        metadata["table"] = dg.MetadataValue.md(flagged_table(flagged))
    return dg.AssetCheckResult(
        passed=not flagged, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=(f"{len(flagged)} {flag} pages: "
                     + ", ".join(r.page_id for r in flagged[:10])) if flagged else None)


@dg.asset_check(asset=page_texts, partitions_def=scan_folders,
                description="Warns about pages with (almost) no text, naming them: blank "
                            "pages, or scans Tesseract could not read.")
def empty_pages(context: dg.AssetCheckExecutionContext, ocr: OcrConfig) -> dg.AssetCheckResult:
    return _flag_check(ocr, context.partition_key, "empty")


@dg.asset_check(asset=page_texts, partitions_def=scan_folders,
                description="Warns about pages whose text looks like noise (low confidence, "
                            "few plausible words, few letters), naming them.")
def garbage_pages(context: dg.AssetCheckExecutionContext,
                  ocr: OcrConfig) -> dg.AssetCheckResult:
    return _flag_check(ocr, context.partition_key, "garbage")


@dg.asset_check(asset=page_accuracy, partitions_def=scan_folders,
                description="Warns when the folder's character error rate against its ground "
                            "truth is above OCR_ASSETS_MAX_CER, naming the worst pages.")
def cer_within_limit(context: dg.AssetCheckExecutionContext,
                     ocr: OcrConfig) -> dg.AssetCheckResult:
    result = folder_accuracy(ocr, context.partition_key)
    if result.cer is None:
        return dg.AssetCheckResult(passed=True, description="no page has ground truth",
                                   metadata={"pages_evaluated": dg.MetadataValue.int(0)})
    over = sorted((p for p in result.pages if p.cer > ocr.max_cer),
                  key=lambda p: p.cer, reverse=True)
    passed = result.cer <= ocr.max_cer
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"CER {result.cer:.2%} > limit {ocr.max_cer:.2%}; worst pages: "
            + ", ".join(f"{p.page} ({p.cer:.1%})" for p in over[:10])),
        metadata={"cer": dg.MetadataValue.float(round(result.cer, 6)),
                  "limit": dg.MetadataValue.float(ocr.max_cer),
                  "pages_evaluated": dg.MetadataValue.int(len(result.pages)),
                  "pages_over_limit": dg.MetadataValue.json(
                      [{"page": p.page, "cer": round(p.cer, 4)} for p in over[:50]])})


@dg.asset_check(asset=ocr_corpus, blocking=True,
                description="The corpus (Parquet and its SQLite index) holds exactly the done "
                            "pages of every folder whose blocking checks pass.")
def corpus_complete(ocr: OcrConfig) -> dg.AssetCheckResult:
    try:
        written = read_corpus(ocr.corpus_store, columns=["partition", "page"])
        indexed = count_indexed_pages(ocr.corpus_store)
    except FileNotFoundError as exc:
        return dg.AssetCheckResult(passed=False, description=f"corpus not built: {exc}")
    want = expected_pages(ocr.manifest(), ocr.ocr_store, scans_root=ocr.scans_path,
                          max_failed_share=ocr.max_failed_share)
    have = set(zip(written["partition"], written["page"], strict=True))
    missing, extra = sorted(want - have), sorted(have - want)
    duplicates = int(written.duplicated().sum())
    passed = not missing and not extra and duplicates == 0 and indexed == len(written)
    return dg.AssetCheckResult(passed=passed, metadata={
        "rows": dg.MetadataValue.int(len(written)),
        "expected_rows": dg.MetadataValue.int(len(want)),
        "indexed_rows": dg.MetadataValue.int(indexed),
        "missing": dg.MetadataValue.json([f"{p}/{g}" for p, g in missing[:50]]),
        "unexpected": dg.MetadataValue.json([f"{p}/{g}" for p, g in extra[:50]]),
        "duplicates": dg.MetadataValue.int(duplicates),
    })
