"""Alerts delivered once each to a webhook on loopback that is fast, slow or down, with the
manifest as the ledger: a second delivery of the same event sends nothing, and a receiver that
is down or slow costs at most its timeout, once a batch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.engine.alerts.dispatch import deliver
from ocr_assets.engine.alerts.message import (
    BLOCKING_CHECK_FAILED,
    FAILED_SHARE,
    Alert,
    FolderIssue,
)
from ocr_assets.engine.alerts.webhook import WebhookChannel
from ocr_assets.engine.manifest import SqliteManifest
from ocr_assets_tests.doubles.webhook_server import closed_port, webhook_server

TIMEOUT_S = 0.5


def alert(n: int = 1, kind: str = FAILED_SHARE) -> Alert:
    return Alert(key=f"{kind}:box-{n:03d}:3:10", kind=kind, what="3 of 10 pages failed (30%)",
                 folders=(FolderIssue(f"box-{n:03d}", f"Box {n}", "failed-page share"),),
                 counts={"pages": 10, "done": 7, "failed": 3, "failed_share": 0.3},
                 run_id="r1", job="ocr_folder_job",
                 url=AlertConfig(ui_url="http://ui:3000/").run_url("r1"))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteManifest]:
    manifest = SqliteManifest(tmp_path / "manifest.sqlite")
    yield manifest
    manifest.close()


def test_the_webhook_gets_one_json_body_per_event_with_folder_counts_and_link(
        ledger: SqliteManifest) -> None:
    with webhook_server() as server:
        channel = WebhookChannel(server.url, TIMEOUT_S)
        first = deliver([alert()], [channel], ledger)
        again = deliver([alert()], [channel], ledger)
    assert first.sent == [alert().key] and not first.failures
    assert again.sent == [] and again.already_sent == [alert().key], "sent once, not twice"
    [body] = server.bodies()
    assert body["kind"] == "failed_share" and body["folder"] == "Box 1"
    assert body["partition"] == "box-001"
    assert body["counts"] == {"pages": 10, "done": 7, "failed": 3, "failed_share": 0.3}
    assert body["url"] == "http://ui:3000/runs/r1" and body["run_id"] == "r1"
    assert server.received[0].headers["Content-Type"] == "application/json"


def test_a_ledger_shared_by_two_processes_sends_an_event_once(tmp_path: Path) -> None:
    """The command line and the daemon open the same manifest: whoever claims first sends."""
    one, other = (SqliteManifest(tmp_path / "manifest.sqlite") for _ in range(2))
    with webhook_server() as server:
        channel = WebhookChannel(server.url, TIMEOUT_S)
        deliver([alert(1), alert(2)], [channel], one)
        late = deliver([alert(2), alert(3)], [channel], other)
    one.close()
    other.close()
    assert late.already_sent == [alert(2).key] and late.sent == [alert(3).key]
    assert [b["partition"] for b in server.bodies()] == ["box-001", "box-002", "box-003"]


def test_a_slow_webhook_costs_one_timeout_for_the_whole_batch(ledger: SqliteManifest) -> None:
    with webhook_server(delay_s=10) as server:
        started = time.monotonic()
        delivery = deliver([alert(n) for n in range(1, 6)],
                           [WebhookChannel(server.url, TIMEOUT_S)], ledger)
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT_S + 1.5, f"a slow receiver held the batch up for {elapsed:.1f} s"
    assert len(server.received) == 1, "given up after its first timeout, for the whole batch"
    assert len(delivery.failures) == 5 and not delivery.sent
    assert "did not take the alert within 0.5 s" in delivery.failures[alert(1).key]
    assert "not tried, it failed earlier in this batch" in delivery.failures[alert(2).key]


def test_a_webhook_that_is_down_fails_fast_and_never_raises(ledger: SqliteManifest) -> None:
    url = closed_port()
    started = time.monotonic()
    delivery = deliver([alert()], [WebhookChannel(url, TIMEOUT_S)], ledger)
    assert time.monotonic() - started < TIMEOUT_S + 1.0
    [why] = delivery.failures.values()
    assert "Connection refused" in why and "/hook" not in why, \
        "the reason says what happened, and never the webhook's secret path"


def test_a_channel_that_fails_does_not_keep_the_others_from_the_alert(
        ledger: SqliteManifest) -> None:
    with webhook_server() as server:
        working = WebhookChannel(server.url, TIMEOUT_S)
        working.name = "another webhook"
        delivery = deliver([alert(kind=BLOCKING_CHECK_FAILED)],
                           [WebhookChannel(closed_port(), TIMEOUT_S), working], ledger)
    assert delivery.sent == [alert(kind=BLOCKING_CHECK_FAILED).key]
    assert len(server.received) == 1 and delivery.failures


def test_without_a_channel_nothing_is_claimed(ledger: SqliteManifest) -> None:
    """An event seen before a channel was configured is still sent once one is."""
    assert deliver([alert()], [], ledger).sent == []
    with webhook_server() as server:
        assert deliver([alert()], [WebhookChannel(server.url, TIMEOUT_S)], ledger).sent


def test_the_chat_text_names_what_failed_where_with_counts_and_link() -> None:
    text = alert().text()
    assert text.splitlines() == [
        "ocr-assets: folder over its failed-page share in folder 'Box 1': 3 of 10 pages failed "
        "(30%)", "pages 10, done 7, failed 3, failed_share 30.0%", "http://ui:3000/runs/r1"]


def test_the_configuration_comes_from_the_environment_without_secrets_in_run_config() -> None:
    config = AlertConfig.from_environ({"OCR_ASSETS_ALERT_WEBHOOK": "http://h/x",
                                       "OCR_ASSETS_ALERT_FAILED_SHARE": "0.25",
                                       "OCR_ASSETS_UI_URL": "http://ui"})
    assert config.configured and config.failed_share == 0.25 and config.timeout_s == 3.0
    assert config.asset_url("ocr_corpus") == "http://ui/assets/ocr_corpus"
    assert not AlertConfig().configured and AlertConfig().run_url("r") is None
