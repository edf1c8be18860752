"""The metadata of a folder run: numbers the UI plots over time, and no false zeros."""

from __future__ import annotations

import dagster as dg

from ocr_assets.engine.folder.batch import FolderReport
from ocr_assets.orchestration.metadata import folder_metadata


def test_a_run_that_ocred_pages_reports_plottable_speed_confidence_and_failure_rate() -> None:
    report = FolderReport("box", "box", pages=4, done=3, failed=1, processed=4,
                          elapsed_s=2.0, ocr_ms=[900, 1100, 1500, 300], mean_confidence=81.234)
    metadata = folder_metadata(report)
    assert metadata["pages_per_s"] == dg.MetadataValue.float(2.0)
    assert metadata["median_page_s"] == dg.MetadataValue.float(1.0)
    assert metadata["mean_confidence"] == dg.MetadataValue.float(81.23)
    assert metadata["failure_rate"] == dg.MetadataValue.float(0.25)
    assert [metadata[k].value for k in ("pages", "done", "failed")] == [4, 3, 1]
    assert not {"pending", "recovered", "ignored_files"} & metadata.keys(), \
        "counts that are 0 are left out: as series they would only clutter the plots"


def test_counts_that_are_not_0_are_reported() -> None:
    report = FolderReport("box", "box", pages=5, done=3, failed=1, pending=1, recovered=1,
                          ignored=["Thumbs.db"], processed=4, elapsed_s=2.0, total_s=3.5,
                          ocr_ms=[900, 1100, 1500, 300])
    metadata = folder_metadata(report)
    assert [metadata[k].value for k in ("pending", "recovered", "ignored_files")] == [1, 1, 1]
    assert metadata["elapsed_s"] == dg.MetadataValue.float(3.5), "both passes' time"


def test_a_run_that_ocred_nothing_leaves_out_the_rates_it_could_not_measure() -> None:
    report = FolderReport("box", "box", pages=2, done=0, failed=2, skipped=2, processed=0,
                          elapsed_s=0.01, mean_confidence=None)
    metadata = folder_metadata(report)
    assert "pages_per_s" not in metadata
    assert "median_page_s" not in metadata
    assert "mean_confidence" not in metadata
    assert metadata["failure_rate"] == dg.MetadataValue.float(1.0)
