"""Deliver alerts once each: claimed in the ledger first, then sent to every channel.

The ledger is the manifest (`claim_alert`): shared by every process of a project (the command
line, the daemon's sensor, another machine's), durable, and atomic, so of two processes that see
the same event only one sends it. A channel that fails (down, slow, refusing) is given up for the
rest of the batch after its first failure: a batch costs at most one timeout per channel, and a
run is never held up longer. What could not be delivered is recorded with why, not retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ocr_assets.engine.alerts.message import Alert


class Channel(Protocol):
    """Somewhere alerts go; `send` raises when it did not take one."""

    name: str

    def send(self, alert: Alert) -> None: ...


class AlertLedger(Protocol):
    def claim_alert(self, key: str, kind: str, body: str) -> bool: ...
    def record_alert(self, key: str, delivered: Sequence[str], error: str) -> None: ...


@dataclass
class Delivery:
    """What one batch did: alerts sent, alerts already sent before, and failures."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    """alert key -> why a channel did not take it."""

    def summary(self) -> str:
        text = f"{len(self.sent)} alerts sent, {len(self.already_sent)} sent before"
        if self.failures:
            text += f", {len(self.failures)} not delivered everywhere"
        return text


def deliver(alerts: Iterable[Alert], channels: Sequence[Channel],
            ledger: AlertLedger) -> Delivery:
    """Send each alert not claimed before to every channel; never raises for a channel."""
    delivery = Delivery()
    if not channels:
        return delivery
    down: dict[str, str] = {}
    for alert in alerts:
        if not ledger.claim_alert(alert.key, alert.kind, json.dumps(alert.body())):
            delivery.already_sent.append(alert.key)
            continue
        delivered, errors = [], []
        for channel in channels:
            if channel.name in down:
                errors.append(f"{channel.name}: not tried, it failed earlier in this batch "
                              f"({down[channel.name]})")
                continue
            try:
                channel.send(alert)
            except Exception as exc:  # noqa: BLE001 - a channel's failure is recorded, never raised
                down[channel.name] = f"{type(exc).__name__}: {exc}"
                errors.append(f"{channel.name}: {down[channel.name]}")
            else:
                delivered.append(channel.name)
        ledger.record_alert(alert.key, delivered, "; ".join(errors))
        if delivered:
            delivery.sent.append(alert.key)
        if errors:
            delivery.failures[alert.key] = "; ".join(errors)
    return delivery
