"""Jobs: one folder's OCR with its report and checks, and the corpus build."""

import dagster as dg

from ocr_assets.defs.assets import failed_pages, ocr_corpus, page_texts

ocr_folder_job = dg.define_asset_job(
    "ocr_folder_job", selection=dg.AssetSelection.assets(page_texts, failed_pages),
    description="OCR one scan folder (partition), write its failed-pages report, run its checks.")

corpus_job = dg.define_asset_job(
    "corpus_job", selection=dg.AssetSelection.assets(ocr_corpus),
    description="Rebuild the corpus from every complete folder.")
