"""The folder runs the automation requests: the folders that need a run, batched per tier
(`orchestration/priority.py`) so that a new folder never waits in one run with the backlog,
each run tagged with its priority, its size and its time cap.

The sensor and the nightly schedule both build their requests here; they differ in their run
keys and trigger tag only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from ocr_assets.engine.folder.planning import FolderNeed
from ocr_assets.engine.folder.size import estimate_pages
from ocr_assets.engine.project import Project
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.batches import FolderBatch, folder_batches, run_request
from ocr_assets.orchestration.priority import PRIORITY_TAG, Tier, run_priority, tier_of

PAGES_TAG = "ocr_assets/pages_estimate"
"""Run tag: about how many pages the run's folders hold, what its priority and cap come from."""


@dataclass(frozen=True)
class PlannedRun:
    """One run to request: its folders, its tier, and about how many pages they hold."""

    batch: FolderBatch
    tier: Tier
    pages: int

    def tags(self, automation: AutomationConfig) -> dict[str, str]:
        """The run's priority, size and, unless turned off, time cap."""
        tags = {PRIORITY_TAG: str(run_priority(self.tier, self.pages)),
                PAGES_TAG: str(self.pages)}
        cap = automation.max_runtime_s(self.pages)
        if cap is not None:
            tags[dg.MAX_RUNTIME_SECONDS_TAG] = str(cap)
        return tags


def folder_pages(project: Project, folders: Mapping[str, str]) -> dict[str, int]:
    """partition -> about how many pages its folder holds (`folders`: partition -> name on
    disk): the listing's estimate, or the manifest's rows where there are more (the pages of
    a PDF, counted by the folder's last run)."""
    summaries = project.manifest.folder_summaries()
    return {key: max(estimate_pages(project.scans_root / name),
                     sum(summaries[key].counts.values()) if key in summaries else 0)
            for key, name in folders.items()}


def plan_runs(order: Sequence[str], needs: Mapping[str, FolderNeed],
              pages: Mapping[str, int], folders_per_run: int) -> list[PlannedRun]:
    """The runs for `needs`, highest tier first: each tier's folders batched as consecutive
    partitions of `order`, at most `folders_per_run` to a run."""
    runs = []
    for tier in sorted(Tier, reverse=True):
        reasons = {key: need.why for key, need in needs.items() if tier_of(need.need) == tier}
        for batch in folder_batches(order, reasons, folders_per_run):
            runs.append(PlannedRun(batch, tier, sum(pages.get(key, 0) for key in batch.keys)))
    return runs


def folder_run_requests(runs: Sequence[PlannedRun], run_key: Callable[[FolderBatch], str],
                        tags: Mapping[str, str],
                        automation: AutomationConfig) -> list[dg.RunRequest]:
    """A request for each planned run, under `run_key(batch)`, with `tags` (the trigger) and
    the run's own."""
    return [run_request(run.batch, run_key(run.batch), {**tags, **run.tags(automation)})
            for run in runs]
