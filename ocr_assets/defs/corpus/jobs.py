"""The corpus build, one run at a time."""

import dagster as dg

CORPUS_TAG = {"ocr_assets/job": "corpus"}
"""`dagster.yaml` lets one run with this tag run at a time: two corpus builds would race."""

corpus_job = dg.define_asset_job(
    "corpus_job", selection=dg.AssetSelection.assets("ocr_corpus"), tags=CORPUS_TAG,
    description="Rebuild the corpus from every complete folder.")
