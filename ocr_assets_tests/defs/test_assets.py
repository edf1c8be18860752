"""Materialize folder partitions in a temporary Dagster instance and check what they record."""

from __future__ import annotations

import shutil
import sqlite3

import dagster as dg
import pandas as pd

from ocr_assets.engine.manifest.leases import process_id
from ocr_assets.orchestration.folder_results import check_outcomes
from ocr_assets_tests.defs.conftest import FIXTURE_PAGES, Project
from ocr_assets_tests.project_defs import (
    check_results,
    corpus_complete,
    materialization,
    ocr_corpus,
    ocr_scan_folders,
    run_folders,
)
from ocr_assets_tests.shared_ocr import mirrored_page


def _materialize(project: Project, key: str, **kwargs) -> dg.ExecuteInProcessResult:
    return run_folders(project.instance, project.ocr, key, **kwargs)


def _checks(project: Project, result: dg.ExecuteInProcessResult,
            key: str) -> dict[str, dg.AssetCheckEvaluation]:
    return check_results(project.instance, result.run_id, key)


def _metadata(project: Project, result: dg.ExecuteInProcessResult, asset: str,
              key: str) -> dict:
    return materialization(project.instance, result.run_id, asset, key).metadata


def _check_now(project: Project, key: str, name: str):
    """A check of the folder as it stands now: what its next run evaluates."""
    [outcome] = [c for c in check_outcomes(project.ocr.project().folder(key)) if c.name == name]
    return outcome


def test_a_good_folder_materializes_with_passing_invariant_and_named_empty_page(
        project: Project) -> None:
    project.register()
    result = _materialize(project, "box-001")

    assert result.success
    metadata = _metadata(project, result, "page_texts", "box-001")
    assert metadata["pages"].value == 2
    assert metadata["done"].value == 2
    assert metadata["failed"].value == 0
    assert metadata["ignored_files"].value == 1
    assert metadata["pages_per_s"].value > 0
    assert metadata["mean_confidence"].value > 50
    checks = _checks(project, result, "box-001")
    assert checks["counts_invariant"].passed
    assert not checks["empty_pages"].passed
    assert checks["empty_pages"].severity == dg.AssetCheckSeverity.WARN
    assert [p["page"] for p in checks["empty_pages"].metadata["pages"].value] == ["page_2.png"]
    assert checks["garbage_pages"].passed
    text = (project.data / "ocr" / "box-001" / "page_1.tif.txt").read_text()
    assert "quick brown dog" in text


def test_a_page_of_noise_fails_the_garbage_check_which_names_it(project: Project) -> None:
    """Show-through (a page's text in mirror image) is read as letters: done, flagged garbage,
    and the folder's garbage check warns with the page's name; a good page beside it is not
    named."""
    folder = project.scans / "box-3"
    folder.mkdir()
    shutil.copy(FIXTURE_PAGES / "phototest.tif", folder / "page_1.tif")
    mirrored_page(FIXTURE_PAGES / "phototest.tif", folder / "show_through.png")
    project.register()

    result = _materialize(project, "box-3")

    assert result.success
    checks = _checks(project, result, "box-3")
    assert checks["counts_invariant"].passed
    garbage = checks["garbage_pages"]
    assert not garbage.passed
    assert garbage.severity == dg.AssetCheckSeverity.WARN
    assert [p["page"] for p in garbage.metadata["pages"].value] == ["show_through.png"]
    assert "show_through.png" in garbage.description
    assert "page_1.tif" not in garbage.description


def test_a_broken_page_fails_alone_and_is_in_the_failed_pages_report(project: Project) -> None:
    keys = project.register()
    key = next(k for k in keys if k.startswith("box_2-"))  # "box, 2" has no comma in its key
    result = _materialize(project, key)

    assert result.success
    checks = _checks(project, result, key)
    assert checks["counts_invariant"].passed
    report = pd.read_csv(project.data / "reports" / key / "failed_pages.csv")
    assert report["page"].tolist() == ["page_2.tif"]
    assert report["category"].tolist() == ["unreadable_image"]
    assert report["attempts"].tolist() == [2], "the first attempt, then the retry pass"
    assert report["retry_outcome"].tolist() == ["still_failing"]
    assert report["retry_strategies"].tolist() == ["redecode_truncated"]
    metadata = _metadata(project, result, "failed_pages", key)
    assert metadata["failed"].value == 1
    assert "page_2.tif" in metadata["pages"].value


def test_counts_invariant_fails_on_a_tampered_manifest(project: Project) -> None:
    project.register()
    assert _materialize(project, "box-001").success
    with sqlite3.connect(project.data / "manifest.sqlite") as db:
        db.execute("UPDATE pages SET status = 'pending' WHERE page_id = 'page_1.tif'")

    evaluation = _check_now(project, "box-001", "counts_invariant")

    assert not evaluation.passed
    assert "page_1.tif" in evaluation.metadata["problems"].value


def test_a_failed_blocking_check_fails_its_run_and_names_the_folder(project: Project) -> None:
    """A page another live run holds is left to it: this run ends with the page not
    terminal, its counts invariant fails, and so does the run, naming the folder."""
    keys = project.register()
    manifest = project.ocr.project().manifest
    manifest.sync_pages("box-001", ["page_1.tif", "page_2.png"])
    assert manifest.claim("box-001", "page_1.tif", process_id(), lease_s=600)

    result = _materialize(project, "box-001")

    assert not result.success, "a failed blocking check fails its run"
    checks = _checks(project, result, "box-001")
    assert not checks["counts_invariant"].passed
    assert "1 not terminal" in checks["counts_invariant"].description
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "box-001: blocking check counts_invariant failed" in \
        failure.step_failure_data.user_failure_data.description
    other = next(k for k in keys if k != "box-001")
    assert _materialize(project, other).success


def test_counts_invariant_fails_when_a_done_page_lost_its_text(project: Project) -> None:
    project.register()
    assert _materialize(project, "box-001").success
    (project.data / "ocr" / "box-001" / "page_1.tif.txt").unlink()

    evaluation = _check_now(project, "box-001", "counts_invariant")

    assert not evaluation.passed
    assert "text file is missing" in evaluation.metadata["problems"].value


def test_a_second_materialization_skips_every_page(project: Project) -> None:
    project.register()
    assert _materialize(project, "box-001").success
    again = _materialize(project, "box-001")
    metadata = _metadata(project, again, "page_texts", "box-001")
    assert metadata["processed"].value == 0
    assert metadata["skipped"].value == 2


def test_corpus_holds_one_row_per_done_page_and_its_check_catches_a_missing_row(
        project: Project) -> None:
    keys = project.register()
    for key in keys:
        assert _materialize(project, key).success

    corpus = dg.materialize([ocr_scan_folders, ocr_corpus, corpus_complete],
                            selection=dg.AssetSelection.assets(ocr_corpus).without_checks()
                            | dg.AssetSelection.checks(corpus_complete),
                            instance=project.instance, resources={"ocr": project.ocr})
    assert {e.check_name: e for e in corpus.get_asset_check_evaluations()}[
        "corpus_complete"].passed
    frame = pd.read_parquet(project.data / "corpus" / "pages.parquet")
    assert sorted(zip(frame["folder"], frame["page"], strict=True)) == [
        ("box, 2", "page_1.tif"), ("box-001", "page_1.tif"), ("box-001", "page_2.png")]
    assert frame.loc[frame["page"] == "page_1.tif", "text"].str.contains("quick brown").all()

    frame.iloc[1:].to_parquet(project.data / "corpus" / "pages.parquet", index=False)
    tampered = dg.materialize([ocr_scan_folders, ocr_corpus, corpus_complete],
                              selection=dg.AssetSelection.checks(corpus_complete),
                              instance=project.instance, resources={"ocr": project.ocr},
                              raise_on_error=False)
    [evaluation] = tampered.get_asset_check_evaluations()
    assert not evaluation.passed
    assert len(evaluation.metadata["missing"].value) == 1


def test_accuracy_is_measured_where_there_is_ground_truth_and_warned_over_the_limit(
        project: Project) -> None:
    project.register()
    folder = project.scans / "box-001"
    shutil.copy(FIXTURE_PAGES / "phototest.gt.txt", folder / "page_1.gt.txt")
    result = _materialize(project, "box-001")
    metadata = _metadata(project, result, "page_accuracy", "box-001")
    assert metadata["pages_evaluated"].value == 1
    assert metadata["pages_without_ground_truth"].value == 1
    assert metadata["cer"].value < 0.05
    assert "NFC" in metadata["normalisation"].value
    report = pd.read_csv(project.data / "reports" / "box-001" / "accuracy.csv")
    assert report["page"].tolist() == ["page_1.tif"]
    assert _checks(project, result, "box-001")["cer_within_limit"].passed

    (folder / "page_1.gt.txt").write_text("Something else entirely was on this page.\n",
                                          encoding="utf-8")
    evaluation = _check_now(project, "box-001", "cer_within_limit")
    assert not evaluation.passed
    assert evaluation.check.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["pages_over_limit"].value[0]["page"] == "page_1.tif"
    assert "page_1.tif" in (evaluation.description or "")
