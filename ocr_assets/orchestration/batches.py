"""Folders to runs: the folders that need a run, cut into runs of at most `folders_per_run`
folders each, so that many small folders pay one run's set-up (seconds when Dagster launches it)
between them instead of one each.

A run over several partitions of a dynamic partitions definition names a range, from its first
key to its last in the order the partitions were added (Dagster's run tags
`dagster/asset_partition_range_start` and `_end`, what a backfill with
`BackfillPolicy.multi_run` launches too). So a batch is a stretch of consecutive partitions that
all need a run: a folder in between that needs none ends the stretch, and is never read again
for nothing. New folders are added at the end of the order, so a burst of new folders is one
stretch, cut only by `folders_per_run`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from ocr_assets.orchestration.run_state import TAG_REASON

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"


@dataclass(frozen=True)
class FolderBatch:
    """Consecutive partitions that one run reads, each with why it needs the run."""

    reasons: Mapping[str, str]
    """partition key -> why, in partition order."""

    @property
    def keys(self) -> list[str]:
        return list(self.reasons)

    def partition_tags(self) -> dict[str, str]:
        """The run tags that select the batch's partitions: one partition, or a range."""
        keys = self.keys
        if len(keys) == 1:
            return {PARTITION: keys[0]}
        return {RANGE_START: keys[0], RANGE_END: keys[-1]}

    def reason(self) -> str:
        """Why the run is requested: the folder's reason, or how many folders have each."""
        if len(self.reasons) == 1:
            return next(iter(self.reasons.values()))
        counts = Counter(_kind(why) for why in self.reasons.values())
        return "; ".join(f"{why}: {n} folder{'s' if n > 1 else ''}"
                         for why, n in counts.most_common())

    def run_key(self, folder_keys: Mapping[str, str]) -> str:
        """A run key that names the batch's folders as each stands (`folder_keys`: partition ->
        that folder's own run key): the folder's own key for one folder, a digest of them
        for several (the range is in the run's tags), so the same batch requested twice is
        launched once."""
        if len(self.reasons) == 1:
            return folder_keys[self.keys[0]]
        digest = hashlib.sha1("\n".join(folder_keys[k] for k in self.keys).encode(),
                              usedforsecurity=False).hexdigest()[:16]
        return f"{len(self.reasons)}-folders:{digest}"


def _kind(why: str) -> str:
    """A reason without its numbers (`3 new pages` -> `new pages`), to count folders by."""
    words = [word for word in why.split() if not word.isdigit()]
    return " ".join(words) or why


def folder_batches(order: Sequence[str], reasons: Mapping[str, str],
                   folders_per_run: int) -> list[FolderBatch]:
    """The folders of `reasons` (partition -> why it needs a run) as batches of consecutive
    partitions of `order` (every partition, in the order they were added), at most
    `folders_per_run` each. A key of `reasons` that is not in `order` (no partition: it
    cannot be run) is left out."""
    if folders_per_run < 1:
        raise ValueError(f"folders per run must be at least 1, not {folders_per_run}; set "
                         "OCR_ASSETS_FOLDERS_PER_RUN to a positive number")
    batches: list[FolderBatch] = []
    current: dict[str, str] = {}
    for key in order:
        if key in reasons and len(current) < folders_per_run:
            current[key] = reasons[key]
            continue
        if current:
            batches.append(FolderBatch(current))
        current = {key: reasons[key]} if key in reasons else {}
    if current:
        batches.append(FolderBatch(current))
    return batches


def keys_in_range(order: Iterable[str], start: str, end: str) -> list[str]:
    """The partitions from `start` to `end` in `order` (what a range run reads)."""
    keys, inside = [], False
    for key in order:
        inside = inside or key == start
        if inside:
            keys.append(key)
        if key == end and inside:
            break
    return keys


def partitions_of_run(tags: Mapping[str, str], order: Iterable[str]) -> list[str]:
    """The partitions a run covers, from its tags: its one partition, or its range in
    `order`; none for a run that names no partition."""
    if PARTITION in tags:
        return [tags[PARTITION]]
    if RANGE_START in tags and RANGE_END in tags:
        return keys_in_range(order, tags[RANGE_START], tags[RANGE_END])
    return []


def run_request(batch: FolderBatch, run_key: str, tags: Mapping[str, str]) -> dg.RunRequest:
    """The request of one run over the batch's folders, with `tags` (trigger, ...) and the
    batch's reason: for one folder its partition, for several their range."""
    tags = {**tags, TAG_REASON: batch.reason()}
    if len(batch.reasons) == 1:
        return dg.RunRequest(partition_key=batch.keys[0], run_key=run_key, tags=tags)
    return dg.RunRequest(run_key=run_key, tags={**tags, **batch.partition_tags()})
