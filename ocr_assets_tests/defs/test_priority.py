"""The queue's order of folder runs: new folders, then changed ones, then the nightly backlog,
smaller runs first in each; and each run's time cap. The requests come from the sensor's own
evaluation, and the order is what Dagster's queued run coordinator daemon dequeues, driven in
process on an instance that starts one run at a time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.test_utils import create_run_for_test, create_test_daemon_workspace_context
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

from ocr_assets.defs.automation.sensors import evaluate_scan_folders
from ocr_assets.engine.folder.planning import FolderNeed, Need
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.priority import PRIORITY_TAG, Tier, run_priority
from ocr_assets.orchestration.requests import PAGES_TAG, folder_run_requests, plan_runs
from ocr_assets_tests.defs.conftest import FIXTURE_PAGES, Project

ONE_AT_A_TIME = {
    "run_coordinator": {"module": "dagster._core.run_coordinator",
                        "class": "QueuedRunCoordinator"},
    "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    "concurrency": {"runs": {"max_concurrent_runs": 1}},
}
FOLDER_JOB = RemoteJobOrigin(
    RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("ocr_assets"), "__repository__"),
    "ocr_folder_job")
"""Where a queued run says it comes from (Dagster requires one); the mocked launcher that
starts it loads nothing from there."""


def test_tiers_outrank_sizes_and_a_run_launched_by_hand_sits_between() -> None:
    assert run_priority(Tier.NEW, 10**9) > run_priority(Tier.CHANGED, 0)
    assert run_priority(Tier.CHANGED, 10**9) > 0 > run_priority(Tier.BACKLOG, 0)
    assert run_priority(Tier.NEW, 3) > run_priority(Tier.NEW, 40) > run_priority(Tier.NEW, 5000)
    assert run_priority(Tier.NEW, 10) == run_priority(Tier.NEW, 12), \
        "about the same size: the queue keeps the order they were requested in"


def new_folder_requests(project: Project, automation: AutomationConfig) -> list[dg.RunRequest]:
    """The sensor's requests for the project's folders and a big one, one folder a run."""
    big = project.scans / "box-big"
    big.mkdir()
    for n in range(12):
        shutil.copy(FIXTURE_PAGES / "phototest.tif", big / f"page_{n}.tif")
    with dg.build_sensor_context(instance=project.instance,
                                 resources={"ocr": project.ocr}) as context:
        result = evaluate_scan_folders(context, project.ocr, automation)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        project.instance.add_dynamic_partitions(request.partitions_def_name,
                                                list(request.partition_keys or []))
    return list(result.run_requests or [])


def test_the_sensor_tags_each_run_with_its_priority_size_and_time_cap(project: Project) -> None:
    automation = AutomationConfig(folders_per_run=1, run_time_floor_s=600,
                                  run_time_per_page_s=20)
    requests = {r.partition_key: r for r in new_folder_requests(project, automation)}
    big, small = requests["box-big"], requests["box-001"]
    assert int(big.tags[PAGES_TAG]) >= 12 and small.tags[PAGES_TAG] == "2"
    assert int(small.tags[PRIORITY_TAG]) > int(big.tags[PRIORITY_TAG]) > Tier.CHANGED
    assert small.tags[dg.MAX_RUNTIME_SECONDS_TAG] == str(600 + 2 * 20)
    assert big.tags[dg.MAX_RUNTIME_SECONDS_TAG] == str(600 + int(big.tags[PAGES_TAG]) * 20)

    uncapped = AutomationConfig(run_time_floor_s=0)
    assert uncapped.max_runtime_s(1000) is None
    [run] = plan_runs(["box-001"], {"box-001": FolderNeed(Need.NEW, "never materialized", 0)},
                      {"box-001": 2}, 200)
    assert dg.MAX_RUNTIME_SECONDS_TAG not in run.tags(uncapped)


def backlog_and_changed(automation: AutomationConfig) -> Mapping[str, dg.RunRequest]:
    """What the nightly ingestion requests for a folder with pending pages, and the sensor for
    a changed one (already registered folders: `a-old`, `b-changed`)."""
    needs = {"a-old": FolderNeed(Need.PENDING, "3 pages pending", 3),
             "b-changed": FolderNeed(Need.CHANGED, "1 changed pages", 1)}
    runs = plan_runs(["a-old", "b-changed"], needs, {"a-old": 3, "b-changed": 5}, 200)
    requests = folder_run_requests(runs, lambda batch: batch.keys[0], {}, automation)
    return {r.partition_key: r for r in requests}


@pytest.fixture
def queue() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides=ONE_AT_A_TIME) as instance:
        yield instance


def test_the_queued_run_coordinator_starts_new_small_folders_first_and_the_backlog_last(
        project: Project, queue: dg.DagsterInstance) -> None:
    automation = AutomationConfig(folders_per_run=1)
    new = {r.partition_key: r for r in new_folder_requests(project, automation)}
    other = backlog_and_changed(automation)
    # Queued in the worst order: the backlog first, the smallest new folder last.
    queued = [("backlog", other["a-old"].tags), ("by hand", {}),
              ("new big", new["box-big"].tags), ("changed", other["b-changed"].tags),
              ("new small", new["box-001"].tags)]
    names = {}
    for name, tags in queued:
        run = create_run_for_test(queue, job_name="ocr_folder_job", tags=dict(tags),
                                  status=dg.DagsterRunStatus.QUEUED,
                                  remote_job_origin=FOLDER_JOB)
        names[run.run_id] = name

    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    started: list[str] = []
    with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), queue) as workspace:
        for _ in queued:
            list(daemon.run_iteration(workspace))
            launched = [run.run_id for run in queue.run_launcher.queue()]
            assert len(launched) == len(started) + 1, "one run at a time"
            started.append(names[launched[-1]])
            queue.report_run_canceled(queue.get_run_by_id(launched[-1]))
    assert started == ["new small", "new big", "changed", "by hand", "backlog"]
