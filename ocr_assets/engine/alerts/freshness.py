"""When the corpus is overdue: folders were OCRed after its last build, and the first of them
has waited longer than the freshness window.

The corpus's Dagster freshness policy (`defs/corpus/assets.py`) shows its age in the UI: failing
once the last build is older than the window, whether or not anything changed since (an archive
where nothing happened is harmless: there is nothing to add). The alert is about what needs a
person: a folder's new text that has waited longer than the window for a corpus build (a corpus
sensor stopped, corpus runs failing or stuck in the queue). Every overdue alert is also a
failing freshness state in the UI, since the build is older than the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocr_assets.engine.alerts.message import CORPUS_OVERDUE, Alert, FolderIssue


@dataclass(frozen=True)
class CorpusFreshness:
    """The corpus's last build and the folder materializations after it."""

    window_s: float
    built_at: float | None
    """When the corpus was last built; None when never."""
    build_id: int | None
    """The build's event storage id (None when never built): names the build in the alert's
    key, so each stale build is alerted once."""
    first_change_at: float | None
    """The oldest folder materialization after the build; None when none."""
    waiting: tuple[str, ...] = ()
    """The partitions materialized after the build."""

    def overdue(self, now: float) -> bool:
        return self.first_change_at is not None and now - self.first_change_at > self.window_s

    def alert(self, now: float, url: str | None) -> Alert:
        hours = (now - (self.first_change_at or now)) / 3600
        built = ("never built" if self.built_at is None
                 else f"last built {(now - self.built_at) / 3600:.1f} h ago")
        return Alert(
            key=f"{CORPUS_OVERDUE}:{self.build_id if self.build_id is not None else 'never'}",
            kind=CORPUS_OVERDUE,
            what=(f"the corpus is {built}, and {len(self.waiting)} folders OCRed since have "
                  f"waited up to {hours:.1f} h for it (limit {self.window_s / 3600:g} h); check "
                  "that the corpus sensor is running and corpus_job's last runs, or run "
                  "`ocr-assets run`"),
            folders=tuple(FolderIssue(key, None, "OCRed after the corpus's last build")
                          for key in self.waiting[:50]),
            counts={"folders_waiting": len(self.waiting),
                    "hours_waiting": round(hours, 1)},
            url=url)
