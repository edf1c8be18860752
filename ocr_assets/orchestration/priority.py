"""Which queued folder run the daemon starts first: new folders, then changed ones, then the
nightly backlog, and in each of these the smaller run first.

Dagster's queued run coordinator sorts the queue by the run tag `dagster/priority` (an integer,
0 when absent; higher is dequeued first; runs of equal priority keep their queue order:
`QueuedRunCoordinatorDaemon._priority_sort`). A run's priority is its tier less the size class
of its pages (their bit length, 0 to about 20): classes never reach the next tier, and runs of
about the same size keep the order they were requested in. A run launched by hand in the UI
has no tag, so priority 0: after new and changed folders, before the backlog.
"""

from __future__ import annotations

from enum import IntEnum

from ocr_assets.engine.folder.planning import Need

PRIORITY_TAG = "dagster/priority"
SIZE_CLASSES = 50
"""Size classes per tier (tiers are 100 apart): a run of 2^49 pages or more shares the last."""


class Tier(IntEnum):
    """The queue's order of a folder run by why it is needed, highest first."""

    NEW = 200
    """Folders never run: what a team that drops a folder waits for."""
    CHANGED = 100
    """Folders whose pages changed on disk, or that are read with new settings."""
    BACKLOG = -100
    """What the nightly ingestion takes up again: pending pages, failed runs, failed pages a
    run can still help."""


TIERS = {Need.NEW: Tier.NEW, Need.CHANGED: Tier.CHANGED, Need.RECIPE: Tier.CHANGED}
"""A need's tier; every need not named here is backlog."""


def tier_of(need: Need) -> Tier:
    return TIERS.get(need, Tier.BACKLOG)


def run_priority(tier: Tier, pages: int) -> int:
    """The `dagster/priority` of a run of `tier` over about `pages` pages."""
    return int(tier) - min(max(0, pages).bit_length(), SIZE_CLASSES - 1)
