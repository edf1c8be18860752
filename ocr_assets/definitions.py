"""The one `Definitions` object of the project, gathered from `ocr_assets.defs`."""

import dagster as dg

from ocr_assets.defs.assets import failed_pages, ocr_corpus, page_accuracy, page_texts
from ocr_assets.defs.checks import (
    cer_within_limit,
    corpus_complete,
    counts_invariant,
    empty_pages,
    failure_share,
    garbage_pages,
)
from ocr_assets.defs.jobs import corpus_job, ocr_folder_job
from ocr_assets.defs.resources import OcrConfig
from ocr_assets.defs.schedules import nightly_ingestion
from ocr_assets.defs.sensors import corpus_sensor, scan_folder_sensor

defs = dg.Definitions(
    assets=[page_texts, failed_pages, page_accuracy, ocr_corpus],
    asset_checks=[counts_invariant, failure_share, empty_pages, garbage_pages, cer_within_limit,
                  corpus_complete],
    jobs=[ocr_folder_job, corpus_job],
    sensors=[scan_folder_sensor, corpus_sensor],
    schedules=[nightly_ingestion],
    resources={"ocr": OcrConfig.from_env()},
    # Steps run inside the run's process: a folder's parallelism is its own pool of Tesseract
    # workers, and a process per step (the multiprocess executor) would add seconds of Python
    # start-up to every folder run. A crashed run is retried whole (dagster.yaml run_retries).
    executor=dg.in_process_executor,
)
