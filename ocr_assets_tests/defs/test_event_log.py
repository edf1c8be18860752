"""The project's event log storage (`ocr_assets/orchestration/event_log.py`): Dagster's own
files and schema, so an instance moves between it and Dagster's default with nothing lost; one
connection per database and process, a run's closed when the run ends; a watch of a run (the
UI's live view) that sees each event while the writer's connection stays open; and the home's
`dagster.yaml`, which names it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from ocr_assets.engine.manifest.sqlite import PAGE_CACHE_KIB
from ocr_assets.orchestration import event_log
from ocr_assets.orchestration.event_log import KeptOpenSqliteEventLogStorage
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML, render_instance_yaml

DAGSTER_DEFAULT_YAML = "telemetry:\n  enabled: false\n"


@dg.asset
def counted() -> int:
    return 1


def _materializations(instance: dg.DagsterInstance) -> int:
    return len(instance.fetch_materializations(counted.key, limit=100).records)


def _project_instance(home: Path) -> dg.DagsterInstance:
    (home / "dagster.yaml").write_bytes(
        render_instance_yaml(PROJECT_INSTANCE_YAML.read_text(), home))
    return dg.DagsterInstance.from_config(str(home))


def test_an_instance_moves_between_it_and_dagsters_default_with_nothing_lost(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ours = _project_instance(home)
    assert isinstance(ours.event_log_storage, KeptOpenSqliteEventLogStorage)
    runs = [dg.materialize([counted], instance=ours).run_id for _ in range(3)]
    ours.dispose()

    (home / "dagster.yaml").write_text(DAGSTER_DEFAULT_YAML)
    stock = dg.DagsterInstance.from_config(str(home))
    assert type(stock.event_log_storage) is SqliteEventLogStorage
    assert _materializations(stock) == 3
    assert any(entry.is_dagster_event for entry in stock.all_logs(runs[0]))
    runs.append(dg.materialize([counted], instance=stock).run_id)
    stock.dispose()

    again = _project_instance(home)
    assert _materializations(again) == 4, "what Dagster's default wrote is read back"
    assert [e.run_id for e in again.fetch_materializations(counted.key, limit=10).records] == \
        list(reversed(runs))


def test_each_process_has_its_own_index_connection(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked child (another pid) opens its own; the parent's stays open and usable."""
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path / "runs"))
    parent = storage._engine("index")
    assert storage._engine("index") is parent, "kept open, not made again per event"
    real_pid = event_log.os.getpid()
    monkeypatch.setattr(event_log.os, "getpid", lambda: real_pid + 1)
    child = storage._engine("index")
    assert child is not parent
    monkeypatch.setattr(event_log.os, "getpid", lambda: real_pid)
    with storage.index_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1, "NORMAL under WAL"
    storage.dispose()


def _message(run_id: str, text: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=logging.INFO, user_message=text, run_id=run_id,
                         timestamp=time.time())


def _run_ended(run_id: str) -> EventLogEntry:
    event = DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name="job")
    return EventLogEntry(error_info=None, level=logging.DEBUG, user_message="", run_id=run_id,
                         timestamp=time.time(), dagster_event=event)


def test_a_watch_sees_each_event_while_the_writer_keeps_its_connection(
        tmp_path: Path) -> None:
    """The UI's live run view: the writer's events land in the run's write-ahead log, not its
    database file, and the watch follows both."""
    base = tmp_path / "runs"
    writer = KeptOpenSqliteEventLogStorage(str(base))
    reader = KeptOpenSqliteEventLogStorage(str(base))
    seen: list[str] = []
    arrived = threading.Condition()

    def heard(entry: EventLogEntry, _cursor: str) -> None:
        with arrived:
            seen.append(entry.user_message)
            arrived.notify_all()

    writer.store_event(_message("run-1", "first"))
    reader.watch("run-1", None, heard)
    for text in ("second", "third"):
        writer.store_event(_message("run-1", text))
        with arrived:
            assert arrived.wait_for(lambda t=text: t in seen, timeout=10), (text, seen)
    assert (base / "run-1.db-wal").exists(), "the writer's connection is still open"
    reader.dispose()

    writer.store_event(_run_ended("run-1"))
    assert not (base / "run-1.db-wal").exists(), "the run's end closed and checkpointed it"
    assert [e.user_message for e in
            SqliteEventLogStorage(str(base)).get_logs_for_run("run-1")][:3] == \
        ["first", "second", "third"]
    writer.dispose()


def test_a_process_keeps_a_few_run_databases_open(tmp_path: Path) -> None:
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path / "runs"))
    for number in range(event_log.OPEN_RUN_DATABASES + 1):
        storage.store_event(_message(f"run-{number}", "page read"))
    open_runs = [shard for shard in storage._engines[event_log.os.getpid()] if shard != "index"]
    assert open_runs == [f"run-{n}" for n in range(1, event_log.OPEN_RUN_DATABASES + 1)]
    assert storage.get_logs_for_run("run-0")[0].user_message == "page read", "re-opened"
    storage.dispose()
    assert not storage._engines


def test_the_databases_kept_open_have_a_bounded_page_cache(tmp_path: Path) -> None:
    """Each cache fills as its database grows: at SQLite's default, the index and a long
    run's database made a process's memory grow with the folders it had run."""
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path / "runs"))
    storage.store_event(_message("run-1", "page read"))
    for connection in (storage.index_connection, lambda: storage.run_connection("run-1")):
        with connection() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -PAGE_CACHE_KIB
    storage.dispose()


def test_a_run_that_ended_here_is_read_afterwards_without_keeping_it_open(
        tmp_path: Path) -> None:
    """The command line reads each run's check results and alerts after the run: a database
    kept open for that held its page cache until four more runs had pushed it out."""
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path / "runs"))
    storage.store_event(_message("run-1", "page read"))
    storage.store_event(_run_ended("run-1"))
    storage.store_event(_message("run-2", "page read"))

    assert storage.get_logs_for_run("run-1")[0].user_message == "page read"
    open_runs = [shard for shard in storage._engines[event_log.os.getpid()] if shard != "index"]
    assert open_runs == ["run-2"], "the run still going stays open; the one that ended does not"
    assert not (tmp_path / "runs" / "run-1.db-wal").exists()
    storage.dispose()


def test_the_home_gets_it_at_its_own_path_and_a_file_with_its_own_storage_is_kept(
        tmp_path: Path) -> None:
    home = tmp_path / 'a "quoted" \\ home: #1'
    rendered = yaml.safe_load(render_instance_yaml(PROJECT_INSTANCE_YAML.read_text(), home))
    assert rendered["event_log_storage"]["config"]["base_dir"] == f"{home}/history/runs"
    assert rendered["run_coordinator"] == yaml.safe_load(
        PROJECT_INSTANCE_YAML.read_text())["run_coordinator"]
    assert "event_log_storage" not in yaml.safe_load(PROJECT_INSTANCE_YAML.read_text()), \
        "the checkout's own file works for `dg` and `dagster dev` in a temporary home"
    production = (PROJECT_INSTANCE_YAML.parent / "deploy" / "dagster.yaml").read_text()
    assert render_instance_yaml(production, home) == production.encode()
