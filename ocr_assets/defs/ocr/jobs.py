"""Jobs over one folder (a partition): its run, and the rerun of its failed pages."""

import dagster as dg

from ocr_assets.orchestration.run_state import TAG_PAGES

FOLDER_SELECTION = ("scan_folders", "page_texts", "failed_pages")

ocr_folder_job = dg.define_asset_job(
    "ocr_folder_job", selection=dg.AssetSelection.assets(*FOLDER_SELECTION, "page_accuracy"),
    description="One scan folder (partition): observe its files, OCR the pages that need it, "
                "retry its failed pages with other settings, write its failed-pages and "
                "accuracy reports, run its checks.")

retry_failed_pages_job = dg.define_asset_job(
    "retry_failed_pages_job", selection=dg.AssetSelection.assets(*FOLDER_SELECTION),
    tags={TAG_PAGES: "failed"},
    description="Read the failed pages of the chosen folders again, every one of them, "
                "whatever failed it and whatever the retry pass tried before (after a cause "
                "was fixed: a language installed, a scan replaced), then their report and "
                "checks. Pick the folders in the partition picker; `ocr-assets retry-failed` "
                "launches the same runs.")
