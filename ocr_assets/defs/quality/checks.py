"""The accuracy check: a folder whose error rate against its ground truth is above the limit is
warned about, with its worst pages named."""

import dagster as dg

from ocr_assets.engine.folder.accuracy import evaluate_folder
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.steps import scan_folder


@dg.asset_check(asset="page_accuracy", partitions_def=scan_folders,
                description="Warns when the folder's character error rate against its ground "
                            "truth is above OCR_ASSETS_MAX_CER, naming the worst pages.")
def cer_within_limit(context: dg.AssetCheckExecutionContext,
                     ocr: OcrConfig) -> dg.AssetCheckResult:
    result = evaluate_folder(scan_folder(ocr, context.partition_key))
    max_cer = ocr.project().config.max_cer
    if result.cer is None:
        return dg.AssetCheckResult(passed=True, description="no page has ground truth",
                                   metadata={"pages_evaluated": dg.MetadataValue.int(0)})
    over = sorted((p for p in result.pages if p.cer > max_cer),
                  key=lambda p: p.cer, reverse=True)
    passed = result.cer <= max_cer
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"CER {result.cer:.2%} > limit {max_cer:.2%}; worst pages: "
            + ", ".join(f"{p.page} ({p.cer:.1%})" for p in over[:10])),
        metadata={"cer": dg.MetadataValue.float(round(result.cer, 6)),
                  "limit": dg.MetadataValue.float(max_cer),
                  "pages_evaluated": dg.MetadataValue.int(len(result.pages)),
                  "pages_over_limit": dg.MetadataValue.json(
                      [{"page": p.page, "cer": round(p.cer, 4)} for p in over[:50]])})
