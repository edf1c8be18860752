"""The persistent Dagster instance every project command uses (never a temporary home).

Unless the user names one (`DAGSTER_HOME`: a production instance, e.g. `deploy/`), it is
`<data root>/dagster_home`, and the project's `dagster.yaml` is copied there, so the CLI, the UI
and the daemon share one instance, its runs, partitions and check results. The home is passed
as a value (`DagsterInstance.from_config`, or the environment of the processes `dagster dev`
starts), never written to this process's environment.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ocr_assets.engine.manifest.leases import owner_is_dead, process_id

if TYPE_CHECKING:
    import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"
PROCESS_TAG = "ocr_assets/process"
"""Run tag: the `leases.process_id` of the process executing an in-process (CLI) run."""


def dagster_home(data_root: Path, environ: Mapping[str, str]) -> Path:
    """The instance's home: `DAGSTER_HOME` when the user set one, else `<data_root>/dagster_home`
    with the project's `dagster.yaml` (or the file `OCR_ASSETS_INSTANCE_YAML` names) copied in.
    Created when missing."""
    if environ.get("DAGSTER_HOME"):
        home = Path(environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = (data_root / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = Path(environ.get("OCR_ASSETS_INSTANCE_YAML") or PROJECT_INSTANCE_YAML)
    if source.is_file() and (not target.is_file()
                             or target.read_bytes() != source.read_bytes()):
        shutil.copyfile(source, target)
    return home


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance of `home`."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


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
