"""`ocr-assets run` alerts on its own runs, with no daemon: the folder over its failed-page share
reaches the webhook, and a webhook that answers only after 30 s holds the command up by the
alert timeout (1 s here) at most, and changes neither its runs nor its exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.doubles.webhook_server import webhook_server
from ocr_assets_tests.helpers import REPO

PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "phototest.tif"
SLOW_S = 30


def test_run_alerts_on_its_runs_and_a_slow_webhook_never_holds_it_up(tmp_path: Path) -> None:
    folder = tmp_path / "scans" / "box-bad"
    folder.mkdir(parents=True)
    for n in (1, 2, 3):
        shutil.copy(PAGE, folder / f"page_{n}.tif")
    (folder / "page_4.png").write_bytes(b"not an image at all")
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    with webhook_server(delay_s=SLOW_S) as server:
        env.update({"OCR_ASSETS_ALERT_WEBHOOK": server.url, "OCR_ASSETS_ALERT_TIMEOUT_S": "1",
                    "OCR_ASSETS_ENGINE": fault(), "OCR_ASSETS_WORKERS": "1"})
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "ocr_assets.cli", "run", "--data", str(tmp_path / "data"),
             "--scans", str(tmp_path / "scans")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < SLOW_S, f"the command waited for the slow webhook ({elapsed:.0f} s)"
    [body] = server.bodies()
    assert (body["kind"], body["partition"]) == ("failed_share", "box-bad")
    assert body["counts"]["failed"] == 1 and body["url"] is None
    assert "alert failed_share:box-bad:1:4 not delivered everywhere: webhook: " in result.stderr
    assert "did not take the alert within 1 s" in result.stderr
    assert "done: 3 pages, failed: 1" in result.stdout
