"""The nightly schedule's run requests and `retry-failed`'s selection, against real
materializations in a temporary instance."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg

from ocr_assets.engine.folder.planning import RETRY_NEEDS
from ocr_assets.orchestration.batches import partitions_of_run
from ocr_assets.orchestration.priority import PRIORITY_TAG, Tier
from ocr_assets.orchestration.run_state import TAG_REASON, TAG_TRIGGER, folders_needing_run
from ocr_assets_tests.defs.conftest import FIXTURE_PAGES, Project
from ocr_assets_tests.defs.test_assets import _materialize
from ocr_assets_tests.project_defs import nightly_ingestion

NIGHT = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)


def nightly(project: Project) -> dict[str, dg.RunRequest] | dg.SkipReason:
    # Used as a context manager, so the resources it initialises are torn down with it: left
    # to the garbage collector, Dagster's resource init resets its defs-state context variable
    # in whichever later test the collection happens to run (the "undefined DagsterInstance
    # weakref" failure).
    with dg.build_schedule_context(instance=project.instance, scheduled_execution_time=NIGHT,
                                   resources={"ocr": project.ocr}) as context:
        result = nightly_ingestion(context)
    if isinstance(result, dg.SkipReason):
        return result
    order = project.instance.get_dynamic_partitions("scan_folders")
    return {key: r for r in result
            for key in ([r.partition_key] if r.partition_key else partitions_of_run(r.tags, order))}


def test_nightly_requests_new_and_changed_folders_only(project: Project) -> None:
    keys = project.register()

    first = nightly(project)
    assert set(first) == set(keys)
    [request] = {id(r): r for r in first.values()}.values()
    assert request.tags[TAG_REASON] == "never materialized: 2 folders", "one run for both"
    assert request.run_key.startswith("nightly:2026-03-14:2-folders:")

    for key in keys:
        assert _materialize(project, key).success
    skip = nightly(project)
    assert isinstance(skip, dg.SkipReason), "up to date, and the broken page is hopeless"

    shutil.copy(FIXTURE_PAGES / "eurotext.tif", project.scans / "box-001" / "page_3.tif")
    changed = nightly(project)
    assert set(changed) == {"box-001"}
    assert changed["box-001"].tags[TAG_REASON] == "1 new pages"


def test_nightly_only_registers_new_folders_and_runs_them(project: Project) -> None:
    """With the folder sensor off, the nightly evaluation is what registers a folder dropped
    in the scans root: its partition exists before its run is requested."""
    assert project.instance.get_dynamic_partitions("scan_folders") == []

    first = nightly(project)
    keys = sorted(project.instance.get_dynamic_partitions("scan_folders"))
    assert len(keys) == 2 and set(first) == set(keys)
    [request] = {id(r): r for r in first.values()}.values()
    assert request.tags[TAG_TRIGGER] == "nightly"
    assert int(request.tags[PRIORITY_TAG]) > Tier.CHANGED, "new folders, on the new tier"
    assert dg.MAX_RUNTIME_SECONDS_TAG in request.tags

    again = nightly(project)
    assert [r.run_key for r in {id(r): r for r in again.values()}.values()] == \
        [request.run_key], "evaluated twice in a night: the same key, which Dagster runs once"
    assert sorted(project.instance.get_dynamic_partitions("scan_folders")) == keys


def test_nightly_skips_a_missing_scans_root_without_registering(project: Project) -> None:
    shutil.rmtree(project.scans)
    skip = nightly(project)
    assert isinstance(skip, dg.SkipReason) and "OCR_ASSETS_SCANS" in (skip.skip_message or "")
    assert project.instance.get_dynamic_partitions("scan_folders") == []


def test_nightly_retries_transient_failures_under_the_cap(project: Project) -> None:
    project.register()
    assert _materialize(project, "box-001").success
    manifest = project.ocr.project().manifest
    with manifest._tx() as db:  # a worker crash on page_1: transient, 1 attempt of 3
        db.execute("UPDATE pages SET status = 'failed', error_category = 'worker_crashed', "
                   "attempts = 1 WHERE page_id = 'page_1.tif'")
    requests = nightly(project)
    retry, new = requests["box-001"], requests[next(k for k in requests if k != "box-001")]
    assert retry.tags[TAG_REASON] == "1 failed pages to retry"
    assert new.tags[TAG_REASON] == "never materialized", "the backlog has a run of its own"
    assert int(retry.tags[PRIORITY_TAG]) < 0 < int(new.tags[PRIORITY_TAG])


def test_retry_failed_selects_exactly_failed_runs_and_failed_pages(project: Project) -> None:
    for name in ("box-003", "box-004"):
        (project.scans / name).mkdir()
        shutil.copy(FIXTURE_PAGES / "phototest.tif", project.scans / name / "p.tif")
    keys = project.register()
    broken = next(k for k in keys if k.startswith("box_2-"))
    assert _materialize(project, "box-001").success
    assert _materialize(project, broken).success
    hidden = project.scans / "box-003.moved"
    (project.scans / "box-003").rename(hidden)  # its run fails: the folder is not there
    assert not _materialize(project, "box-003").success
    hidden.rename(project.scans / "box-003")

    selection = {key: need.why for key, need in folders_needing_run(
        project.instance, project.ocr.project(), RETRY_NEEDS).items()}

    assert selection == {broken: "1 failed pages",
                         "box-003": "last run failed (page_texts)"}, \
        "box-001 is fine, box-004 was never run (the UI's 'missing' backfill covers it)"
