"""Who holds a page, and whether that holder is provably dead.

A run claims each page under a lease (`Manifest.claim`) before it OCRs it. A lease ends three
ways: the run records the page, the lease expires (a run on another machine that vanished), or
the holder is shown to be dead. The last one matters most in practice: a run killed on this
machine (SIGKILL, OOM killer, a closed terminal) would otherwise leave its pages `running` until
the lease expires, minutes later, and an immediate re-run would skip them.

An owner id is `<host>:<pid>:<process start time>:<random>` (the first three: `process_id`, also
carried by temp files, so a temp file of a dead writer can be told from one being written). On
the same host a pid that no longer exists or is a zombie, or that now belongs to a process
started at another time (pid reuse), is dead. Owners on other hosts are never declared dead
here; their leases expire instead. Hosts that share a manifest or an output directory need
distinct host names.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """The process's state letter and start time in clock ticks since boot (Linux), or None
    when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Fields 3 and 22, counted after the command name, which is in parentheses and may hold
    # spaces.
    fields = stat.rpartition(b")")[2].split()
    return (fields[0].decode(), fields[19].decode()) if len(fields) > 19 else None


def _start_time(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def process_id() -> str:
    """`<host>:<pid>:<start time>`: this process, distinct from any earlier one with its pid."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '-'}"


def run_owner() -> str:
    """A lease owner id unique to this process and call."""
    return f"{process_id()}:{uuid.uuid4().hex[:8]}"


_GONE_STATES = frozenset("ZX")
"""Zombie and dead: the process has exited, only its exit status waits to be collected (a
killed run's workers, orphaned, stay zombies until init reaps them). It will never write
again."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def owner_is_dead(owner: str) -> bool:
    """True only when the owner (a `run_owner` or a `process_id`) is on this host and its
    process is gone (or a zombie), or its pid now belongs to a later process."""
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if not _pid_alive(pid):
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return False
    state, current = stat
    if state in _GONE_STATES:
        return True
    recorded = parts[2] if len(parts) > 2 and parts[2].isdigit() else None
    return recorded is not None and current != recorded


def dead_owners(owners: Iterable[str | None]) -> list[str]:
    """The distinct owners among `owners` that are provably dead."""
    return sorted({o for o in owners if o and owner_is_dead(o)})
