"""The progress bar of a command's runs (pages, rate, ETA), fed by polling the manifest."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr_assets.engine.manifest import Manifest


class Progress:
    """A progress bar (pages, rate, ETA) fed by polling the manifest, the source of truth.

    Folders run one after the other, so a poll counts only the folder being run (one count
    query over its rows) and adds the pages the folders before it finished, counted once when
    the next one started: a poll costs the same with the hundredth folder as with the first.
    A page counts when it became done or failed after the bar started: in this command."""

    def __init__(self, total: int, manifest: Manifest) -> None:
        from tqdm import tqdm

        self.manifest = manifest
        self.bar = tqdm(total=total, unit="page", disable=total == 0 or None,
                        dynamic_ncols=True)
        self.started = time.time()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: str | None = None
        self._finished_before = 0
        """Pages finished in this command in the folders watched before the current one."""
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def watch(self, key: str) -> None:
        """Count `key`'s pages from now on; the folder watched until now is finished (each
        folder is watched once)."""
        with self._lock:
            if self._current is not None:
                self._finished_before += self.manifest.finished_since(self._current,
                                                                      self.started)
            self._current = key

    def finished_pages(self) -> int:
        with self._lock:
            current = (self.manifest.finished_since(self._current, self.started)
                       if self._current is not None else 0)
            return self._finished_before + current

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.n = min(self.bar.total, self.finished_pages())
            self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bar.n = min(self.bar.total, self.finished_pages())
        self.bar.close()
