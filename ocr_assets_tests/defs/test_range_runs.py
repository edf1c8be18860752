"""One run over many folders (a range of partitions: what a backfill, the sensor's burst, the
nightly schedule and `ocr-assets run` launch): each folder gets its own materializations,
check results and partition status, and a folder that fails does not fail or hide the others.
Pages are read by the fault engine's fake Tesseract (instant), through the real worker pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver
from PIL import Image

from ocr_assets.defs.ocr.assets import folder_assets
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.orchestration import run_state
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    FAILED_FOLDERS,
    PAGE_TEXTS,
    SCAN_FOLDERS,
    register_and_add_partitions,
)
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import (
    check_results,
    materialization,
    ocr_scan_folders,
    run_folders,
)
from ocr_assets_tests.project_defs import scan_folders as scan_folders_asset

FOLDERS = ("f01", "f02", "f03", "f04", "f05")
PAGES = {"f01": 1, "f02": 2, "f03": 3, "f04": 1, "f05": 2}
FOLDER_EVENTS = frozenset({dg.DagsterEventType.ASSET_MATERIALIZATION,
                           dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                           dg.DagsterEventType.ASSET_OBSERVATION})


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    for key in FOLDERS:
        (root / key).mkdir(parents=True)
        for n in range(PAGES[key]):  # distinct sizes: distinct bytes
            Image.new("L", (100 + 10 * n + FOLDERS.index(key), 60), 255).save(
                root / key / f"p{n}.png")
    return root


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def configure(instance: dg.DagsterInstance, scans: Path, **settings: object) -> OcrConfig:
    ocr = OcrConfig(scans_root=str(scans), data_root=str(scans.parent / "data"), workers=2,
                    engine=fault(), **settings)
    register_and_add_partitions(instance, ocr.project())
    return ocr


def statuses(instance: dg.DagsterInstance, asset: str) -> dict[str, str]:
    """What the UI shows per partition of `asset`."""
    found = instance.get_status_by_partition(dg.AssetKey(asset), list(FOLDERS), scan_folders)
    return {key: status.value for key, status in (found or {}).items() if status is not None}


def test_one_run_records_every_folder_on_its_own(instance: dg.DagsterInstance,
                                                 scans: Path) -> None:
    ocr = configure(instance, scans)

    result = run_folders(instance, ocr, FOLDERS)

    assert result.success
    assert len(instance.get_runs()) == 1
    for key in FOLDERS:
        texts = materialization(instance, result.run_id, "page_texts", key).metadata
        assert (texts["pages"].value, texts["done"].value) == (PAGES[key], PAGES[key]), key
        report = materialization(instance, result.run_id, "failed_pages", key).metadata
        assert report["failed"].value == 0
        checks = check_results(instance, result.run_id, key)
        assert {"counts_invariant", "failure_share", "empty_pages"} <= set(checks), key
        assert checks["counts_invariant"].passed and checks["failure_share"].passed
        assert checks["counts_invariant"].metadata["pages_on_disk"].value == PAGES[key]
    for asset in ("page_texts", "failed_pages", "page_accuracy"):
        assert statuses(instance, asset) == dict.fromkeys(FOLDERS, "MATERIALIZED"), asset
    unpartitioned = [e for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.partition is None]
    assert not unpartitioned, "every check result belongs to its folder"
    current = instance.event_log_storage.get_asset_check_partition_info(
        [dg.AssetCheckKey(PAGE_TEXTS, "counts_invariant"),
         dg.AssetCheckKey(dg.AssetKey("failed_pages"), "failure_share")])
    assert sorted((i.check_key.name, i.partition_key) for i in current if i.is_current) == sorted(
        (name, key) for name in ("counts_invariant", "failure_share") for key in FOLDERS), \
        "each folder's results are about its latest materialization: the UI shows them"
    observed = {e.asset_observation.partition for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
        if e.asset_observation.asset_key == SCAN_FOLDERS}
    assert observed == set(FOLDERS), "each folder observed as the run read it"
    kept = [e.event_type_value for e in result.all_events if e.event_type in FOLDER_EVENTS]
    assert not kept, ("the step writes each folder's events and keeps none for its stream: "
                      "over 200 folders it held 5.5 MiB of them until it ended")
    rows = ocr.project().manifest.pages("f03")
    assert {r.status for r in rows.values()} == {DONE}


def test_new_folders_become_partitions_a_chunk_at_a_time_in_their_order(
        instance: dg.DagsterInstance, scans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_state, "PARTITIONS_PER_INSERT", 2)
    added: list[list[str]] = []
    add = instance.add_dynamic_partitions

    def counted(name: str, keys: list[str]) -> None:
        added.append(list(keys))
        add(name, keys)

    monkeypatch.setattr(instance, "add_dynamic_partitions", counted)
    configure(instance, scans)
    assert added == [["f01", "f02"], ["f03", "f04"], ["f05"]]
    assert instance.get_dynamic_partitions(scan_folders.name) == list(FOLDERS), \
        "a run's range follows the order the partitions were added in"
    configure(instance, scans)
    assert len(added) == 3, "folders already partitions are not added again"


def test_a_missing_folder_fails_alone_and_the_others_are_recorded(
        instance: dg.DagsterInstance, scans: Path, tmp_path: Path) -> None:
    ocr = configure(instance, scans)
    (scans / "f03").rename(tmp_path / "moved")

    result = run_folders(instance, ocr, FOLDERS)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    why = failure.step_failure_data.user_failure_data.metadata[FAILED_FOLDERS].data
    assert list(why) == ["f03"] and "does not exist" in why["f03"]
    others = [k for k in FOLDERS if k != "f03"]
    for key in others:
        assert materialization(instance, result.run_id, "page_texts", key)
        assert check_results(instance, result.run_id, key)["counts_invariant"].passed
    texts = statuses(instance, "page_texts")
    assert texts == {**dict.fromkeys(others, "MATERIALIZED"), "f03": "FAILED"}, \
        "the UI shows the missing folder failed, and only it"

    (tmp_path / "moved").rename(scans / "f03")
    again = run_folders(instance, ocr, FOLDERS)
    assert again.success
    assert statuses(instance, "page_texts") == dict.fromkeys(FOLDERS, "MATERIALIZED")
    skipped = materialization(instance, again.run_id, "page_texts", "f01").metadata
    assert skipped["skipped"].value == PAGES["f01"], "a folder done before is not read again"


def test_a_folder_failing_its_blocking_check_does_not_hide_the_others(
        instance: dg.DagsterInstance, scans: Path) -> None:
    """Half of f02's pages fail (a marker in their name): its failure_share check (at most 10 %
    here) fails, blocking; the folders before and after it are recorded and pass."""
    (scans / "f02" / "p1.png").rename(scans / "f02" / "p1.fault-image-too-large.png")
    ocr = configure(instance, scans, max_failed_share=0.1)

    result = run_folders(instance, ocr, FOLDERS)

    assert not result.success
    share = {key: check_results(instance, result.run_id, key)["failure_share"].passed
             for key in FOLDERS}
    assert share == {**dict.fromkeys(FOLDERS, True), "f02": False}
    [failure] = [e for e in result.all_events if e.is_step_failure]
    why = failure.step_failure_data.user_failure_data.metadata[FAILED_FOLDERS].data
    assert why == {"f02": "blocking check failure_share failed"}
    assert not failure.step_failure_data.error or "f02" in failure.step_failure_data.error.message
    rows = ocr.project().manifest.pages("f02")
    assert sorted(r.status for r in rows.values()) == [DONE, FAILED]
    assert materialization(instance, result.run_id, "failed_pages", "f02").metadata[
        "failed"].value == 1, "its report is written all the same"


def test_a_folder_read_in_a_range_run_is_in_sync_until_its_scans_or_the_recipe_change(
        instance: dg.DagsterInstance, scans: Path) -> None:
    """Each folder's text records the recipe and the observation of the scans its run read, so
    the UI marks a folder unsynced when its scans change (a new observation: the sensor's, or
    the next run's) and only that one, and every folder when the recipe changes."""
    ocr = configure(instance, scans)
    assert run_folders(instance, ocr, FOLDERS).success

    def sync(assets: list[dg.AssetsDefinition]) -> dict[str, StaleStatus]:
        resolver = get_stale_status_resolver(instance, [*assets, scan_folders_asset])
        return {key: resolver.get_status(PAGE_TEXTS, key) for key in FOLDERS}

    assert sync([ocr_scan_folders]) == dict.fromkeys(FOLDERS, StaleStatus.FRESH)
    instance.report_runless_asset_event(dg.AssetObservation(
        SCAN_FOLDERS, partition="f02", tags={"dagster/data_version": "a new page"}))
    assert sync([ocr_scan_folders]) == {**dict.fromkeys(FOLDERS, StaleStatus.FRESH),
                                        "f02": StaleStatus.STALE}
    [other_recipe] = folder_assets(recipe="another-recipe")
    assert set(sync([other_recipe]).values()) == {StaleStatus.STALE}
