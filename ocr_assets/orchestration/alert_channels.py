"""The alert channels of a configuration: the webhook (plain Python), and Slack and Teams through
Dagster's own integrations, dagster-slack and dagster-msteams (the `alerts` extra: optional, so
a deployment without a chat tool installs neither). Each posts with the configured short
timeout."""

from __future__ import annotations

from urllib.parse import urlsplit

from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.engine.alerts.dispatch import Channel
from ocr_assets.engine.alerts.message import Alert
from ocr_assets.engine.alerts.webhook import DeliveryError, WebhookChannel, redacted

EXTRA = "pip install 'ocr-assets[alerts]'"


class SlackChannel:
    """A Slack channel, through dagster-slack's client (slack_sdk's WebClient)."""

    name = "slack"

    def __init__(self, token: str, channel: str, timeout_s: float) -> None:
        from dagster_slack import SlackResource

        self.channel = channel
        self.client = SlackResource(token=token).get_client()
        self.client.timeout = timeout_s

    def send(self, alert: Alert) -> None:
        self.client.chat_postMessage(channel=self.channel, text=alert.text())


class TeamsChannel:
    """A Microsoft Teams channel's incoming webhook, through dagster-msteams' client and its
    cards (the legacy connector card, or an adaptive card for Workflows webhooks)."""

    name = "teams"

    def __init__(self, hook_url: str, timeout_s: float) -> None:
        from dagster_msteams import MSTeamsResource

        self.hook_url = hook_url
        self.client = MSTeamsResource(hook_url=hook_url, timeout=timeout_s).get_client()

    def send(self, alert: Alert) -> None:
        """Post the alert as a card; `DeliveryError` without the hook's secret path (requests
        puts the whole URL in its messages) when Teams does not take it."""
        from dagster_msteams.adaptive_card import AdaptiveCard
        from dagster_msteams.card import Card
        from requests import RequestException

        card = Card() if self.client.is_legacy_webhook() else AdaptiveCard()
        card.add_attachment(text_message=alert.text())
        try:
            self.client.post_message(card.payload)
        except RequestException as exc:
            secret = urlsplit(self.hook_url).path
            raise DeliveryError(f"Teams webhook {redacted(self.hook_url)}: {type(exc).__name__}: "
                                f"{str(exc).replace(secret, '/...')}") from None


def alert_channels(config: AlertConfig) -> tuple[list[Channel], list[str]]:
    """The configured channels, and a line for each one that is configured but cannot be
    used (its integration is not installed, its settings are half there)."""
    channels: list[Channel] = []
    problems: list[str] = []
    if config.webhook:
        channels.append(WebhookChannel(config.webhook, config.timeout_s))
    if config.slack_token or config.slack_channel:
        if not (config.slack_token and config.slack_channel):
            problems.append("Slack alerts need both OCR_ASSETS_ALERT_SLACK_TOKEN and "
                            "OCR_ASSETS_ALERT_SLACK_CHANNEL; set the missing one")
        else:
            try:
                channels.append(SlackChannel(config.slack_token, config.slack_channel,
                                             config.timeout_s))
            except ImportError:
                problems.append(f"Slack alerts need dagster-slack: {EXTRA}")
    if config.teams_webhook:
        try:
            channels.append(TeamsChannel(config.teams_webhook, config.timeout_s))
        except ImportError:
            problems.append(f"Teams alerts need dagster-msteams: {EXTRA}")
    return channels, problems
