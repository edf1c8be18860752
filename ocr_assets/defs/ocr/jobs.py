"""Jobs over folders (partitions): their runs, and the rerun of their failed pages.

Their selections leave the checks out: the folder step evaluates them itself, per folder, and a
check in the selection would also be planned by Dagster, unpartitioned, for the run as a whole.
"""

import dagster as dg

from ocr_assets.orchestration.run_state import TAG_PAGES

FOLDER_ASSETS = dg.AssetSelection.assets("page_texts", "failed_pages", "page_accuracy",
                                         "searchable_pdf").without_checks()

ocr_folder_job = dg.define_asset_job(
    "ocr_folder_job", selection=FOLDER_ASSETS,
    description="Scan folders (partitions): observe each, OCR its pages that need it, retry its "
                "failed pages with other settings, write its failed-pages and accuracy reports "
                "(and its searchable PDF where asked for) and evaluate its checks, each folder "
                "recorded when it is done.")

retry_failed_pages_job = dg.define_asset_job(
    "retry_failed_pages_job", selection=FOLDER_ASSETS, tags={TAG_PAGES: "failed"},
    description="Read the failed pages of the chosen folders again, every one of them, "
                "whatever failed it and whatever the retry pass tried before (after a cause "
                "was fixed: a language installed, a scan replaced), then their reports and "
                "checks. Pick the folders in the partition picker; `ocr-assets retry-failed` "
                "launches the same runs.")
