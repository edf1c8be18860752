"""The webhook channel: each alert POSTed as JSON, with a short timeout.

urllib of the standard library: one POST needs no client library, and nothing here may wait
longer than the timeout for a receiver that is down or slow.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ocr_assets.engine.alerts.message import Alert


class DeliveryError(RuntimeError):
    """A channel did not take an alert; the message says which, where and why."""


def redacted(url: str) -> str:
    """The receiver's scheme and host only: a webhook's path is its secret (whoever has it can
    post), and messages and logs must not carry it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/..."


def post_json(url: str, body: object, timeout_s: float) -> None:
    """POST `body` as JSON to `url`; `DeliveryError` unless it answers 2xx within
    `timeout_s` (for the connection, and again for the answer)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "ocr-assets alerts"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {redacted(url)} answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryError(f"webhook {redacted(url)} did not take the alert within "
                            f"{timeout_s:g} s: {reason}") from exc


class WebhookChannel:
    """Alerts as JSON bodies (`Alert.body`) to one URL."""

    name = "webhook"

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, alert: Alert) -> None:
        post_json(self.url, alert.body(), self.timeout_s)
