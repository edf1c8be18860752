"""The corpus's check: it holds exactly the done pages of every folder that passes."""

import dagster as dg

from ocr_assets.engine.corpus.build import expected_pages, read_corpus
from ocr_assets.engine.corpus.search import count_indexed_pages
from ocr_assets.orchestration.resources import OcrConfig


@dg.asset_check(asset="ocr_corpus", blocking=True,
                description="The corpus (Parquet and its SQLite index) holds exactly the done "
                            "pages of every folder whose blocking checks pass.")
def corpus_complete(ocr: OcrConfig) -> dg.AssetCheckResult:
    project = ocr.project()
    try:
        written = read_corpus(project.corpus_store, columns=["partition", "page"])
        indexed = count_indexed_pages(project.corpus_store)
    except FileNotFoundError as exc:
        return dg.AssetCheckResult(passed=False, description=f"corpus not built: {exc}")
    want = expected_pages(project)
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
