"""Named kill points: where the crash harness makes a process die with SIGKILL on purpose.

A run must survive being killed at *any* instant; the two instants that matter most (half-way
through an atomic write, inside a manifest transaction) are too short to hit with a signal sent
from outside, so the code names them and a test can ask for a kill there through the
environment, without patching anything:

    OCR_ASSETS_KILL_AT="manifest.commit:5"        the 5th manifest commit of a process kills it
    OCR_ASSETS_KILL_AT="atomic.renamed:3:group"   the 3rd atomic rename kills the whole run

The count is per process (every pool worker counts its own), and `group` kills the process group
(the run and all its workers, as a power cut or `kill -9 -PGID` would) instead of the process.
Unset, a kill point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from functools import cache

ENV = "OCR_ASSETS_KILL_AT"
POINTS: dict[str, str] = {
    "atomic.partial": "half the data is in the temp file, the rest not yet written",
    "atomic.written": "the temp file is complete and fsynced, not yet renamed over the target",
    "atomic.renamed": "the target is in place; its directory entry is not yet fsynced",
    "manifest.commit": "the transaction's statements ran; COMMIT has not",
}
_hits: Counter[str] = Counter()


@cache
def _plan(spec: str) -> tuple[str, int, bool]:
    point, _, rest = spec.partition(":")
    count, _, scope = rest.partition(":")
    if point not in POINTS or not count.isdigit() or scope not in ("", "group"):
        raise ValueError(f"{ENV}={spec!r}: expected <point>:<n>[:group] with a point among "
                         f"{sorted(POINTS)}")
    return point, int(count), scope == "group"


def kill_point(name: str) -> None:
    """SIGKILL this process (or its group) here, if `OCR_ASSETS_KILL_AT` asks for it."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, count, group = _plan(spec)
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] == count:
        if group:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
