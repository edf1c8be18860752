"""The crash-and-resume harness (`crash_harness`): `ocr-assets run` killed with SIGKILL and
resumed with the same command, every promise checked after every run.

The default suite runs three trials: the run's main process killed from outside mid-OCR, a kill
inside a manifest transaction, and a kill half-way through a page write. The full harness
(every way to die, `OCR_ASSETS_CRASH_TRIALS` trials, 21 by default) runs with
`OCR_ASSETS_CRASH_HARNESS=1`; with `OCR_ASSETS_CRASH_REPORT=<file>` it writes its figures there
as JSON (the source of the table in docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ocr_assets_tests.reliability.crash_harness import KILL_MODES, run_harness

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the harness reads /proc and relies on PR_SET_PDEATHSIG")
QUICK_MODES = ("orchestrator", "manifest.commit", "atomic.partial")
FULL = os.environ.get("OCR_ASSETS_CRASH_HARNESS") == "1"


def test_quick_crash_trials_lose_nothing(tmp_path: Path) -> None:
    figures = run_harness(tmp_path, trials=len(QUICK_MODES), seed=7, modes=QUICK_MODES)

    assert figures["killed_runs"] >= len(QUICK_MODES)
    assert (figures["lost"], figures["redone_after_done"]) == (0, 0), figures
    assert figures["min_folders_per_run"] == 3, "each trial's folders share one run"


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.skipif(not FULL, reason="the full crash harness runs with "
                                     "OCR_ASSETS_CRASH_HARNESS=1 (several minutes)")
def test_full_crash_harness_loses_nothing(tmp_path: Path) -> None:
    trials = int(os.environ.get("OCR_ASSETS_CRASH_TRIALS", str(3 * len(KILL_MODES))))
    seed = int(os.environ.get("OCR_ASSETS_CRASH_SEED", "2026"))

    figures = run_harness(tmp_path, trials=trials, seed=seed)

    report = os.environ.get("OCR_ASSETS_CRASH_REPORT")
    if report:
        Path(report).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    assert trials >= 20, "the full harness is at least 20 trials"
    assert figures["killed_runs"] + figures["killed_workers"] >= trials
    assert figures["min_folders_per_run"] == 3, "each trial's folders share one run"
    assert (figures["lost"], figures["redone_after_done"]) == (0, 0), figures
