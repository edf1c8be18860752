"""When Dagster runs things on its own: the sensors' intervals, the nightly cron, whether the
folder sensor starts on, how many folders a run takes, a run's time cap, the OCR step's retry
policy. Read from `OCR_ASSETS_*` variables when the
definitions load (never at import), since Dagster fixes them on the definitions themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg

from ocr_assets.engine.config import read_environ, setting


@dataclass(frozen=True)
class AutomationConfig:
    folder_sensor: bool = setting(True, "FOLDER_SENSOR", "Whether the folder sensor starts "
                                  "running; `false` is the nightly-only mode (the nightly "
                                  "ingestion registers and runs new folders). A state set in "
                                  "the UI wins.")
    sensor_interval_s: int = setting(30, "SENSOR_INTERVAL_S", "Seconds between two ticks of "
                                     "the folder sensor.")
    corpus_interval_s: int = setting(60, "CORPUS_INTERVAL_S", "Seconds between two ticks of "
                                     "the corpus sensor.")
    corpus_max_age_s: int = setting(900, "CORPUS_MAX_AGE_S", "While folder runs go on, the "
                                    "corpus is rebuilt at most this long after its last build.")
    corpus_freshness_h: float = setting(24.0, "CORPUS_FRESHNESS_H", "The corpus's freshness "
                                        "policy: hours its last build may be old (the UI "
                                        "shows it failing after), and how long an OCRed "
                                        "folder may wait for a build before an alert.")
    alert_interval_s: int = setting(30, "ALERT_INTERVAL_S", "Seconds between two ticks of "
                                    "the alert sensor.")
    nightly_cron: str = setting("0 2 * * *", "NIGHTLY_CRON", "When the nightly ingestion runs.")
    timezone: str = setting("UTC", "TIMEZONE", "The nightly cron's timezone.")
    folders_per_run: int = setting(200, "FOLDERS_PER_RUN", "At most this many folders in one "
                                   "run of a backfill, a sensor's burst or the nightly "
                                   "schedule: one run reads many small folders through one "
                                   "pool without a run's set-up for each.")
    run_time_floor_s: int = setting(1800, "RUN_TIME_FLOOR_S", "A folder run's time cap "
                                    "(`dagster/max_runtime`): this many seconds, plus "
                                    "RUN_TIME_PER_PAGE_S for each page of its folders; 0 sets "
                                    "no cap.")
    run_time_per_page_s: float = setting(30.0, "RUN_TIME_PER_PAGE_S", "Seconds a folder run's "
                                         "time cap allows each page of its folders.")
    step_retries: int = setting(2, "STEP_RETRIES", "Retries of an OCR step that failed for a "
                                "transient cause.")
    step_retry_delay_s: float = setting(10.0, "STEP_RETRY_DELAY_S", "The first retry's delay; "
                                        "each next one doubles it, plus or minus the delay.")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AutomationConfig:
        return read_environ(cls, environ)

    def corpus_freshness_policy(self) -> dg.FreshnessPolicy:
        """The corpus's freshness policy: failing once its last build is older than
        `corpus_freshness_h` (Dagster's freshness daemon evaluates it; the UI shows it)."""
        return dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=self.corpus_freshness_h))

    def max_runtime_s(self, pages: int) -> int | None:
        """The run-time cap of a run over about `pages` pages, in whole seconds (None: no
        cap). Run monitoring ends a run that is still going after it, so a run that hangs
        frees its pool slot and the queue instead of holding them for good; the allowance per
        page is generous (a dense page takes 3-4 s of one core, and a run reads several at
        once), since ending a sound run costs a rerun."""
        if self.run_time_floor_s <= 0:
            return None
        return self.run_time_floor_s + round(max(0, pages) * self.run_time_per_page_s)

    def step_retry_policy(self) -> dg.RetryPolicy:
        """For an OCR step as a whole, against transient failures: whatever escapes the step is
        one, an `OSError` above all (a disk full or unreachable for a moment, an engine or
        worker pool that could not start a process) or a database error of the manifest (a
        connection dropped mid-statement). Retry n waits `(2^n - 1) * delay`, plus or minus
        `delay` (0-20 s, then 20-40 s by default).

        Never retried: bad pages (they never raise; they are recorded failed and reported), a
        configuration or installation problem (the engine raises `RuntimeError` or `ValueError`:
        a missing Tesseract, language or package, a bad `folder.toml`; it becomes
        `dg.Failure(allow_retries=False)`), a missing scan folder, and a failed blocking check
        (checks have no retry policy)."""
        return dg.RetryPolicy(max_retries=self.step_retries, delay=self.step_retry_delay_s,
                              backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
