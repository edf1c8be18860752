"""The groups of `xdist_groups.py` handed from xdist's workers to its scheduler.

Only the workers collect the tests, so only they know which fixtures a test uses; the
scheduler, in the controlling process, sees node ids alone. xdist's own `--dist loadgroup`
carries a test's `xdist_group` mark across by rewriting its node id on the worker
(`nodeid@group`); since pytest 9.2 node ids cannot be rewritten that way, and the groups are
silently lost: every test is scheduled on its own, PostgreSQL tests beside the cluster test that
restarts the server (pytest-dev/pytest-xdist#1386, open at xdist 3.8.0).

Here the controller names a directory in each worker's `workerinput`; each worker writes its
`{node id: group}` there once it has collected (`write_groups`); and the scheduler
(`GroupScheduling`, xdist's scope scheduling with a test's group as its scope) reads them once
every worker has collected, which is when xdist first asks it for a scope.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from ocr_assets_tests.xdist_groups import group_of

GROUPS_DIR_KEY = "ocr_assets_groups_dir"
"""The key of the directory in a worker's `workerinput`."""
_GROUPS_DIR = pytest.StashKey[Path]()


def groups_dir(config: pytest.Config) -> Path:
    """The directory this run's workers write their groups to, made on first use (controller)."""
    if _GROUPS_DIR not in config.stash:
        config.stash[_GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="ocr-assets-xdist-groups-"))
    return config.stash[_GROUPS_DIR]


def remove_groups_dir(config: pytest.Config) -> None:
    if _GROUPS_DIR in config.stash:
        shutil.rmtree(config.stash[_GROUPS_DIR], ignore_errors=True)


def write_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker: write every collected test's group where the controller reads it."""
    directory = Path(config.workerinput[GROUPS_DIR_KEY])
    worker = config.workerinput["workerid"]
    partial = directory / f"{worker}.json.partial"
    partial.write_text(json.dumps({item.nodeid: group_of(item) for item in items}),
                       encoding="utf-8")
    partial.replace(directory / f"{worker}.json")


def read_groups(directory: Path) -> dict[str, str]:
    """Every worker's groups (the workers collected the same tests; xdist checks that)."""
    groups: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        groups.update(json.loads(path.read_text(encoding="utf-8")))
    return groups


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling (a scope goes to one worker as a whole) with each test's group
    from the workers as its scope."""

    def __init__(self, config: pytest.Config, log: object, directory: Path) -> None:
        super().__init__(config, log)
        self._directory = directory
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            self._groups = read_groups(self._directory)
        try:
            return self._groups[nodeid]
        except KeyError:
            raise RuntimeError(
                f"no xdist group for {nodeid} in {self._directory}: the workers did not write "
                "their groups (ocr_assets_tests/xdist_scheduling.py); run with -n 0 to run "
                "the suite in one process") from None
