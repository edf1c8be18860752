"""The failure ratio, in a temporary Dagster instance: a folder where more than
`max_failed_share` of the pages failed fails its blocking `failure_share` check (its failed-pages
report is still written) and stays out of the corpus until it is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from PIL import Image

from ocr_assets.engine.corpus.build import read_corpus
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import register_and_add_partitions
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import (
    check_results,
    corpus_complete,
    materialization,
    ocr_corpus,
    ocr_scan_folders,
    run_folders,
)

BAD = "fault-image-too-large"  # the fault engine fails these pages for good (too_large)


def page(path: Path, width: int) -> None:
    Image.new("L", (width, 50), 255).save(path)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def setup_scans(tmp_path: Path) -> Path:
    scans = tmp_path / "scans"
    (scans / "good").mkdir(parents=True)
    (scans / "mostly-bad").mkdir()
    for n in range(3):
        page(scans / "good" / f"p{n}.png", 100 + n)
    page(scans / "mostly-bad" / "p0.png", 110)
    page(scans / "mostly-bad" / f"p1.{BAD}.png", 111)
    page(scans / "mostly-bad" / f"p2.{BAD}.png", 112)
    return scans


def materialize_all(ocr: OcrConfig, instance: dg.DagsterInstance, only: str | None = None
                    ) -> dict[str, dict[str, dg.AssetCheckEvaluation]]:
    scan = register_and_add_partitions(instance, ocr.project()).scan
    checks = {}
    for key in scan.folders if only is None else [only]:
        result = run_folders(instance, ocr, key)
        checks[key] = check_results(instance, result.run_id, key)
        assert materialization(instance, result.run_id, "failed_pages", key), "no report: " + key
    # A folder left out by `only` has no page rows yet, so it adds nothing to the corpus.
    corpus = dg.materialize([ocr_scan_folders, ocr_corpus, corpus_complete],
                            selection=dg.AssetSelection.assets(ocr_corpus).without_checks()
                            | dg.AssetSelection.checks(corpus_complete),
                            instance=instance, resources={"ocr": ocr})
    assert corpus.get_asset_check_evaluations()[0].passed
    return checks


def test_a_folder_above_the_failure_share_fails_its_check_and_stays_out_of_the_corpus(
        tmp_path: Path, instance: dg.DagsterInstance) -> None:
    scans = setup_scans(tmp_path)
    ocr = OcrConfig(scans_root=str(scans), data_root=str(tmp_path / "data"), workers=1,
                    engine=fault())

    checks = materialize_all(ocr, instance)

    assert checks["good"]["failure_share"].passed
    verdict = checks["mostly-bad"]["failure_share"]
    assert not verdict.passed and verdict.severity == dg.AssetCheckSeverity.ERROR
    assert verdict.description == "2 of 3 pages failed (67%), above the limit of 50%"
    assert checks["mostly-bad"]["counts_invariant"].passed  # the numbers add up; too many fail
    report = pd.read_csv(tmp_path / "data" / "reports" / "mostly-bad" / "failed_pages.csv")
    assert sorted(report["page"]) == [f"p1.{BAD}.png", f"p2.{BAD}.png"]
    corpus = read_corpus(ocr.project().corpus_store)
    assert set(corpus["partition"]) == {"good"}

    # Fixed: the two pages are rescanned; the folder passes and joins the corpus.
    for n in (1, 2):
        (scans / "mostly-bad" / f"p{n}.{BAD}.png").unlink()
        page(scans / "mostly-bad" / f"p{n}.png", 120 + n)
    checks = materialize_all(ocr, instance)

    assert checks["mostly-bad"]["failure_share"].passed
    partitions = read_corpus(ocr.project().corpus_store)["partition"]
    assert sorted(partitions) == ["good"] * 3 + ["mostly-bad"] * 3


def test_the_share_is_configurable(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    scans = setup_scans(tmp_path)
    ocr = OcrConfig(scans_root=str(scans), data_root=str(tmp_path / "data"), workers=1,
                    engine=fault(), max_failed_share=0.7)

    checks = materialize_all(ocr, instance, only="mostly-bad")

    assert checks["mostly-bad"]["failure_share"].passed
    assert set(read_corpus(ocr.project().corpus_store)["partition"]) == {"mostly-bad"}
