"""The corpus across folders: every done page of every folder whose blocking checks pass,
with its freshness policy (`OCR_ASSETS_CORPUS_FRESHNESS_H`, shown in the UI)."""

import os

import dagster as dg

from ocr_assets.engine.corpus.build import build_corpus
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.catalog import CORPUS_SCHEMA, OWNERS, tags
from ocr_assets.orchestration.concurrency import CORPUS_POOL
from ocr_assets.orchestration.metadata import TABLE_ROWS, markdown_table
from ocr_assets.orchestration.resources import OcrConfig


def build_ocr_corpus(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    project = ocr.project()
    summary = build_corpus(project)
    counts = project.manifest.status_counts()
    if summary.excluded:
        context.log.warning(f"folders left out of the corpus: {summary.excluded}")
    if summary.waiting:
        context.log.info(f"{len(summary.waiting)} folders are not OCRed yet; the corpus takes "
                         f"them once their first run is done: {summary.waiting[:TABLE_ROWS]}")
    context.log.info(f"corpus: {summary.rows} pages from {summary.folders} folders; re-read "
                     f"{len(summary.reread)}, reused {len(summary.reused)}, removed "
                     f"{len(summary.removed)}")
    return dg.MaterializeResult(metadata={
        "rows": dg.MetadataValue.int(summary.rows),
        "folders": dg.MetadataValue.int(summary.folders),
        "reread_folders": dg.MetadataValue.int(len(summary.reread)),
        "reused_folders": dg.MetadataValue.int(len(summary.reused)),
        "waiting_folders": dg.MetadataValue.int(len(summary.waiting)),
        # Totals over every registered folder, the numbers an overview of the project wants
        # (a folder's own are on `page_texts`'s partitions).
        "pages_done_in_all_folders": dg.MetadataValue.int(
            sum(c.get(DONE, 0) for c in counts.values())),
        "pages_failed_in_all_folders": dg.MetadataValue.int(
            sum(c.get(FAILED, 0) for c in counts.values())),
        "folders_with_failed_pages": dg.MetadataValue.int(
            sum(1 for c in counts.values() if c.get(FAILED, 0))),
        "reread": dg.MetadataValue.json(summary.reread[:TABLE_ROWS]),
        "removed": dg.MetadataValue.json(summary.removed[:TABLE_ROWS]),
        "excluded": dg.MetadataValue.md(
            markdown_table(("partition", "why"), summary.excluded.items())
            if summary.excluded else "None."),
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
