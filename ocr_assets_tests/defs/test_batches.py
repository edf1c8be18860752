"""Folders to runs: consecutive partitions that need a run, at most so many to a run."""

from __future__ import annotations

import pytest

from ocr_assets.orchestration.batches import (
    FolderBatch,
    folder_batches,
    keys_in_range,
    partitions_of_run,
)

ORDER = ["a", "b", "c", "d", "e", "f", "g"]


def keys(batches: list[FolderBatch]) -> list[list[str]]:
    return [batch.keys for batch in batches]


def test_consecutive_partitions_share_a_run_up_to_the_limit() -> None:
    reasons = dict.fromkeys(ORDER, "never materialized")
    assert keys(folder_batches(ORDER, reasons, 3)) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert keys(folder_batches(ORDER, reasons, 50)) == [ORDER]
    assert keys(folder_batches(ORDER, reasons, 1)) == [[k] for k in ORDER]


def test_a_partition_that_needs_no_run_ends_a_stretch_and_order_is_the_partitions() -> None:
    reasons = {"f": "1 new pages", "a": "never materialized", "b": "never materialized",
               "d": "2 new pages", "gone": "never materialized"}
    batches = folder_batches(ORDER, reasons, 50)
    assert keys(batches) == [["a", "b"], ["d"], ["f"]], "no partition: cannot be run"
    assert batches[0].partition_tags() == {"dagster/asset_partition_range_start": "a",
                                           "dagster/asset_partition_range_end": "b"}
    assert batches[1].partition_tags() == {"dagster/partition": "d"}
    assert batches[1].reason() == "2 new pages"


def test_a_batch_says_how_many_folders_need_it_for_what() -> None:
    batch = FolderBatch({"a": "3 new pages", "b": "1 new pages", "c": "never materialized"})
    assert batch.reason() == "new pages: 2 folders; never materialized: 1 folder"


def test_run_keys_name_the_folders_as_they_stand() -> None:
    batch = FolderBatch(dict.fromkeys(["a", "b"], "x"))
    first = batch.run_key({"a": "a:1", "b": "b:1"})
    assert first == batch.run_key({"a": "a:1", "b": "b:1"}), "the same batch, the same key"
    assert first != batch.run_key({"a": "a:1", "b": "b:2"}), "a folder changed: a new run"
    assert first.startswith("2-folders:") and len(first) < 40
    assert FolderBatch({"a": "x"}).run_key({"a": "a:1"}) == "a:1", "one folder: its own key"


def test_the_partitions_of_a_run_from_its_tags() -> None:
    assert keys_in_range(ORDER, "c", "e") == ["c", "d", "e"]
    assert partitions_of_run({"dagster/partition": "b"}, ORDER) == ["b"]
    assert partitions_of_run({"dagster/asset_partition_range_start": "f",
                              "dagster/asset_partition_range_end": "g"}, ORDER) == ["f", "g"]
    assert partitions_of_run({}, ORDER) == []


def test_a_limit_below_one_is_refused_with_the_setting_to_fix() -> None:
    with pytest.raises(ValueError, match="OCR_ASSETS_FOLDERS_PER_RUN"):
        folder_batches(ORDER, {"a": "x"}, 0)
