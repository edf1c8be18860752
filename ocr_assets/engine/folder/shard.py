"""A folder too big for one machine, and many folders too small for one step each, as shards:
units of work that hosts of a cluster take on, each under the manifest's leases.

A shard is some folders, and of each the `index`-th of `count` slices of its pages. It does not
own its slice: it claims its own pages first and then any other page of the folder still free,
so a fast host helps a slow one and nothing waits on the slowest. A page is claimed before it is
read and recorded after, so no two shards read one page (`Manifest.claim`); a page whose holder
died (a host killed, cut off) stays claimed until its lease expires, and a shard that finds
such pages waits for that moment and takes them. A shard ends when none of its folders has a
page left that is pending or running: whichever shards end last have read every page, whatever
host died on the way.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocr_assets.engine.folder.discovery import Page
from ocr_assets.engine.folder.stream import OnPage, largest_first, stream_folders
from ocr_assets.engine.manifest import DONE, FAILED, PENDING, RUNNING, PageOutcome

if TYPE_CHECKING:
    from ocr_assets.engine.folder.batch import FolderReport
    from ocr_assets.engine.project import ScanFolder
    from ocr_assets.engine.settings import OcrSettings

MAX_WAIT_S = 5.0
"""A shard waiting for other hosts' leases looks again at least this often: a page recorded
meanwhile by its live holder ends the wait early."""

PENDING_RETRY_S = 0.5
"""Pause before planning again when a pass found pending pages but could claim none."""


@dataclass(frozen=True)
class Shard:
    """Folders (partition keys), and of each the `index`-th of `count` slices of its pages."""

    folders: tuple[str, ...]
    index: int = 0
    count: int = 1

    @property
    def key(self) -> str:
        """A name for the shard's step, unique among a plan's shards: the folder's position
        in the plan is given by the caller (`plan_shards`), this is only the slice."""
        return f"{self.index + 1}of{self.count}"


def plan_shards(page_counts: Mapping[str, int], pages_per_shard: int) -> list[Shard]:
    """Shards of about `pages_per_shard` pages: a folder with more pages is split into that many
    slices; smaller folders are packed together, in order, up to that many pages a shard.
    `page_counts` maps each folder to the pages it has to read; a folder with none gets no
    shard."""
    if pages_per_shard < 1:
        raise ValueError(f"pages per shard must be at least 1, not {pages_per_shard}")
    shards: list[Shard] = []
    packed: list[str] = []
    packed_pages = 0
    for key, pages in page_counts.items():
        if pages <= 0:
            continue
        if pages > pages_per_shard:
            count = math.ceil(pages / pages_per_shard)
            shards.extend(Shard((key,), index, count) for index in range(count))
            continue
        if packed and packed_pages + pages > pages_per_shard:
            shards.append(Shard(tuple(packed)))
            packed, packed_pages = [], 0
        packed.append(key)
        packed_pages += pages
    if packed:
        shards.append(Shard(tuple(packed)))
    return shards


def shard_order(index: int, count: int) -> Callable[[list[Page]], list[Page]]:
    """The claim order of a shard: its own slice (every `count`-th page of the folder in page-id
    order, from the `index`-th on) first, then the pages of the slices after it, each slice
    largest page first, so two shards meet only once both ran out of their own pages."""

    def order(pages: list[Page]) -> list[Page]:
        by_id = sorted(pages, key=lambda page: page.page_id)
        slices = [largest_first(by_id[n::count]) for n in range(count)]
        return [page for n in range(count) for page in slices[(index + n) % count]]

    return order


@dataclass
class ShardReport:
    """What one shard did, on which host."""

    host: str = field(default_factory=socket.gethostname)
    processed: int = 0
    """Pages this shard read (each recorded done or failed)."""
    done: int = 0
    failed: int = 0
    passes: int = 0
    """Rounds over the folders: more than one when pages of other hosts had to be taken."""
    waited_s: float = 0.0
    """Time spent waiting for the leases of pages held by others to be recorded or expire."""
    lost_leases: int = 0
    """Pages read here but left to another holder: their lease expired before they could be
    recorded (this host was cut off), and another shard took them."""
    folders: dict[str, FolderReport] = field(default_factory=dict)


def _unfinished(folders: list[ScanFolder]) -> tuple[int, float | None]:
    """Pages of the folders still pending, and the earliest end of a lease held on any."""
    pending, earliest = 0, None
    for folder in folders:
        for row in folder.manifest.pages(folder.key).values():
            if row.status == PENDING:
                pending += 1
            elif row.status == RUNNING and row.lease_until is not None:
                earliest = row.lease_until if earliest is None else min(earliest,
                                                                          row.lease_until)
    return pending, earliest


def ocr_shard(folders: list[ScanFolder], shard: Shard, settings: OcrSettings, *,
              on_page: OnPage | None = None,
              sleep: Callable[[float], None] = time.sleep) -> ShardReport:
    """Read the shard's pages, then any page of its folders left unread, until none is pending
    or running: pages held by others are waited for until their holder records them or their
    lease expires. Refuses (raises) a folder the engine cannot read as configured, like the
    main pass. The folders' retry passes and reports are not run here: the step after the
    last shard runs them once per folder."""
    report = ShardReport()

    def page_done(folder: ScanFolder, page_id: str, outcome: PageOutcome) -> None:
        report.processed += 1
        report.done += int(outcome.status == DONE)
        report.failed += int(outcome.status == FAILED)
        if on_page is not None:
            on_page(folder, page_id, outcome)

    def folder_done(folder: ScanFolder, folder_report: FolderReport) -> None:
        report.folders[folder.key] = folder_report
        report.lost_leases += folder_report.lost_leases

    while True:
        report.passes += 1
        read_before = report.processed
        stream_folders(folders, settings, on_done=folder_done, on_page=page_done,
                       order=shard_order(shard.index, shard.count))
        pending, lease_ends = _unfinished(folders)
        if pending:
            # Pages another shard handed back (expired leases) between this pass's plan and
            # its claims: the next pass plans them. Not in a tight loop if it read none.
            if report.processed == read_before:
                sleep(PENDING_RETRY_S)
            continue
        if lease_ends is None:
            return report
        wait_s = min(MAX_WAIT_S, max(0.0, lease_ends - time.time()) + 0.1)
        report.waited_s += wait_s
        sleep(wait_s)
