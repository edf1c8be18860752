"""A run logs its page progress now and then, not a line (an event) per page."""

from __future__ import annotations

import pytest

from ocr_assets.engine.manifest import DONE, FAILED, PageOutcome
from ocr_assets.orchestration import page_progress
from ocr_assets.orchestration.page_progress import PageProgress


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def outcome(status: str) -> PageOutcome:
    return PageOutcome(status=status, fingerprint=None, size=1, mtime_ns=1, ms=5,
                       error_category=None if status == DONE else "x",
                       error_message=None if status == DONE else "broken")


def test_one_line_per_interval_with_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(page_progress.time, "monotonic", lambda: clock[0])
    log = Lines()
    progress = PageProgress(log, every_s=30.0, started=100.0,  # ty: ignore[invalid-argument-type]
                            last_logged=100.0)
    for _ in range(400):
        clock[0] += 0.125
        progress.page(outcome(DONE))
    progress.page(outcome(FAILED))
    assert len(log.lines) == 1, "50 s of pages: one line at 30 s, none per page"
    assert log.lines[0].startswith("240 pages read in 30 s (8.00 pages/s): 240 done, 0 failed")
    clock[0] += 30.0
    progress.page(outcome(DONE))
    assert log.lines[-1].startswith("402 pages read in 80 s"), log.lines
    assert log.lines[-1].endswith("401 done, 1 failed")
