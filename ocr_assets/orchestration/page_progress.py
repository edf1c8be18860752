"""A run's page progress as a few log lines, not one event per page.

Every line a step logs is an event in the run's event log (a database write), and a line per
page was one more write per page: on a folder of one small page, about a tenth of what the
folder cost to record. The run's page truth is the manifest, shown per folder in each
materialization's metadata; the log carries each failed page (a warning of its own), each
folder's summary when it is recorded, and this: pages read so far, at most once every
`every_s` seconds, so a long run still shows that it moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dagster as dg

from ocr_assets.engine.manifest import DONE, PageOutcome

EVERY_S = 30.0


@dataclass
class PageProgress:
    """Counts the pages a run has read and logs the count now and then."""

    log: dg.DagsterLogManager
    every_s: float = EVERY_S
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    last_logged: float = field(default_factory=time.monotonic)

    def page(self, outcome: PageOutcome) -> None:
        if outcome.status == DONE:
            self.done += 1
        else:
            self.failed += 1
        now = time.monotonic()
        if now - self.last_logged >= self.every_s:
            self.last_logged = now
            elapsed = now - self.started
            read = self.done + self.failed
            self.log.info(f"{read} pages read in {elapsed:.0f} s ({read / elapsed:.2f} "
                          f"pages/s): {self.done} done, {self.failed} failed")
