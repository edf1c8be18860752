"""The corpus's check: it holds exactly the done pages of every folder that passes
(`engine/corpus/verify.py`). In the corpus pool with the build, so it never reads a build
half-written by another run."""

import dagster as dg

from ocr_assets.engine.corpus.verify import verify_corpus
from ocr_assets.orchestration.concurrency import CORPUS_POOL
from ocr_assets.orchestration.metadata import TABLE_ROWS
from ocr_assets.orchestration.resources import OcrConfig


@dg.asset_check(asset="ocr_corpus", blocking=True, pool=CORPUS_POOL,
                description="The corpus (Parquet and its SQLite index) holds exactly the done "
                            "pages of every folder whose blocking checks pass; folders other "
                            "runs changed since the build are named, and left to the next "
                            "build.")
def corpus_complete(ocr: OcrConfig) -> dg.AssetCheckResult:
    verification = verify_corpus(ocr.project())
    return dg.AssetCheckResult(
        passed=verification.passed, description=verification.description(), metadata={
            "folders_waiting": dg.MetadataValue.int(verification.waiting.count),
            "folders_changed_since_build": dg.MetadataValue.json(verification.changed.sample),
            "rows": dg.MetadataValue.int(verification.rows),
            "expected_rows": dg.MetadataValue.int(verification.expected),
            "indexed_rows": dg.MetadataValue.int(verification.indexed),
            "missing": dg.MetadataValue.json(
                [f"{p}/{g}" for p, g in verification.missing[:TABLE_ROWS]]),
            "unexpected": dg.MetadataValue.json(
                [f"{p}/{g}" for p, g in verification.unexpected[:TABLE_ROWS]]),
            "duplicates": dg.MetadataValue.int(verification.duplicates),
        })
