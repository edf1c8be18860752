"""The progress bar of a command's runs (pages, rate, ETA), fed by polling the manifest."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr_assets.engine.manifest import Manifest


class Progress:
    """A progress bar (pages, rate, ETA) fed by polling the manifest, the source of truth.

    Runs go one after the other, so a poll counts only the folders of the run going on (one
    count query over their rows) and adds the pages the runs before it finished, counted once
    when the next one started: a poll costs the same with the hundredth run as with the first.
    A page counts when it became done or failed after the bar started: in this command."""

    def __init__(self, total: int, manifest: Manifest) -> None:
        from tqdm import tqdm

        self.manifest = manifest
        self.bar = tqdm(total=total, unit="page", disable=total == 0 or None,
                        dynamic_ncols=True)
        self.started = time.time()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: list[str] = []
        self._finished_before = 0
        """Pages finished in this command in the folders watched before the current ones."""
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def watch(self, keys: list[str]) -> None:
        """Count the pages of the folders `keys` (the next run's) from now on; those watched
        until now are finished (each folder is watched once)."""
        with self._lock:
            self._finished_before += self.manifest.finished_since(self._current, self.started)
            self._current = list(keys)

    def finished_pages(self) -> int:
        with self._lock:
            return self._finished_before + self.manifest.finished_since(self._current,
                                                                        self.started)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.n = min(self.bar.total, self.finished_pages())
            self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bar.n = min(self.bar.total, self.finished_pages())
        self.bar.close()
