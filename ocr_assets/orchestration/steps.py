"""What the folder steps share: the run's settings, the partition's folder, and the engine's
refusal to start as a failure no retry repeats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import dagster as dg

from ocr_assets.engine.project import FolderNotRegisteredError, ScanFolder
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.orchestration.concurrency import workers_per_run
from ocr_assets.orchestration.resources import OcrConfig


def run_settings(context: dg.AssetExecutionContext, ocr: OcrConfig) -> OcrSettings:
    """The OCR settings of this run: workers sized to the `tesseract` pool limit in force, so
    concurrent OCR runs never oversubscribe the cores (see `orchestration/concurrency.py`)."""
    project = ocr.project()
    return replace(project.settings,
                   workers=workers_per_run(context.instance, project.config.workers))


def scan_folder(ocr: OcrConfig, partition_key: str) -> ScanFolder:
    """The partition's registered folder; a partition without one fails for good."""
    try:
        return ocr.project().folder(partition_key)
    except FolderNotRegisteredError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


@contextmanager
def failing_for_good(what: str) -> Iterator[None]:
    """The engine's refusal to start (a bad folder.toml, a missing language or Tesseract:
    `RuntimeError`, `ValueError`) as a step failure the retry policy leaves alone, since
    another attempt would meet the same cause."""
    try:
        yield
    except (RuntimeError, ValueError) as exc:
        raise dg.Failure(f"{what} could not start: {exc}", allow_retries=False) from exc
