"""Shards: how a folder is split and packed, the order a shard claims pages in, and a shard that
takes over the pages of a holder that vanished once their leases expire."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from ocr_assets.engine.folder.discovery import Page
from ocr_assets.engine.folder.shard import Shard, ocr_shard, plan_shards, shard_order
from ocr_assets.engine.manifest import DONE, RUNNING, Manifest, PageOutcome
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import new_run

SETTINGS = OcrSettings(engine=fault(), workers=1, auto_rotate=False)


def test_a_big_folder_is_split_and_small_ones_are_packed() -> None:
    shards = plan_shards({"big": 25, "a": 4, "b": 5, "c": 3, "empty": 0}, pages_per_shard=10)
    assert shards == [Shard(("big",), 0, 3), Shard(("big",), 1, 3), Shard(("big",), 2, 3),
                      Shard(("a", "b")), Shard(("c",))]
    with pytest.raises(ValueError, match="at least 1"):
        plan_shards({"a": 1}, pages_per_shard=0)


def test_each_shard_claims_its_own_slice_first_and_every_page_once() -> None:
    pages = [Page(f"p{n:02d}.png", Path(f"p{n:02d}.png"), None, size=n, mtime_ns=0)
             for n in range(7)]
    orders = [[p.page_id for p in shard_order(index, 3)(pages)] for index in range(3)]
    for order in orders:
        assert sorted(order) == [p.page_id for p in pages]
    firsts = [order[:2] for order in orders]
    assert firsts == [["p06.png", "p03.png"], ["p04.png", "p01.png"], ["p05.png", "p02.png"]]


def test_a_shard_reads_the_pages_of_other_shards_that_are_free(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    for n in range(6):
        Image.new("L", (40, 30), 255).save(run.folder / f"p{n}.png")
    report = ocr_shard([run.scan_folder], Shard((run.key,), 0, 3), SETTINGS)
    rows = run.manifest.pages(run.key)
    assert (report.processed, report.done, report.passes) == (6, 6, 1)
    assert {(row.status, row.done_count, row.host) for row in rows.values()} == {
        (DONE, 1, report.host)}


def test_pages_of_a_vanished_host_are_taken_when_their_leases_expire(tmp_path: Path) -> None:
    """Another host claimed two pages and died: its leases are never declared dead from here
    (another host name), so the shard reads the rest, waits for the leases, and takes them."""
    run = new_run(tmp_path)
    for n in range(4):
        Image.new("L", (40, 30), 255).save(run.folder / f"p{n}.png")
    folder = run.scan_folder
    run.manifest.register_folder(run.key, folder.name, folder.name.encode())
    run.manifest.sync_pages(run.key, [f"p{n}.png" for n in range(4)])
    for page in ("p0.png", "p1.png"):
        assert run.manifest.claim(run.key, page, "gone-host:1:1:abc", lease_s=1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    report = ocr_shard([folder], Shard((run.key,)), SETTINGS, sleep=sleep)
    rows = run.manifest.pages(run.key)
    assert all(row.status == DONE and row.done_count == 1 for row in rows.values())
    assert report.processed == 4 and report.passes >= 2
    assert waits and sum(waits) <= 3.0, "it waited for the leases, not much longer"
    assert not [row for row in rows.values() if row.status == RUNNING]


class _CutOffBeforeRecording:
    """A manifest seen from a host cut off from the network while it read `page`: by the time
    its record gets through, its lease has run out and another host has taken the page (and
    vanished too, its own lease short)."""

    def __init__(self, manifest: Manifest, page: str) -> None:
        self._manifest, self._page = manifest, page

    def __getattr__(self, name: str) -> object:
        return getattr(self._manifest, name)

    def record(self, partition_key: str, page_id: str, outcome: PageOutcome,
               owner: str | None = None) -> bool:
        if page_id == self._page:
            self._page = ""
            assert owner is not None
            self._manifest.claim(partition_key, page_id, owner, lease_s=-1)
            assert self._manifest.claim(partition_key, page_id, "other-host:1:1:x", lease_s=0.5)
        return self._manifest.record(partition_key, page_id, outcome, owner=owner)


def test_a_page_whose_lease_was_taken_over_while_cut_off_is_recorded_once(
        tmp_path: Path) -> None:
    """The late record of the cut-off host is refused (no page done twice); the page is read
    again once the other holder's lease expires too."""
    run = new_run(tmp_path)
    for n in range(2):
        Image.new("L", (40, 30), 255).save(run.folder / f"p{n}.png")
    cut_off = replace(run, manifest=cast(Manifest, _CutOffBeforeRecording(run.manifest,
                                                                          "p0.png")))
    report = ocr_shard([cut_off.scan_folder], Shard((run.key,)), SETTINGS)
    rows = run.manifest.pages(run.key)
    assert report.lost_leases == 1 and report.processed == 2
    assert {(row.status, row.done_count) for row in rows.values()} == {(DONE, 1)}
