"""A cluster of hosts on this machine (`scripts/cluster.sh`): network namespaces, a head host
with dagster-webserver and dagster-daemon (queued run coordinator, run retries), Celery workers
on RabbitMQ, PostgreSQL for the instance and the manifest. One folder read as shards over two
OCR hosts, submitted through the webserver, while four faults hit it in turn (see the test): the
run is retried once by the daemon and then succeeds (its last step's counts invariant included),
both hosts read pages, every page is done exactly once, both disturbed hosts rejoin, and nothing
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
PAGES = 16


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
@pytest.mark.postgres  # it restarts the server: never beside another PostgreSQL test
def test_a_cluster_survives_a_kill_a_run_interrupt_a_cut_and_a_postgres_restart() -> None:
    """All four faults in one run (one cluster's set-up; 80-115 s here, with the machine's
    load), each once the run settled after the one before: every process of ocr1 SIGKILLed
    after a quarter of the pages (its worker back 3 s later; the broker redelivers its step
    within the run); the head's run worker sent SIGTERM after a third (the run fails, the
    daemon's run retries start a retry run from the failure, which reads only the pages the
    manifest still lacks); ocr2's veth down after half, up 12 s later (the broker drops it at
    its heartbeat, its pages are taken when their leases expire, its late records are
    refused); the PostgreSQL server restarted after two thirds."""
    result, log = _cluster("--hosts", "2", "--pages", str(PAGES), "--kill-one",
                           "--interrupt-run", "--cut-one", "--cut-seconds", "12",
                           "--restart-postgres", "--small-pages", "--engine", fault("delay=0.5"),
                           "--page-timeout", "2", "--timeout", "180")
    assert result["ok"], log[-4000:]
    assert (result["done"], result["failed"], result["duplicates"]) == (PAGES, 0, 0)
    hosts = result["hosts"]
    assert isinstance(hosts, dict) and set(hosts) == {"ocr1", "ocr2"}
    assert all(pages > 0 for pages in hosts.values()), f"every host read pages: {hosts}"
    assert result["killed"] == "ocr1" and result["rejoined"], log[-4000:]
    assert result["run_worker_interrupted"], log[-4000:]
    assert result["run_statuses"] == ["FAILURE", "SUCCESS"] and result["retried"], log[-4000:]
    assert result["cut"] == "ocr2" and result["cut_rejoined"], log[-4000:]
    assert result["postgres_restarted"] and "restarting PostgreSQL" in log
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "oc" + str(result["pid"]) not in namespaces + links
