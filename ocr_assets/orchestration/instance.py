"""The persistent Dagster instance every project command uses (never a temporary home).

Unless the user names one (`DAGSTER_HOME`: a production instance, e.g. `deploy/`), it is
`<data root>/dagster_home`, and the project's `dagster.yaml` is written there (with the
project's event log storage at the home's path), so the CLI, the UI
and the daemon share one instance, its runs, partitions and check results. The home is passed
as a value (`DagsterInstance.from_config`, or the environment of the processes `dagster dev`
starts), never written to this process's environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ocr_assets.engine.manifest.leases import owner_is_dead, process_id

if TYPE_CHECKING:
    import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"
PROCESS_TAG = "ocr_assets/process"
"""Run tag: the `leases.process_id` of the process executing an in-process (CLI) run."""


STORAGE_KEYS = {"storage", "event_log_storage"}
"""Keys of an instance file that choose its event log: one that has them is used as it is."""
EVENT_LOG_STORAGE = """
# Added for this home by ocr-assets (ocr_assets/orchestration/instance.py): Dagster's SQLite
# event log with its databases kept open per process (ocr_assets/orchestration/event_log.py).
event_log_storage:
  module: ocr_assets.orchestration.event_log
  class: KeptOpenSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""
LOCK_NAME = ".ocr-assets-instance.lock"
"""In the instance's home: held while a process creates, repairs or first opens the instance."""
SQLITE_DATABASES = {
    Path("history/runs.db"): "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    Path("history/runs/index.db"): "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    Path("schedules/schedules.db"):
        "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
}
"""The embedded instance's SQLite databases that every process opens, and the module whose
migrations (alembic) they follow."""


class InstanceOpenError(Exception):
    """The Dagster instance cannot be opened; the message names it and says what to do."""


def dagster_home(data_root: Path, environ: Mapping[str, str]) -> Path:
    """The instance's home: `DAGSTER_HOME` when the user set one, else `<data_root>/dagster_home`
    with the project's `dagster.yaml` (or the file `OCR_ASSETS_INSTANCE_YAML` names) written in,
    rendered for this home, atomically and under the instance lock. Created when missing."""
    if environ.get("DAGSTER_HOME"):
        home = Path(environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = (data_root / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    source = Path(environ.get("OCR_ASSETS_INSTANCE_YAML") or PROJECT_INSTANCE_YAML)
    target = home / "dagster.yaml"
    if source.is_file():
        rendered = render_instance_yaml(source.read_text(encoding="utf-8"), home)
        if not target.is_file() or target.read_bytes() != rendered:
            with instance_lock(home):
                _replace(target, rendered)
    return home


def render_instance_yaml(template: str, home: Path) -> bytes:
    """The home's own `dagster.yaml`: the project's (`template`) and, unless it names a storage
    of its own, the project's event log storage at the home's path (`EVENT_LOG_STORAGE`). The
    path is added here because Dagster's config needs it absolute and only the project's
    commands know the home; `dg` and `dagster dev` on a checkout read the project's file as it
    is, with Dagster's default storage in a temporary home."""
    import yaml

    config = yaml.safe_load(template) or {}
    if STORAGE_KEYS & set(config):
        return template.encode("utf-8")
    runs_dir = json.dumps(str(home / "history" / "runs"), ensure_ascii=False)
    return (template.rstrip("\n") + "\n" + EVENT_LOG_STORAGE.format(base_dir=runs_dir)
            ).encode("utf-8")


def _replace(target: Path, data: bytes) -> None:
    """Write `target` whole or not at all (a temporary file renamed over it), so a process
    that reads it meanwhile never sees half of it. Not the output store's writer: that one
    carries the crash tests' kill points, which are about outputs, not the instance's file."""
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                     delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, target)


@contextmanager
def instance_lock(home: Path) -> Iterator[None]:
    """Hold the instance's lock: one process at a time creates, migrates or repairs it.

    Dagster's SQLite storages look for their tables and then create them, unlocked: two
    processes that start on a new home at once can both stamp a schema version, which leaves
    the instance unopenable (dagster-io/dagster#27390). Every project command and the UI open
    the instance through `open_instance`, which holds this lock while it does."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def repair_double_stamps(home: Path) -> list[str]:
    """Repair the damage two simultaneous first opens did: a database of the embedded instance
    whose `alembic_version` holds the current head and an older revision (its tables were
    created at the head by one process, the other stamped an older revision). The older rows
    go; what was repaired comes back as one line each, for the caller to say. A database with
    several revisions but not the head is left alone and raises `InstanceOpenError`."""
    repaired = []
    for relative, module in SQLITE_DATABASES.items():
        path = home / relative
        if not path.is_file():
            continue
        with contextlib.closing(sqlite3.connect(path, timeout=60)) as db:
            try:
                stamps = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
            except sqlite3.OperationalError:
                continue  # no version table yet: Dagster creates and stamps it
            if len(stamps) < 2:
                continue
            head = _alembic_head(module)
            if head not in stamps:
                raise InstanceOpenError(
                    f"the Dagster instance database {path} holds the schema versions {stamps} "
                    f"and not this Dagster's {head}; restore it from a backup or move "
                    f"{home} away to start a new instance")
            with db:
                db.execute("DELETE FROM alembic_version WHERE version_num != ?", (head,))
            repaired.append(f"{path}: schema versions {sorted(stamps)} (two processes created "
                            f"it at once), kept {head}")
    return repaired


def _alembic_head(module_name: str) -> str:
    import importlib

    from alembic.script import ScriptDirectory
    from dagster._core.storage.sql import get_alembic_config

    module = importlib.import_module(module_name)
    head = ScriptDirectory.from_config(get_alembic_config(module.__file__)).get_current_head()
    assert head is not None, module_name
    return head


def open_instance(home: Path, on_repair: Callable[[str], None] | None = None
                  ) -> dg.DagsterInstance:
    """The instance of `home`, created (its databases and their schema stamps) and repaired
    under the instance lock, so processes that start at once never damage it. `on_repair`
    hears each repair (`repair_double_stamps`); a home that cannot be opened raises
    `InstanceOpenError` naming it and what to do."""
    import dagster as dg

    with instance_lock(home):
        try:
            for line in repair_double_stamps(home):
                if on_repair is not None:
                    on_repair(line)
            instance = dg.DagsterInstance.from_config(str(home))
            # Every storage made now, inside the lock: some are only built on first use.
            instance.get_run_records(limit=1)
            instance.get_dynamic_partitions("scan_folders")
            instance.all_instigator_state()
        except InstanceOpenError:
            raise
        except Exception as exc:  # every cause becomes one message with what to do
            raise InstanceOpenError(
                f"cannot open the Dagster instance in {home}: {type(exc).__name__}: "
                f"{str(exc).strip()[:500]}; check {home / 'dagster.yaml'} (and the database it "
                "names), or move the home away to start a new instance") from exc
    return instance


def in_process_run_tags() -> dict[str, str]:
    """Tags of a run this process executes itself, so a later process can tell it died."""
    return {PROCESS_TAG: process_id()}


def fail_dead_in_process_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the in-process runs whose process died (SIGKILL, OOM killer, a closed
    terminal), and free the pool slots of every run that ended; returns the dead run ids.

    Such a run stays STARTED forever: no daemon watches it. Worse, it keeps its slot of the
    `tesseract` pool, so every later run's OCR step would wait for that slot forever. Runs
    of a process on another host, or of one that is alive, are left alone.
    """
    import dagster as dg

    dead = []
    records = instance.get_run_records(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                  dg.DagsterRunStatus.CANCELING]))
    for record in records:
        run = record.dagster_run
        owner = run.tags.get(PROCESS_TAG)
        if owner is None or not owner_is_dead(owner):
            continue
        instance.report_run_failed(run, message=f"the process that executed this run ({owner}) "
                                                "died; its unfinished pages are redone by the "
                                                "next run")
        dead.append(run.run_id)
    _free_slots_of_finished_runs(instance)
    return dead


def _free_slots_of_finished_runs(instance: dg.DagsterInstance) -> None:
    """Pool slots still held by runs that ended (or are gone): the daemon frees these when it
    runs; a headless machine has no daemon."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for run_id in storage.get_concurrency_run_ids():
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.dagster_run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
