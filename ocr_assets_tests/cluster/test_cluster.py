"""A cluster of hosts on this machine (`scripts/cluster.sh`): network namespaces, Celery workers
on RabbitMQ, PostgreSQL for the instance and the manifest. One folder read as shards over two
OCR hosts while every process of one of them is killed (SIGKILL) mid-run and brought back, and
the PostgreSQL server (instance and manifest) is restarted: the run succeeds (its last step's
counts invariant included), both hosts read pages, every page is done exactly once, and nothing
of the cluster is left behind.

Needs root, `ip netns`, PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 and
dagster-celery: skipped with the reason when any is missing, unless OCR_ASSETS_REQUIRE_CLUSTER=1
(set by CI), which makes it a failure. Pages are tiny and read by the fault engine's fake
Tesseract (0.5 s each), so the test measures the distribution, not the OCR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ocr_assets_tests.doubles.fault_engine import fault
from ocr_assets_tests.helpers import REPO, importing_the_tests

CANNOT_BUILD = 3
"""`cluster.py`'s exit status when this machine cannot host a cluster (it says why)."""
PAGES = 12


def _cluster(*options: str) -> tuple[dict[str, object], str]:
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "cluster.py"), *options],
        capture_output=True, text=True, timeout=240, env=importing_the_tests(dict(os.environ)))
    if completed.returncode == CANNOT_BUILD:
        reason = completed.stderr.strip().splitlines()[-1]
        if os.environ.get("OCR_ASSETS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"{reason}; OCR_ASSETS_REQUIRE_CLUSTER=1 makes this a failure")
        pytest.skip(reason)
    lines = completed.stdout.strip().splitlines()
    assert lines, f"no result (exit {completed.returncode}): {completed.stderr[-4000:]}"
    return json.loads(lines[-1]), completed.stderr


@pytest.mark.slow
def test_a_host_killed_and_postgres_restarted_mid_run_lose_and_duplicate_no_page() -> None:
    """Both faults in one run (one cluster's set-up, ~30 s): every process of ocr1 killed
    after a quarter of the pages, the PostgreSQL server restarted after half of them."""
    result, log = _cluster("--hosts", "2", "--pages", str(PAGES), "--kill-one",
                           "--restart-postgres", "--small-pages", "--engine", fault("delay=0.5"),
                           "--page-timeout", "2")
    assert result["ok"], log[-4000:]
    assert (result["done"], result["failed"], result["duplicates"]) == (PAGES, 0, 0)
    hosts = result["hosts"]
    assert isinstance(hosts, dict) and set(hosts) == {"ocr1", "ocr2"}
    assert all(pages > 0 for pages in hosts.values()), f"every host read pages: {hosts}"
    assert result["killed"] == "ocr1" and "rejoins the cluster" in log
    assert result["postgres_restarted"] and "restarting PostgreSQL" in log
    leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "oc" + str(result["pid"]) not in leftovers
