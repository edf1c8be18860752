"""Jobs: one folder's OCR with its retry pass, report and checks; and the corpus build."""

import dagster as dg

from ocr_assets.defs.assets import failed_pages, ocr_corpus, page_accuracy, page_texts

ocr_folder_job = dg.define_asset_job(
    "ocr_folder_job", selection=dg.AssetSelection.assets(page_texts, failed_pages, page_accuracy),
    description="OCR one scan folder (partition), retry its failed pages with other settings, "
                "write its failed-pages and accuracy reports, run its checks.")

CORPUS_TAG = {"ocr_assets/job": "corpus"}
"""`dagster.yaml` lets one run with this tag run at a time: two corpus builds would race."""

corpus_job = dg.define_asset_job(
    "corpus_job", selection=dg.AssetSelection.assets(ocr_corpus), tags=CORPUS_TAG,
    description="Rebuild the corpus from every complete folder.")
