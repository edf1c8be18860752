"""The corpus's check: it holds exactly the done pages of every folder that passes."""

import dagster as dg

from ocr_assets.engine.corpus.build import expected_pages, included_partitions, read_corpus
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
    selection = included_partitions(project)
    want = expected_pages(project, selection)
    have = set(zip(written["partition"], written["page"], strict=True))
    missing, extra = sorted(want - have), sorted(have - want)
    duplicates = int(written.duplicated().sum())
    passed = not missing and not extra and duplicates == 0 and indexed == len(written)
    waiting = (f"; {len(selection.waiting)} folders are not OCRed yet and wait for their first "
               "run" if selection.waiting else "")
    description = (f"{len(want)} pages of {len(selection.included)} folders" if passed else
                   f"{len(missing)} pages missing, {len(extra)} unexpected, {duplicates} "
                   f"duplicated, {indexed} of {len(written)} rows indexed") + waiting
    return dg.AssetCheckResult(passed=passed, description=description, metadata={
        "folders_waiting": dg.MetadataValue.int(len(selection.waiting)),
        "rows": dg.MetadataValue.int(len(written)),
        "expected_rows": dg.MetadataValue.int(len(want)),
        "indexed_rows": dg.MetadataValue.int(indexed),
        "missing": dg.MetadataValue.json([f"{p}/{g}" for p, g in missing[:50]]),
        "unexpected": dg.MetadataValue.json([f"{p}/{g}" for p, g in extra[:50]]),
        "duplicates": dg.MetadataValue.int(duplicates),
    })
