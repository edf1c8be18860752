"""The project's Dagster definitions as the tests use them, each by name: the folder assets
with the default step retry policy (`AutomationConfig()`), the sensors and the schedule at the
default intervals and cron. What a deployment loads is `ocr_assets.definitions`; these are the
same factories and modules."""

from __future__ import annotations

from ocr_assets.defs.automation.schedules import nightly_schedule
from ocr_assets.defs.automation.sensors import decode_cursor, sensors
from ocr_assets.defs.corpus.assets import ocr_corpus
from ocr_assets.defs.corpus.checks import corpus_complete
from ocr_assets.defs.corpus.jobs import CORPUS_TAG, corpus_job
from ocr_assets.defs.ocr.assets import folder_assets
from ocr_assets.defs.ocr.checks import (
    counts_invariant,
    empty_pages,
    failure_share,
    garbage_pages,
    no_failed_pages,
    partial_pages,
)
from ocr_assets.defs.ocr.jobs import ocr_folder_job, retry_failed_pages_job
from ocr_assets.defs.ocr.scans import scan_folders
from ocr_assets.defs.quality.assets import page_accuracy
from ocr_assets.defs.quality.checks import cer_within_limit
from ocr_assets.orchestration.automation import AutomationConfig

page_texts, failed_pages = folder_assets()
scan_folder_sensor, corpus_sensor = sensors(AutomationConfig())
nightly_ingestion = nightly_schedule(AutomationConfig())

__all__ = [
    "CORPUS_TAG",
    "cer_within_limit",
    "corpus_complete",
    "corpus_job",
    "corpus_sensor",
    "counts_invariant",
    "decode_cursor",
    "empty_pages",
    "failed_pages",
    "failure_share",
    "garbage_pages",
    "nightly_ingestion",
    "no_failed_pages",
    "ocr_corpus",
    "ocr_folder_job",
    "page_accuracy",
    "page_texts",
    "partial_pages",
    "retry_failed_pages_job",
    "scan_folder_sensor",
    "scan_folders",
]
