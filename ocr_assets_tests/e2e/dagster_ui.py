"""Driving the real Dagster UI in tests: the project's UI command on a free port, GraphQL
look-ups for what a test must wait on, and Debian's Chromium through Playwright.

Playwright's own browser download does not work everywhere (no network but package
registries), so the tests drive the system's Chromium (`chromium` from apt). Without it the
browser tests skip, saying why; with `OCR_ASSETS_REQUIRE_BROWSER=1` (set by CI) they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UI_COMMAND = REPO_ROOT / "scripts" / "ui.sh"
REQUIRE_BROWSER_ENV = "OCR_ASSETS_REQUIRE_BROWSER"
CHROMIUM_ENV = "OCR_ASSETS_CHROMIUM"
SCREENSHOTS_ENV = "OCR_ASSETS_SCREENSHOTS"
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests often run as root in containers, where the sandbox cannot start
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-background-networking",  # no update checks, safe browsing or metrics calls
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
VIEWPORT = {"width": 1400, "height": 900}
REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": "ocr_assets"}

T = TypeVar("T")


def skip_or_fail(reason: str) -> None:
    """Skip the browser tests, or fail them when CI requires a browser."""
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_BROWSER_ENV}=1 makes this a failure")
    pytest.skip(reason)


def chromium_executable() -> Path | None:
    """`$OCR_ASSETS_CHROMIUM`, else the `chromium` on PATH (Debian's package)."""
    if os.environ.get(CHROMIUM_ENV):
        return Path(os.environ[CHROMIUM_ENV])
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(check: Callable[[], T | None], what: str, timeout: float = 120.0,
         interval: float = 0.5) -> T:
    """Call `check` until it returns something other than None; fail saying what never
    happened after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def listening_addresses(port: int) -> set[str]:
    """The local IPv4/IPv6 addresses (hex, as in /proc/net/tcp*) listening on `port`."""
    addresses = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.is_file():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}
"""127.0.0.1 and ::1 as /proc/net/tcp and tcp6 spell them."""


@dataclass
class UiServer:
    """`scripts/ui.sh` (webserver and daemon) running in its own process group."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    _log: IO[str]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            document = json.load(response)
        if document.get("errors"):
            raise AssertionError(f"GraphQL errors: {document['errors']}")
        return document["data"]

    def serving(self) -> bool | None:
        if self.process.poll() is not None:
            raise AssertionError(f"the UI command exited with {self.process.returncode}:\n"
                                 f"{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=5):
                return True
        except (urllib.error.URLError, OSError):
            return None

    def stop(self) -> None:
        """What Ctrl-C does: SIGINT to the whole group (dagster dev, webserver, daemon, code
        server, runs), then SIGKILL whatever is left after a grace period."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()


@contextmanager
def running_ui(env: dict[str, str], log_path: Path, timeout: float = 240.0) -> Iterator[UiServer]:
    """Start `scripts/ui.sh --port <free port>` with `env`; yield once it serves."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen([str(UI_COMMAND), "--port", str(port)], env=env, cwd=REPO_ROOT,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = UiServer(f"http://127.0.0.1:{port}", port, process, log_path, log)
    try:
        poll(server.serving, f"the Dagster UI to serve on port {port}", timeout=timeout)
        yield server
    finally:
        server.stop()


SENSOR_STATE = """
query SensorState($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 5) { status } } }
  }
}"""

DAEMON_HEALTH = """
{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"""

AUTOMATION = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { id name sensorState { status } }
    schedules { id name scheduleState { status } } } } } }"""

STOP_SENSOR = """
mutation StopSensor($id: String!) { stopSensor(id: $id) { __typename } }"""

STOP_SCHEDULE = """
mutation StopSchedule($id: String!) { stopRunningSchedule(id: $id) { __typename } }"""


def sensor_state(server: UiServer, name: str) -> dict[str, Any]:
    selector = {**REPOSITORY, "sensorName": name}
    result = server.graphql(SENSOR_STATE, {"selector": selector})["sensorOrError"]
    assert result["__typename"] == "Sensor", result
    return result["sensorState"]


def unhealthy_daemons(server: UiServer) -> list[str]:
    statuses = server.graphql(DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]


def stop_automation(server: UiServer) -> list[str]:
    """Stop every running sensor and schedule, so only the test's clicks launch runs."""
    stopped = []
    for repository in server.graphql(AUTOMATION)["repositoriesOrError"]["nodes"]:
        for sensor in repository["sensors"]:
            if sensor["sensorState"]["status"] == "RUNNING":
                server.graphql(STOP_SENSOR, {"id": sensor["id"]})
                stopped.append(sensor["name"])
        for schedule in repository["schedules"]:
            if schedule["scheduleState"]["status"] == "RUNNING":
                server.graphql(STOP_SCHEDULE, {"id": schedule["id"]})
                stopped.append(schedule["name"])
    return stopped


def screenshot(page: Any, name: str) -> None:
    """Save `<name>.png` into `$OCR_ASSETS_SCREENSHOTS` (set by `scripts/screenshots.sh`)."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
