"""Slack and Teams through Dagster's own integrations (the `alerts` extra), each posting to a
receiver on loopback: dagster-msteams' client to its hook URL, dagster-slack's client with its
API address pointed at the receiver. Half a configuration or a missing integration is a line
that says what to do, never an exception."""

from __future__ import annotations

import sys

import pytest

from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.engine.alerts.message import RUN_FAILED, Alert, FolderIssue
from ocr_assets.engine.alerts.webhook import DeliveryError, WebhookChannel
from ocr_assets.orchestration.alert_channels import SlackChannel, TeamsChannel, alert_channels
from ocr_assets_tests.doubles.webhook_server import closed_port, webhook_server

ALERT = Alert(key="run_failed:r1", kind=RUN_FAILED, what="ocr_folder_job failed: box-001: gone",
              folders=(FolderIssue("box-001", "Box 1", "gone"),),
              counts={"folders_failed": 1}, run_id="r1", url="http://ui/runs/r1")


def test_every_configured_channel_is_built_with_the_short_timeout() -> None:
    config = AlertConfig(webhook="http://127.0.0.1:9/hook", slack_token="xoxb-test",
                         slack_channel="#ocr", teams_webhook="http://127.0.0.1:9/teams",
                         timeout_s=2.5)
    channels, problems = alert_channels(config)
    assert problems == []
    webhook, slack, teams = channels
    assert isinstance(webhook, WebhookChannel) and webhook.timeout_s == 2.5
    assert isinstance(slack, SlackChannel) and slack.client.timeout == 2.5
    assert isinstance(teams, TeamsChannel) and teams.client._timeout == 2.5


def test_teams_gets_a_card_with_the_alert_through_dagster_msteams() -> None:
    with webhook_server() as server:
        TeamsChannel(server.url, timeout_s=2).send(ALERT)
    [body] = server.bodies()
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    text = attachment["content"]["body"][0]["text"]
    assert text.startswith("ocr-assets: run failed in folder 'Box 1': ocr_folder_job failed")
    assert "http://ui/runs/r1" in text


def test_a_teams_webhook_that_is_down_is_named_without_its_secret_path() -> None:
    url = closed_port().replace("/hook", "/webhookb2/secret-part")
    with pytest.raises(DeliveryError) as failure:
        TeamsChannel(url, timeout_s=1).send(ALERT)
    assert "secret-part" not in str(failure.value)
    assert str(failure.value).startswith("Teams webhook http://127.0.0.1:")


def test_slack_gets_the_alert_in_its_channel_through_dagster_slack() -> None:
    with webhook_server() as server:
        channel = SlackChannel("xoxb-test", "#ocr", timeout_s=2)
        channel.client.base_url = server.url.removesuffix("hook")
        channel.send(ALERT)
    [received] = server.received
    assert received.path == "/chat.postMessage"
    assert received.headers["Authorization"] == "Bearer xoxb-test"
    assert received.body["channel"] == "#ocr"
    assert received.body["text"] == ALERT.text()


def test_half_a_slack_configuration_or_a_missing_integration_says_what_to_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    channels, problems = alert_channels(AlertConfig(slack_token="xoxb-test"))
    assert channels == [] and "OCR_ASSETS_ALERT_SLACK_CHANNEL" in problems[0]
    monkeypatch.setitem(sys.modules, "dagster_slack", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "dagster_msteams", None)
    channels, problems = alert_channels(AlertConfig(
        webhook="http://127.0.0.1:9/hook", slack_token="xoxb-test", slack_channel="#ocr",
        teams_webhook="http://127.0.0.1:9/teams"))
    assert [c.name for c in channels] == ["webhook"]
    assert problems == ["Slack alerts need dagster-slack: pip install 'ocr-assets[alerts]'",
                        "Teams alerts need dagster-msteams: pip install 'ocr-assets[alerts]'"]
