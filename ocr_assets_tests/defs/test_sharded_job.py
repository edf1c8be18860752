"""The sharded job in process (no broker): a big folder split into shards and small folders
packed, every page read once, each folder recorded with its checks; and its executor is the
in-process one unless a broker is configured."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from PIL import Image

from ocr_assets.defs.cluster.jobs import IO_MANAGER, shard_io_manager, sharded_job
from ocr_assets.engine.manifest import DONE
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.cluster import ClusterConfig
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.project_defs import recorded


def _scans(root: Path, pages: dict[str, int]) -> Path:
    for name, count in pages.items():
        folder = root / name
        folder.mkdir(parents=True)
        for n in range(count):
            Image.new("L", (60, 40), 255).save(folder / f"p{n}.png")
    return root


def test_a_big_folder_in_shards_and_small_ones_packed_are_each_read_once(
        tmp_path: Path) -> None:
    scans = _scans(tmp_path / "scans", {"big": 7, "small-a": 1, "small-b": 2})
    ocr = OcrConfig(scans_root=str(scans), data_root=str(tmp_path / "data"), workers=1,
                    engine=fault(), auto_rotate=False)
    cluster = ClusterConfig(pages_per_shard=3, io_root=str(tmp_path / "io"))
    job = sharded_job(cluster, AutomationConfig().step_retry_policy(),
                      ocr.project().settings.recipe_key())
    assert job.executor_def is dg.in_process_executor
    with dg.instance_for_test() as instance:
        resources = {"ocr": ocr, IO_MANAGER: shard_io_manager(cluster)}
        result = job.execute_in_process(instance=instance, resources=resources,
                                        run_config={"ops": {"plan_shards": {"config": {}}}})
        assert result.success
        shard_steps = sorted(key for key in (event.step_key for event in result.all_events)
                             if key and key.startswith("ocr_shard["))
        assert set(shard_steps) == {"ocr_shard[s0_1of3]", "ocr_shard[s1_2of3]",
                                    "ocr_shard[s2_3of3]", "ocr_shard[s3_1of1]"}
        manifest = ocr.project().manifest
        for key, pages in {"big": 7, "small-a": 1, "small-b": 2}.items():
            rows = manifest.pages(key)
            assert len(rows) == pages
            assert {(row.status, row.done_count) for row in rows.values()} == {(DONE, 1)}
        checks = [entry.asset_check_evaluation for entry in recorded(
            instance, result.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
        invariants = {c.partition: c.passed for c in checks if c.check_name == "counts_invariant"}
        assert invariants == {"big": True, "small-a": True, "small-b": True}
        materialized = {(e.asset_materialization.asset_key.path[-1],
                         e.asset_materialization.partition) for e in recorded(
            instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)}
        assert ("page_texts", "big") in materialized


def test_a_broker_gives_the_celery_executor() -> None:
    pytest.importorskip("dagster_celery", reason="the cluster extra (dagster-celery) is not "
                        "installed: pip install 'ocr-assets[cluster]'")
    cluster = ClusterConfig(celery_broker="pyamqp://u:p@10.0.0.1:5672//", io_root="/shared")
    job = sharded_job(cluster, AutomationConfig().step_retry_policy(), "r")
    assert job.executor_def.name == "celery"
