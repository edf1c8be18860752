"""The `ocr` resource of a deployment, from its `OCR_ASSETS_*` variables when the definitions
load, and the executor: steps run inside the run's process."""

import os

import dagster as dg

from ocr_assets.orchestration.resources import OcrConfig


@dg.definitions
def defs() -> dg.Definitions:
    # Steps run inside the run's process: a folder's parallelism is its own pool of Tesseract
    # workers, and a process per step (the multiprocess executor) would add seconds of Python
    # start-up to every folder run. A crashed run is retried whole (dagster.yaml run_retries).
    return dg.Definitions(resources={"ocr": OcrConfig.from_environ(os.environ)},
                          executor=dg.in_process_executor)
