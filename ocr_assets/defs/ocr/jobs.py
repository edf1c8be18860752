"""One folder's run: its OCR, the retry pass with its report, its accuracy, and their checks."""

import dagster as dg

ocr_folder_job = dg.define_asset_job(
    "ocr_folder_job", selection=dg.AssetSelection.assets("page_texts", "failed_pages",
                                                         "page_accuracy"),
    description="OCR one scan folder (partition), retry its failed pages with other settings, "
                "write its failed-pages and accuracy reports, run its checks.")
