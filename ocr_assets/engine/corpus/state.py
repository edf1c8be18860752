"""`state.json`: what the last complete corpus build saw of each folder.

Written last by a build, so a build that dies midway leaves the previous state, and the next
build redoes what this one did not finish. It records the signature (`selection.
partition_signature`) of every registered folder as the build saw it: `included` for the
folders in the corpus (a folder whose signature is unchanged is taken from its part, not
re-read) and `left_out` for the others. The corpus check compares these with the manifest of
the moment to tell a folder the build got wrong from one that changed after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ocr_assets.engine.corpus.layout import STATE_KEY
from ocr_assets.engine.store.outputs import OutputStore, read_json

STATE_VERSION = 2
"""2 added `left_out`; a state of another version is not trusted (the next build re-reads every
folder)."""


@dataclass
class BuildState:
    """The signatures a corpus build saw, by partition key."""

    included: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def signature(self, key: str) -> str | None:
        """What the build saw of the folder; None for a folder registered after it."""
        return self.included.get(key, self.left_out.get(key))


def _stored(corpus: OutputStore) -> dict[str, object]:
    """`state.json` as stored; empty when there is none, or not a JSON object."""
    try:
        state = read_json(corpus, STATE_KEY)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def read_state(corpus: OutputStore) -> BuildState | None:
    """The last complete build's state; None when there is none to trust."""
    state = _stored(corpus)
    if state.get("version") != STATE_VERSION:
        return None
    return BuildState(included=dict(state.get("partitions", {})),
                      left_out=dict(state.get("left_out", {})))


def legacy_partitions(corpus: OutputStore) -> list[str]:
    """The included folders of a version-1 state: that version kept a part per folder
    (`parts/<partition>.parquet`), which a newer build deletes."""
    state = _stored(corpus)
    return list(state.get("partitions", {})) if state.get("version") == 1 else []


def write_state(corpus: OutputStore, state: BuildState) -> None:
    corpus.write_bytes(STATE_KEY, json.dumps({
        "version": STATE_VERSION, "partitions": state.included,
        "left_out": state.left_out}).encode())
