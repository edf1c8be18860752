"""Where alerts go and when a folder is worth one: `OCR_ASSETS_ALERT_*` and `OCR_ASSETS_UI_URL`.

Kept apart from `ProjectConfig` on purpose: that one travels as every run's config and is shown
in the UI, and a Slack token or a webhook URL (which is a secret too: whoever has it can post)
must not be. It is read where the process reads its environment (the definitions' loading,
the command line), never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocr_assets.engine.config import read_environ, setting

DEFAULT_ALERT_FAILED_SHARE = 0.1
"""A folder with more than a tenth of its pages failed is worth a look long before its blocking
limit (`OCR_ASSETS_MAX_FAILED_SHARE`, half) holds it out of the corpus."""


@dataclass(frozen=True)
class AlertConfig:
    webhook: str = setting("", "ALERT_WEBHOOK", "URL that each alert is POSTed to as JSON "
                           "(folder, partition, what failed, the counts, the run's link); empty: "
                           "no webhook.")
    ui_url: str = setting("", "UI_URL", "The Dagster UI's address as people reach it (e.g. "
                          "`http://ocr-host:3000`): alerts link to the run there.")
    failed_share: float = setting(DEFAULT_ALERT_FAILED_SHARE, "ALERT_FAILED_SHARE",
                                  "A folder whose share of failed pages is above this gets an "
                                  "alert (once per count of failed pages), below the blocking "
                                  "limit OCR_ASSETS_MAX_FAILED_SHARE.")
    timeout_s: float = setting(3.0, "ALERT_TIMEOUT_S", "Seconds a channel may take to take an "
                               "alert; a channel that is down or slow is given up for the rest "
                               "of the batch, so it never holds a run up longer.")
    slack_token: str = setting("", "ALERT_SLACK_TOKEN", "A Slack bot token: alerts are posted "
                               "through dagster-slack (`pip install ocr-assets[alerts]`).")
    slack_channel: str = setting("", "ALERT_SLACK_CHANNEL", "The Slack channel of the alerts, "
                                 "e.g. `#digitisation`.")
    teams_webhook: str = setting("", "ALERT_TEAMS_WEBHOOK", "A Microsoft Teams incoming "
                                 "webhook: alerts are posted through dagster-msteams "
                                 "(`pip install ocr-assets[alerts]`).")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AlertConfig:
        return read_environ(cls, environ)

    @property
    def configured(self) -> bool:
        """Whether any channel is set: without one, no event is even looked at."""
        return bool(self.webhook or self.slack_token or self.teams_webhook)

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the UI, when its address is known."""
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}" if self.ui_url else None

    def asset_url(self, asset: str) -> str | None:
        """The asset's page in the UI, when its address is known."""
        return f"{self.ui_url.rstrip('/')}/assets/{asset}" if self.ui_url else None
