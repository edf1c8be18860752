"""The corpus across folders: every done page of every folder whose blocking checks pass,
with its freshness policy (`OCR_ASSETS_CORPUS_FRESHNESS_H`, shown in the UI)."""

import os

import dagster as dg

from ocr_assets.engine.corpus.build import CorpusSummary, build_corpus
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.catalog import CORPUS_SCHEMA, OWNERS, tags
from ocr_assets.orchestration.concurrency import CORPUS_POOL
from ocr_assets.orchestration.metadata import markdown_table
from ocr_assets.orchestration.resources import OcrConfig


def _excluded_table(summary: CorpusSummary) -> str:
    """The folders left out and why: the first ones named, the others counted."""
    excluded = summary.excluded
    if not excluded.count:
        return "None."
    table = markdown_table(("partition", "why"), excluded.sample)
    more = excluded.count - len(excluded.sample)
    return table + (f"\n\n{more} more folders are left out." if more else "")


def build_ocr_corpus(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    project = ocr.project()
    summary = build_corpus(project)
    totals = project.manifest.status_totals()
    if summary.excluded.count:
        context.log.warning(f"{summary.excluded.count} folders left out of the corpus: "
                            f"{dict(summary.excluded.sample)}")
    if summary.waiting.count:
        context.log.info(f"{summary.waiting.count} folders are not OCRed yet; the corpus takes "
                         f"them once their first run is done: {summary.waiting.sample}")
    context.log.info(f"corpus: {summary.rows} pages from {summary.folders} folders; re-read "
                     f"{summary.reread.count}, reused {summary.reused.count}, removed "
                     f"{summary.removed.count}")
    return dg.MaterializeResult(metadata={
        "rows": dg.MetadataValue.int(summary.rows),
        "folders": dg.MetadataValue.int(summary.folders),
        "reread_folders": dg.MetadataValue.int(summary.reread.count),
        "reused_folders": dg.MetadataValue.int(summary.reused.count),
        "waiting_folders": dg.MetadataValue.int(summary.waiting.count),
        # Totals over every registered folder, the numbers an overview of the project wants
        # (a folder's own are on `page_texts`'s partitions).
        "pages_done_in_all_folders": dg.MetadataValue.int(totals.get(DONE, (0, 0))[0]),
        "pages_failed_in_all_folders": dg.MetadataValue.int(totals.get(FAILED, (0, 0))[0]),
        "folders_with_failed_pages": dg.MetadataValue.int(totals.get(FAILED, (0, 0))[1]),
        "reread": dg.MetadataValue.json(summary.reread.sample),
        "removed": dg.MetadataValue.json(summary.removed.sample),
        "excluded": dg.MetadataValue.md(_excluded_table(summary)),
        "parquet": dg.MetadataValue.path(str(summary.parquet)),
        "jsonl": dg.MetadataValue.path(str(summary.jsonl)),
        "sqlite": dg.MetadataValue.path(str(summary.sqlite)),
    })


def corpus_asset(freshness: dg.FreshnessPolicy | None = None) -> dg.AssetsDefinition:
    """The corpus asset with `freshness` as its freshness policy (the default
    `AutomationConfig`'s when None)."""

    @dg.asset(name="ocr_corpus", deps=["page_texts"], group_name="corpus",
              kinds={"pandas", "parquet", "sqlite"}, owners=OWNERS, tags=tags("corpus"),
              pool=CORPUS_POOL,
              metadata={"dagster/column_schema": CORPUS_SCHEMA},
              freshness_policy=freshness or AutomationConfig().corpus_freshness_policy(),
              description="Every done page of every folder whose blocking checks pass: "
                          "`<data>/corpus/pages.parquet`, `pages.jsonl` and `pages.sqlite` "
                          "(FTS5 full-text index). Incremental: only changed folders are "
                          "re-read; one build at a time (pool `corpus`). Its freshness policy "
                          "fails once the last build is older than "
                          "OCR_ASSETS_CORPUS_FRESHNESS_H hours.")
    def ocr_corpus(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
        return build_ocr_corpus(context, ocr)

    [corpus] = dg.with_source_code_references([ocr_corpus])
    return corpus


@dg.definitions
def defs() -> dg.Definitions:
    """The corpus with the deployment's freshness policy."""
    automation = AutomationConfig.from_environ(os.environ)
    return dg.Definitions(assets=[corpus_asset(automation.corpus_freshness_policy())])
