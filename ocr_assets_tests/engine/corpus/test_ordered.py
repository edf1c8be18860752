"""Walks over folders side by side in partition order (`ordered.py`)."""

from __future__ import annotations

import pytest

from ocr_assets.engine.corpus import ordered
from ocr_assets.engine.corpus.ordered import NotInPartitionOrder, Tally, aligned


def test_walks_are_aligned_by_partition_with_none_where_one_lacks_it() -> None:
    registered = [("a", 1), ("c", 3), ("d", 4)]
    seen = [("b", "B"), ("c", "C")]
    written: list[tuple[str, float]] = [("d", 0.4), ("e", 0.5)]

    assert list(aligned(registered, seen, written)) == [
        ("a", [1, None, None]), ("b", [None, "B", None]), ("c", [3, "C", None]),
        ("d", [4, None, 0.4]), ("e", [None, None, 0.5])]
    assert list(aligned([], [])) == []


@pytest.mark.parametrize("walk", [[("b", 1), ("a", 2)], [("a", 1), ("a", 2)]])
def test_a_walk_out_of_order_or_repeating_a_partition_is_refused(
        walk: list[tuple[str, int]]) -> None:
    with pytest.raises(NotInPartitionOrder):
        list(aligned([("a", 0), ("z", 0)], walk))


def test_a_tally_counts_everything_and_names_the_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ordered, "SAMPLE_SIZE", 2)
    tally: Tally[str] = Tally()
    for key in ("a", "b", "c"):
        tally.add(key)
    assert (tally.count, tally.sample) == (3, ["a", "b"])
