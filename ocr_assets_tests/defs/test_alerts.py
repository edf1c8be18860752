"""Alerts from real runs against a temporary instance, to a webhook on loopback: one message per
event whoever sees it (the alert sensor evaluated twice, the command line's hook after it), a
blocking check that fails its run is one message, not two, and an overdue corpus is alerted
once. Pages are read by the fault engine (instant; an unreadable page fails for real)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from ocr_assets.defs.automation.alerts import evaluate_alerts
from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.orchestration.alerts import alert_after_runs
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import PAGE_TEXTS, register_and_add_partitions
from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.doubles.webhook_server import WebhookServer, webhook_server
from ocr_assets_tests.project_defs import run_folders

PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "phototest.tif"
DAY_S = 24 * 3600


@dataclass
class Alerts:
    scans: Path
    ocr: OcrConfig
    instance: dg.DagsterInstance
    server: WebhookServer

    @property
    def config(self) -> AlertConfig:
        return AlertConfig(webhook=self.server.url, ui_url="http://ocr-host:3000", timeout_s=2)

    def folder(self, name: str, good: int, unreadable: int = 0) -> None:
        folder = self.scans / name
        folder.mkdir(parents=True)
        for n in range(1, good + 1):
            shutil.copy(PAGE, folder / f"page_{n}.tif")
        for n in range(good + 1, good + unreadable + 1):
            (folder / f"page_{n}.png").write_bytes(b"not an image at all" * 10)

    def register(self) -> None:
        register_and_add_partitions(self.instance, self.ocr.project())

    def tick(self, cursor: str | None = None, now: float | None = None) -> str | None:
        """One evaluation of the alert sensor from `cursor`; returns its new cursor."""
        with dg.build_sensor_context(instance=self.instance, cursor=cursor,
                                     resources={"ocr": self.ocr}) as context:
            result = evaluate_alerts(context, self.ocr, self.config, DAY_S, now=now)
        assert isinstance(result, dg.SensorResult), result
        return result.cursor

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(body["kind"], body["partition"]) for body in self.server.bodies()]


@pytest.fixture
def alerts(tmp_path: Path) -> Iterator[Alerts]:
    scans = tmp_path / "scans"
    scans.mkdir()
    ocr = OcrConfig(scans_root=str(scans), data_root=str(tmp_path / "data"), engine=fault(),
                    workers=1)
    with dg.instance_for_test() as instance, webhook_server() as server:
        yield Alerts(scans, ocr, instance, server)
        ocr.project().close()


def test_a_folder_over_the_alert_share_is_one_message_however_often_it_is_seen(
        alerts: Alerts) -> None:
    alerts.folder("box-good", good=2)
    alerts.folder("box-bad", good=3, unreadable=1)
    alerts.register()
    run = run_folders(alerts.instance, alerts.ocr, ["box-bad", "box-good"])
    assert run.success, "a quarter of failed pages is within the blocking limit of a half"

    first = alerts.tick()
    alerts.tick(first)
    alerts.tick(None)  # evaluated again from the start
    delivery, _ = alert_after_runs(alerts.instance, alerts.ocr.project(), [run.run_id],
                                   alerts.config)  # the command line's hook, after the sensor

    [body] = alerts.server.bodies()
    assert delivery.already_sent == [body["key"]] and not delivery.sent
    assert (body["kind"], body["folder"], body["partition"]) == (
        "failed_share", "box-bad", "box-bad")
    assert body["counts"] == {"pages": 4, "done": 3, "failed": 1, "pending": 0,
                              "failed_share": 0.25}
    assert body["url"] == f"http://ocr-host:3000/runs/{run.run_id}"
    assert body["job"] == alerts.instance.get_run_by_id(run.run_id).job_name
    assert "1 of 4 pages failed (25%)" in body["what"] and "above the alert share of 10%" in \
        body["what"]


def test_a_failed_run_is_one_message_and_a_folder_its_blocking_check_failed_another(
        alerts: Alerts) -> None:
    """One run: a folder whose blocking check fails (failed pages over a strict limit) and one
    gone from disk. The check's alert names the first; the run's names only the second, whose
    failure no check explains."""
    alerts.folder("box-bad", good=3, unreadable=1)
    alerts.folder("box-gone", good=1)
    alerts.register()
    shutil.rmtree(alerts.scans / "box-gone")
    strict = OcrConfig(**{**alerts.ocr.config().__dict__, "max_failed_share": 0.1})
    run = run_folders(alerts.instance, strict, ["box-bad", "box-gone"])
    assert not run.success

    cursor = alerts.tick()
    alerts.tick(cursor)

    assert sorted(alerts.kinds()) == [("blocking_check_failed", "box-bad"),
                                      ("run_failed", "box-gone")]
    bodies = {body["kind"]: body for body in alerts.server.bodies()}
    check = bodies["blocking_check_failed"]
    assert check["what"].startswith("failure_share: 1 of 4 pages failed (25%), above the limit")
    assert check["counts"]["failed"] == 1
    failed = bodies["run_failed"]
    assert [f["partition"] for f in failed["folders"]] == ["box-gone"]
    assert "does not exist" in failed["folders"][0]["why"]
    assert failed["counts"] == {"folders_failed": 1}
    assert failed["url"] == check["url"] == f"http://ocr-host:3000/runs/{run.run_id}"


def test_an_overdue_corpus_is_alerted_once_and_only_while_folders_wait(
        alerts: Alerts) -> None:
    instance = alerts.instance
    instance.add_dynamic_partitions("scan_folders", ["box-001"])
    instance.report_runless_asset_event(dg.AssetMaterialization("ocr_corpus"))
    built = time.time()
    assert alerts.tick(now=built + 3 * DAY_S) is not None
    assert alerts.server.bodies() == [], "nothing changed since the build: nothing is overdue"

    instance.report_runless_asset_event(dg.AssetMaterialization(PAGE_TEXTS, partition="box-001"))
    alerts.tick(now=time.time() + 3600)
    assert alerts.server.bodies() == [], "a folder OCRed an hour ago is not overdue"
    cursor = alerts.tick(now=time.time() + DAY_S + 60)
    alerts.tick(cursor, now=time.time() + DAY_S + 120)

    [body] = alerts.server.bodies()
    assert body["kind"] == "corpus_overdue"
    assert body["counts"]["folders_waiting"] == 1
    assert body["folders"][0]["partition"] == "box-001"
    assert body["url"] == "http://ocr-host:3000/assets/ocr_corpus"

    instance.report_runless_asset_event(dg.AssetMaterialization("ocr_corpus"))
    alerts.tick(cursor, now=time.time() + DAY_S + 180)
    assert len(alerts.server.bodies()) == 1, "built again: fresh"


def test_without_a_channel_the_sensor_says_how_to_configure_one(alerts: Alerts) -> None:
    with dg.build_sensor_context(instance=alerts.instance,
                                 resources={"ocr": alerts.ocr}) as context:
        result = evaluate_alerts(context, alerts.ocr, AlertConfig(), DAY_S)
    assert isinstance(result, dg.SkipReason)
    assert "OCR_ASSETS_ALERT_WEBHOOK" in (result.skip_message or "")


def test_a_blocking_check_outside_the_folder_step_is_one_message_too(alerts: Alerts) -> None:
    """As the corpus's `corpus_complete`: Dagster fails the run for the check; the alert names
    the asset's check, with no folder and no second message about the run."""

    @dg.asset(name="ocr_corpus")
    def corpus() -> None:
        """Stands in for the corpus: only its check matters here."""

    @dg.asset_check(asset=corpus, blocking=True)
    def corpus_complete() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="3 pages missing",
                                   metadata={"missing_rows": 3})

    run = dg.materialize([corpus, corpus_complete], instance=alerts.instance,
                         raise_on_error=False)
    assert not run.success

    alerts.tick()

    [body] = alerts.server.bodies()
    assert (body["kind"], body["folder"], body["folders"]) == ("blocking_check_failed", None, [])
    assert body["what"] == "corpus_complete: 3 pages missing; the corpus was not updated"
    assert body["counts"] == {"missing_rows": 3}
    assert body["key"] == f"blocking_check_failed:{run.run_id}:ocr_corpus"
