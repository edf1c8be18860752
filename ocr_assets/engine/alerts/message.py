"""What one alert says: the JSON body a webhook receives, and the line Slack and Teams show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RUN_FAILED = "run_failed"
BLOCKING_CHECK_FAILED = "blocking_check_failed"
FAILED_SHARE = "failed_share"
CORPUS_OVERDUE = "corpus_overdue"
KINDS = (RUN_FAILED, BLOCKING_CHECK_FAILED, FAILED_SHARE, CORPUS_OVERDUE)
TITLES = {RUN_FAILED: "run failed", BLOCKING_CHECK_FAILED: "blocking check failed",
          FAILED_SHARE: "folder over its failed-page share", CORPUS_OVERDUE: "corpus overdue"}
SOURCE = "ocr-assets"


@dataclass(frozen=True)
class FolderIssue:
    """One folder an alert is about, and why."""

    partition: str
    folder: str | None
    """The folder's name as on disk; None when it is no longer registered."""
    why: str


@dataclass(frozen=True)
class Alert:
    """One event that needs a person. `key` names the event, not the message: the same event
    seen twice (a sensor evaluated again, the command line and the daemon) has the same key
    and is sent once (`dispatch`)."""

    key: str
    kind: str
    what: str
    """What failed, in a sentence that says what to do where it can."""
    folders: tuple[FolderIssue, ...] = ()
    counts: Mapping[str, int | float] = field(default_factory=dict)
    run_id: str | None = None
    job: str | None = None
    url: str | None = None
    """The run's (or the asset's) page in the UI; None when `OCR_ASSETS_UI_URL` is not set."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; one of {KINDS}")

    def body(self) -> dict[str, Any]:
        """The webhook's JSON body. `folder` and `partition` name the folder when the alert is
        about one (null otherwise); `folders` lists every folder it is about."""
        one = self.folders[0] if len(self.folders) == 1 else None
        return {
            "source": SOURCE,
            "kind": self.kind,
            "title": TITLES[self.kind],
            "what": self.what,
            "folder": one.folder if one else None,
            "partition": one.partition if one else None,
            "folders": [{"folder": f.folder, "partition": f.partition, "why": f.why}
                        for f in self.folders],
            "counts": dict(self.counts),
            "run_id": self.run_id,
            "job": self.job,
            "url": self.url,
            "key": self.key,
        }

    def text(self) -> str:
        """The alert as one short message, for a chat channel."""
        where = ""
        if len(self.folders) == 1:
            folder = self.folders[0]
            where = f" in folder {folder.folder or folder.partition!r}"
        elif self.folders:
            where = f" in {len(self.folders)} folders"
        counts = ", ".join(f"{name} {_number(name, value)}" for name, value in self.counts.items())
        lines = [f"{SOURCE}: {TITLES[self.kind]}{where}: {self.what}"]
        if counts:
            lines.append(counts)
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)


def _number(name: str, value: int | float) -> str:
    return f"{value:.1%}" if name.endswith("share") else f"{value:g}"
