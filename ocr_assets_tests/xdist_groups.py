"""Which tests must share a pytest-xdist worker, and which go first.

The suite runs on two workers (`-n 2 --dist loadgroup` in `pyproject.toml`'s `addopts`). Each
group below goes to one worker as a whole and runs there in collection order (how the workers
hand the groups to xdist's scheduler: `xdist_scheduling.py`); `group_of` gives every test its
group:

- `postgres`: every test that uses the machine's PostgreSQL server, and the cluster test, which
  restarts that server. One after another on one worker, so the restart never cuts another
  test's connection. A test uses the server when it asks for the `postgres_server` fixture
  (directly or through the database fixtures built on it), or carries the `postgres` marker
  (a backend parameter that asks for the database at run time; the cluster test).
- `shared-ocr`: every test that reads the session fixture `shared_ocr`. A session fixture is
  built once per worker; grouped, the shared set is OCRed once per run, not once per worker.
- otherwise the test's module: module-scoped fixtures (the UI server with its sample runs, the
  benchmark run, the CLI's first run) are built once, and the modules whose tests follow one
  another in order (the UI's steps, the backfill last) keep that order.

The groups are given out in the order of the collection (`--no-loadscope-reorder`; by default
xdist puts the groups with the most tests first, however quick), and the workers sort their
collection long groups first (`sort_longest_first`): the last group a worker takes is then a
short one, and neither worker idles long at the end while the other finishes a long group.
"""

from __future__ import annotations

import pytest

POSTGRES_GROUP = "postgres"
SHARED_OCR_GROUP = "shared-ocr"
POSTGRES_MARKER = "postgres"
"""Registered in `pyproject.toml`: `-m postgres` selects every test of the PostgreSQL group."""

LONGEST_FIRST = (
    SHARED_OCR_GROUP,                                          # ~150 s: the shared set's OCR
    "ocr_assets_tests/e2e/test_ui.py",                         # ~135 s
    "ocr_assets_tests/reliability/test_concurrent_starts.py",  # ~130 s
    POSTGRES_GROUP,                                            # ~120 s, the cluster's ~60 s
    "ocr_assets_tests/e2e/test_cli.py",                        # ~60 s
    "ocr_assets_tests/reliability/test_crash_harness.py",      # ~40 s
    "ocr_assets_tests/benchmarks/test_benchmark_smoke.py",     # ~31 s
    "ocr_assets_tests/e2e/test_daemon.py",                     # ~25 s
)
"""The groups of the suite that take longest, longest first (a run in one process on 2 cores,
`--durations`, 2026-12-07); every other group takes under 20 s. A module renamed or gone is
caught by `test_xdist_groups.py`; a new long group belongs here."""


def uses_postgres(item: pytest.Item) -> bool:
    return ("postgres_server" in getattr(item, "fixturenames", ())
            or item.get_closest_marker(POSTGRES_MARKER) is not None)


def group_of(item: pytest.Item) -> str:
    """The group `item` runs in (see the module's docstring)."""
    if uses_postgres(item):
        return POSTGRES_GROUP
    if "shared_ocr" in getattr(item, "fixturenames", ()):
        return SHARED_OCR_GROUP
    return item.nodeid.split("::", 1)[0]


def by_cost(group: str) -> int:
    """Sort key: the long groups in `LONGEST_FIRST`'s order, then all others as collected."""
    return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)


def mark_postgres_tests(items: list[pytest.Item]) -> None:
    """Give the `postgres` marker to every test that uses the server through its fixtures, so
    that `-m postgres` (and `-m "not postgres"`) select the whole group."""
    for item in items:
        if uses_postgres(item):
            item.add_marker(POSTGRES_MARKER)


def sort_longest_first(items: list[pytest.Item]) -> None:
    """Sort in place, long groups first; a stable sort, so each group keeps its tests' order.
    Only on an xdist worker: a run in one process (`-n 0`) keeps the plain collection order."""
    items.sort(key=lambda item: by_cost(group_of(item)))
