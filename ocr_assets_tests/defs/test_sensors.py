"""The folder sensor and the corpus sensor, evaluated with `build_sensor_context` against a real
temporary instance: each tick's partition requests are applied as the daemon would apply them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from ocr_assets.defs.automation.sensors import evaluate_scan_folders
from ocr_assets.engine.naming import partition_key_for
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.batches import RANGE_END, RANGE_START, partitions_of_run
from ocr_assets.orchestration.concurrency import OCR_POOL
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import (
    corpus_sensor,
    decode_cursor,
    run_folders,
    scan_folder_sensor,
)

PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "phototest.tif"


@dataclass
class Scans:
    root: Path
    ocr: OcrConfig
    instance: dg.DagsterInstance
    cursor: str | None = None

    def folder(self, name: str | bytes, pages: int = 1) -> Path:
        folder = self.root / os.fsdecode(name)
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, pages + 1):
            shutil.copy(PAGE, folder / f"page_{n}.tif")
        return folder

    def tick(self) -> dg.SensorResult | dg.SkipReason:
        """One evaluation, its partition requests applied, its cursor kept."""
        # A context manager, so its resources are torn down here and not by the garbage
        # collector in a later test (see test_schedules.nightly).
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                     resources={"ocr": self.ocr}) as context:
            result = scan_folder_sensor(context)
        if isinstance(result, dg.SensorResult):
            for request in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(request.partitions_def_name,
                                                     list(request.partition_keys or []))
            self.cursor = result.cursor
        return result

    @property
    def partitions(self) -> list[str]:
        return sorted(self.instance.get_dynamic_partitions("scan_folders"))

    def run_keys(self, result: dg.SensorResult | dg.SkipReason) -> dict[str, str]:
        """partition -> the run key of the request that covers it (its own, or its range's)."""
        assert isinstance(result, dg.SensorResult), result
        order = self.instance.get_dynamic_partitions("scan_folders")
        return {key: r.run_key for r in result.run_requests or []
                for key in ([r.partition_key] if r.partition_key
                            else partitions_of_run(r.tags, order))}

    def folder_key(self, key: str) -> str:
        """The folder's own run key, as the cursor keeps it."""
        return decode_cursor(self.cursor)[key]




@pytest.fixture
def scans(tmp_path: Path) -> Iterator[Scans]:
    root = tmp_path / "scans"
    root.mkdir()
    ocr = OcrConfig(scans_root=str(root), data_root=str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        yield Scans(root, ocr, instance)
        ocr.project().manifest.close()


def test_new_folders_become_partitions_and_runs_in_the_same_tick(scans: Scans) -> None:
    scans.folder("box-001", pages=2)
    scans.folder("box-002")

    result = scans.tick()

    assert isinstance(result, dg.SensorResult)
    [request] = result.dynamic_partitions_requests
    assert sorted(request.partition_keys) == ["box-001", "box-002"]
    assert set(scans.run_keys(result)) == {"box-001", "box-002"}
    assert all(r.tags["ocr_assets/trigger"] == "sensor" for r in result.run_requests)
    registered = scans.ocr.project().manifest.folders()
    assert {f.partition_key for f in registered} == {"box-001", "box-002"}


def test_a_burst_of_folders_is_requested_as_few_runs_over_consecutive_partitions(
        scans: Scans) -> None:
    """Five new folders at 2 folders a run: three runs over ranges of partitions, each with its
    reason; later, only the changed folders, a run for each stretch of consecutive ones."""
    for n in range(1, 6):
        scans.folder(f"box-{n:03d}")

    def tick() -> dg.SensorResult:
        with dg.build_sensor_context(instance=scans.instance, cursor=scans.cursor,
                                     resources={"ocr": scans.ocr}) as context:
            result = evaluate_scan_folders(context, scans.ocr,
                                           AutomationConfig(folders_per_run=2))
        assert isinstance(result, dg.SensorResult)
        for request in result.dynamic_partitions_requests or []:
            scans.instance.add_dynamic_partitions(request.partitions_def_name,
                                                  list(request.partition_keys or []))
        scans.cursor = result.cursor
        return result

    burst = tick()
    ranges = [(r.tags.get(RANGE_START), r.tags.get(RANGE_END), r.partition_key)
              for r in burst.run_requests]
    assert ranges == [("box-001", "box-002", None), ("box-003", "box-004", None),
                      (None, None, "box-005")]
    assert [r.tags["ocr_assets/reason"] for r in burst.run_requests] == [
        "never materialized: 2 folders", "never materialized: 2 folders", "never materialized"]
    assert len({r.run_key for r in burst.run_requests}) == 3

    fake = OcrConfig(scans_root=scans.ocr.scans_root, data_root=scans.ocr.data_root,
                     engine=fault())
    assert run_folders(scans.instance, fake, scans.partitions).success
    for n in (1, 2, 4):
        shutil.copy(PAGE, scans.root / f"box-{n:03d}" / "page_2.tif")
    changed = tick()
    assert [(r.tags.get(RANGE_START), r.tags.get(RANGE_END), r.partition_key)
            for r in changed.run_requests] == [("box-001", "box-002", None),
                                               (None, None, "box-004")], \
        "box-003 did not change: it ends the first stretch, and is not read again"
    assert changed.run_requests[0].tags["ocr_assets/reason"] == "new pages: 2 folders"
    assert not {r.run_key for r in changed.run_requests} & {r.run_key for r in burst.run_requests}


def test_a_repeated_tick_is_idempotent(scans: Scans) -> None:
    scans.folder("box-001")
    first = scans.run_keys(scans.tick())
    again = scans.tick()
    assert scans.run_keys(again) == {}
    assert not again.dynamic_partitions_requests

    # A tick evaluated twice from the same cursor (a daemon restart mid-tick) requests the
    # same run keys, which Dagster launches once.
    scans.cursor = None
    assert scans.run_keys(scans.tick()) == first


def test_added_replaced_and_removed_pages_each_request_a_new_run(scans: Scans) -> None:
    folder = scans.folder("box-001", pages=2)
    other = scans.folder("box-002")
    assert scans.run_keys(scans.tick())
    keys = [scans.folder_key("box-001")]

    shutil.copy(PAGE, folder / "page_3.tif")
    keys.append(scans.run_keys(scans.tick()).get("box-001"))
    page = folder / "page_1.tif"
    os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 1_000_000))
    keys.append(scans.run_keys(scans.tick()).get("box-001"))
    (folder / "page_2.tif").unlink()
    keys.append(scans.run_keys(scans.tick()).get("box-001"))

    assert None not in keys and len(set(keys)) == 4
    assert all(k.startswith("box-001:") for k in keys)
    assert other.is_dir() and scans.run_keys(scans.tick()) == {}


def test_a_removed_folder_is_reported_not_run_and_not_deleted(scans: Scans) -> None:
    scans.folder("box-001")
    gone = scans.folder("box-002")
    scans.tick()
    shutil.rmtree(gone)

    result = scans.tick()

    assert scans.run_keys(result) == {}
    assert scans.partitions == ["box-001", "box-002"], "only `ocr-assets forget` deletes"
    cursor = decode_cursor(result.cursor)
    assert {key for key, entry in cursor.items() if not entry.startswith("gone:")} == {"box-001"}
    assert cursor["box-002"].startswith("gone:"), "watched, to run it again when it is back"
    assert scans.run_keys(scans.tick()) == {}, "warned once, nothing requested"
    assert scans.ocr.project().manifest.folder("box-002") is not None


def test_an_emptied_scans_root_is_a_skip_not_a_mass_removal(scans: Scans) -> None:
    folder = scans.folder("box-001")
    scans.tick()
    cursor = scans.cursor
    shutil.rmtree(folder)  # what an unmounted network share looks like

    result = scans.tick()

    assert isinstance(result, dg.SkipReason)
    assert "mounted" in result.skip_message
    assert scans.cursor == cursor


def test_a_missing_scans_root_is_a_skip_with_what_to_do(scans: Scans) -> None:
    scans.root.rmdir()
    result = scans.tick()
    assert isinstance(result, dg.SkipReason)
    assert "OCR_ASSETS_SCANS" in result.skip_message


def test_hostile_folder_names_get_safe_distinct_keys_or_are_reported(scans: Scans) -> None:
    names = ["box, 2", "Ærø\u20131837", "tab\tand\nnewline", "-dash", "a" * 200, "dots...dots",
             "x" * 70 + "1", "x" * 70 + "2", "-.."]
    for name in names:
        scans.folder(name)
    scans.folder(".hidden")  # hidden folders (.Trash, .sync) are never scan folders
    scans.folder(b"latin1-\xe9t\xe9")  # not UTF-8
    scans.folder("box_2")  # "box, 2" maps near this one; both must stay distinct
    (scans.root / "not-a-folder.tif").write_bytes(PAGE.read_bytes())
    (scans.root / "link").symlink_to(scans.root / "box_2")

    result = scans.tick()

    keys = scans.run_keys(result)
    assert len(keys) == len(names) + 2
    for key in keys:
        assert partition_key_for(key) == key, f"{key!r} is not a safe key"
        assert "," not in key and ".." not in key and len(key) <= 64
    stored = {f.partition_key: f.folder_name_raw for f in scans.ocr.project().manifest.folders()}
    assert os.fsencode("latin1-\udce9t\udce9") in stored.values()
    assert scans.partitions == sorted(keys)


def test_a_folder_gone_from_disk_whose_partition_was_deleted_is_forgotten(scans: Scans,
                                                                          ) -> None:
    gone = scans.folder("box-001")
    scans.folder("box-002")
    scans.tick()
    outputs = Path(scans.ocr.data_root) / "ocr" / "box-001"
    outputs.mkdir(parents=True)
    (outputs / "page_1.tif.txt").write_text("text")
    manifest = scans.ocr.project().manifest
    manifest.sync_pages("box-001", ["page_1.tif"])

    scans.instance.delete_dynamic_partition("scan_folders", "box-001")  # the UI's "delete"
    scans.tick()
    assert manifest.folder("box-001") is not None, "the folder is still there: kept"
    assert scans.partitions == ["box-001", "box-002"], "and its partition is restored"

    shutil.rmtree(gone)
    scans.instance.delete_dynamic_partition("scan_folders", "box-001")
    scans.tick()
    assert manifest.folder("box-001") is None
    assert manifest.pages("box-001") == {}
    assert not outputs.exists()
    assert manifest.folder("box-002") is not None


def test_each_tick_gives_the_ocr_pool_its_limit(scans: Scans) -> None:
    scans.folder("box-001")
    scans.tick()
    limits = {p.name: p for p in scans.instance.event_log_storage.get_pool_limits()}
    assert limits[OCR_POOL].limit == 1


def test_the_corpus_sensor_waits_for_a_folder_then_builds_after_new_materializations_only(
        scans: Scans) -> None:
    def tick(cursor: str | None):
        with dg.build_sensor_context(instance=scans.instance, cursor=cursor) as context:
            return corpus_sensor(context)

    scans.instance.add_dynamic_partitions("scan_folders", ["box-001"])
    waiting = tick(None)
    assert isinstance(waiting, dg.SkipReason), "no corpus before a single folder was OCRed"
    assert "no folder has been OCRed yet" in waiting.skip_message

    scans.instance.report_runless_asset_event(
        dg.AssetMaterialization("page_texts", partition="box-001"))
    first = tick(None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert isinstance(tick(first.cursor), dg.SkipReason)

    scans.instance.add_dynamic_partitions("scan_folders", ["box-002"])
    second = tick(first.cursor)
    assert isinstance(second, dg.SensorResult)
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_ticks_keep_the_pool_default_of_a_cluster_instance(
        scans: Scans, monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/k8s/values.yaml sets the cluster's OCR steps as the pool default: ticks keep it."""
    monkeypatch.delenv("OCR_ASSETS_OCR_RUNS", raising=False)
    scans.folder("box-001")
    cluster_config = {"concurrency": {"pools": {"default_limit": 4}}}
    with dg.instance_for_test(overrides=cluster_config) as cluster:
        scans.instance = cluster
        for _ in range(2):
            scans.tick()
            limits = {p.name: p for p in cluster.event_log_storage.get_pool_limits()}
            assert limits[OCR_POOL].limit == 4


def test_a_folder_back_after_its_run_failed_is_run_again_under_a_new_key(
        scans: Scans, tmp_path: Path) -> None:
    """A folder moved away while its run was due (the run fails: the folder is missing) and
    restored unchanged: the failed run's key would be skipped, so it gets one of its own."""
    folder = scans.folder("box-001")
    scans.folder("box-002")  # the scans root is not empty meanwhile: not an unmounted share
    assert "box-001" in scans.run_keys(scans.tick())
    first = scans.folder_key("box-001")
    moved = tmp_path / "moved"
    folder.rename(moved)
    failed = run_folders(scans.instance, scans.ocr, "box-001")
    assert not failed.success, "its run failed: the folder was not there"
    assert scans.run_keys(scans.tick()) == {}

    moved.rename(folder)
    back = scans.tick()

    assert scans.run_keys(back) == {"box-001": f"{first}:back1"}
    [request] = back.run_requests
    assert request.tags["ocr_assets/reason"] == "last run failed (page_texts)"
    assert scans.run_keys(scans.tick()) == {}, "requested once"
