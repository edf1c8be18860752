"""A folder's accuracy against its ground truth: character and word error rates per page."""

import dagster as dg

from ocr_assets.engine.folder.accuracy import NORMALISATION, accuracy_frame, evaluate_folder
from ocr_assets.engine.folder.reports import write_frame_report
from ocr_assets.orchestration.catalog import OWNERS, tags
from ocr_assets.orchestration.metadata import markdown_table
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.steps import scan_folder


@dg.asset(partitions_def=scan_folders, deps=["page_texts"], group_name="quality",
          kinds={"pandas", "csv"}, owners=OWNERS, tags=tags("quality"),
          description="Character and word error rates of every page that has ground truth "
                      "(`<stem>.gt.txt` beside it, or under OCR_ASSETS_GROUND_TRUTH), per page "
                      "and for the folder (`<data>/reports/<partition>/accuracy.csv`).")
def page_accuracy(context: dg.AssetExecutionContext, ocr: OcrConfig) -> dg.MaterializeResult:
    folder = scan_folder(ocr, context.partition_key)
    result = evaluate_folder(folder)
    metadata: dict[str, dg.MetadataValue] = {
        "pages_evaluated": dg.MetadataValue.int(len(result.pages)),
        "pages_without_ground_truth": dg.MetadataValue.int(result.without_ground_truth),
        "normalisation": dg.MetadataValue.text(NORMALISATION),
    }
    if not result.pages:
        context.log.info(f"'{folder.key}': no page has ground truth; nothing to evaluate")
        return dg.MaterializeResult(metadata=metadata)
    csv_uri, _ = write_frame_report(accuracy_frame(result), folder.reports, "accuracy")
    context.log.info(f"'{folder.key}': CER {result.cer:.2%}, WER {result.wer:.2%} over "
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


[page_accuracy] = dg.with_source_code_references([page_accuracy])
