"""A cluster of hosts on one machine: network namespaces, each a host with its own processes,
host name and DAGSTER_HOME, sharing only what real hosts share: PostgreSQL (the Dagster
instance and the page manifest), RabbitMQ (the Celery broker), and the scans and outputs (this
machine's filesystem stands in for NFS). The head host runs a code server, dagster-webserver and
dagster-daemon (queued run coordinator, run retries); the OCR hosts run Celery workers. One
folder of P pages is submitted through the webserver as `ocr_sharded_job`, whose shards the
Celery executor spreads over the OCR hosts; the script follows the run and any retry runs the
daemon starts for it. Faults (`Faults`): `--kill-one` kills every process of one OCR host
(SIGKILL) and brings it back, `--interrupt-run` sends SIGTERM to the head's run worker (the run
fails and is retried), `--cut-one` takes an OCR host's veth down and up again,
`--restart-postgres` restarts the database server. Run as root (`ip netns`);
`scripts/cluster.sh` is the way in.

Each host reaches the servers over its veth pair: a TCP forwarder in this process listens on
the host end's address and connects to 127.0.0.1, so no server's configuration changes (and
RabbitMQ's `guest`, allowed from localhost only, works). What a run creates is named after this
process (`oc<pid>...`: namespaces, veths, the database `ocr_cluster_<pid>_<hex>`, the RabbitMQ
vhost of the same name) and removed at the end; leftovers of a run that was killed are removed
by the next one, once their process is gone.

The last line printed is one JSON object: {"hosts": {host: pages it recorded done}, "pages": P,
"done": D, "failed": F, "duplicates": K (pages recorded done more than once), "run_ids": [...],
"runs": R (the submitted run and its retries), "retried": bool, ...}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import yaml
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
POSTGRES = ("127.0.0.1", 5432)
RABBITMQ = ("127.0.0.1", 5672)
NAME = re.compile(r"^oc(\d+)")
DB_NAME = re.compile(r"^ocr_cluster_(\d+)_[0-9a-f]+$")
FIXTURE_PAGES = REPO / "ocr_assets_tests" / "fixtures" / "pages"
WEBSERVER_PORT = 3000
CODE_SERVER_PORT = 4000
BROKER_HEARTBEAT_S = 4
"""The workers' AMQP heartbeat: RabbitMQ drops a worker cut off the network after about two
missed beats and hands its unacknowledged step to another worker (Celery's default, 120 s,
would hold the step for minutes)."""
ROOT_RUN_TAG, PARENT_RUN_TAG, WILL_RETRY_TAG = ("dagster/root_run_id", "dagster/parent_run_id",
                                                "dagster/will_retry")
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- what the servers must offer, and the leftovers of killed runs --------------------------

def preflight() -> str | None:
    """Why a cluster cannot be built here, or None."""
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    for tool in ("ip", "unshare", "rabbitmqctl"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    probe = f"ocprobe{os.getpid()}"
    if run("ip", "netns", "add", probe, check=False).returncode != 0:
        return "`ip netns add` fails here"
    run("ip", "netns", "del", probe, check=False)
    for name, address in (("PostgreSQL", POSTGRES), ("RabbitMQ", RABBITMQ)):
        try:
            socket.create_connection(address, timeout=3).close()
        except OSError as exc:
            return f"{name} does not answer on {address[0]}:{address[1]} ({exc})"
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        return "dagster-celery is not installed (pip install 'ocr-assets[cluster]')"
    return None


def _admin() -> psycopg2.extensions.connection:
    db = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="postgres",
                          connect_timeout=5)
    db.autocommit = True
    return db


def clean_stale() -> None:
    """Remove the namespaces, veths, databases and vhosts of cluster runs whose process is
    gone (a run killed before its own clean-up)."""
    for line in run("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = NAME.match(name)
        if match and not _alive(int(match.group(1))):
            run("ip", "netns", "del", name, check=False)
    for line in run("ip", "-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        match = NAME.match(name)
        if match and not _alive(int(match.group(1))):
            run("ip", "link", "del", name, check=False)
    with contextlib.closing(_admin()) as admin:
        cursor = admin.cursor()
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ocr_cluster_%'")
        for (name,) in cursor.fetchall():
            match = DB_NAME.match(name)
            if match and not _alive(int(match.group(1))):
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
    for name in run("rabbitmqctl", "-q", "list_vhosts").stdout.split():
        match = DB_NAME.match(name)
        if match and not _alive(int(match.group(1))):
            run("rabbitmqctl", "-q", "delete_vhost", name, check=False)


# --- the forwarder: a host's veth address to the servers on 127.0.0.1 ------------------------

class Forwarder:
    """TCP forwarders on the host ends of the veths, to PostgreSQL and RabbitMQ on loopback.
    A host killed closes its sockets; the forwarder closes the server side too, so the broker
    sees the worker's connection end and hands its unfinished step to another worker."""

    def __init__(self) -> None:
        self._servers: list[socket.socket] = []
        self._stop = threading.Event()

    def listen(self, address: str, port: int, target: tuple[str, int]) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(64)
        server.settimeout(0.5)
        self._servers.append(server)
        threading.Thread(target=self._accept, args=(server, target), daemon=True).start()

    def _accept(self, server: socket.socket, target: tuple[str, int]) -> None:
        while not self._stop.is_set():
            try:
                client, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def close(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.close()


# --- hosts -----------------------------------------------------------------------------------

@dataclass
class Host:
    name: str
    namespace: str
    address: str
    """The host end of its veth: where it reaches the servers."""
    guest: str
    """Its own address, on the other end of the veth: where others reach it."""
    link: str
    """The host end of its veth (in this machine's namespace): what `cut` takes down."""
    home: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, log: Path, *command: str) -> subprocess.Popen[bytes]:
        """A process of this host: in its namespace, under its own host name (a UTS namespace:
        leases name hosts, and a process on another host is never declared dead from here),
        in a session of the host's own (kill-one kills the session)."""
        with open(log, "ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, "unshare", "--uts", "sh", "-c",
                 'hostname "$0" && exec "$@"', self.name, *command],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.home)
        self.processes.append(process)
        return process

    def cut(self, down: bool) -> None:
        """Take the host's veth down (the host is cut off: its connections hang, nothing
        closes them) or up again."""
        run("ip", "link", "set", self.link, "down" if down else "up")

    def kill(self) -> None:
        """SIGKILL every process of the host: its sessions' whole process groups."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            process.wait()
        self.processes.clear()


@dataclass
class Cluster:
    ident: str
    work: Path
    hosts: list[Host] = field(default_factory=list)
    forwarder: Forwarder = field(default_factory=Forwarder)
    links: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        return self.ident

    def add_host(self, n: int, name: str, subnet: int, env: dict[str, str]) -> Host:
        namespace = f"oc{os.getpid()}n{n}"
        outer, inner = f"oc{os.getpid()}a{n}", f"oc{os.getpid()}b{n}"
        address, guest = f"10.{subnet}.{n}.1", f"10.{subnet}.{n}.2"
        run("ip", "netns", "add", namespace)
        run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        self.links.append(outer)
        run("ip", "link", "set", inner, "netns", namespace)
        run("ip", "addr", "add", f"{address}/24", "dev", outer)
        run("ip", "link", "set", outer, "up")
        for command in (("ip", "addr", "add", f"{guest}/24", "dev", inner),
                        ("ip", "link", "set", inner, "up"), ("ip", "link", "set", "lo", "up")):
            run("ip", "netns", "exec", namespace, *command)
        self.forwarder.listen(address, POSTGRES[1], POSTGRES)
        self.forwarder.listen(address, RABBITMQ[1], RABBITMQ)
        home = self.work / "hosts" / name
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text(instance_yaml())
        # No user in the URL: py-amqp then logs in as RabbitMQ's default local account.
        broker = f"pyamqp://{address}:{RABBITMQ[1]}/{self.ident}"
        (home / "dagster_celery_config.py").write_text(
            f"broker_url = {broker!r}\nresult_backend = 'rpc://'\n"
            "task_acks_late = True\ntask_reject_on_worker_lost = True\n"
            f"worker_prefetch_multiplier = 1\nbroker_heartbeat = {BROKER_HEARTBEAT_S}\n")
        host_env = {**env, "DAGSTER_HOME": str(home), "PGHOST": address,
                    "OCR_ASSETS_CELERY_BROKER": broker,
                    "PYTHONPATH": f"{REPO}:{home}", "PATH": f"{BIN}:{env['PATH']}"}
        host = Host(name, namespace, address, guest, outer, home, host_env)
        self.hosts.append(host)
        return host

    def teardown(self) -> None:
        for host in self.hosts:
            host.kill()
            run("ip", "netns", "del", host.namespace, check=False)
        for link in self.links:
            run("ip", "link", "del", link, check=False)
        self.forwarder.close()
        with contextlib.closing(_admin()) as admin:
            admin.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.database)))
        run("rabbitmqctl", "-q", "delete_vhost", self.ident, check=False)


def instance_yaml() -> str:
    """`deploy/dagster.yaml` (PostgreSQL, the queued run coordinator, run retries, run
    monitoring), its queue looked at every second instead of every 5 (as the project's own
    `dagster.yaml`): a run submitted, or a retry run, starts seconds sooner."""
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    instance["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    return yaml.safe_dump(instance, sort_keys=False)


# --- the pages, the run, the figures ---------------------------------------------------------

def make_pages(scans: Path, pages: int, small: bool) -> None:
    """One folder of `pages` pages: the shipped fixture pages, one after the other, or (with
    `small`) tiny blank images for the fake engine of the tests."""
    folder = scans / "big"
    folder.mkdir(parents=True)
    sources = sorted(FIXTURE_PAGES.glob("*.tif"))
    for n in range(pages):
        target = folder / f"page_{n + 1:05d}{'.png' if small else '.tif'}"
        if small:
            from PIL import Image

            Image.new("L", (64, 48), 255).save(target)
        else:
            shutil.copy(sources[n % len(sources)], target)


def manifest_counts(database: str) -> dict[str, object]:
    with contextlib.closing(psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres",
                                             dbname=database, connect_timeout=5)) as db:
        cursor = db.cursor()
        cursor.execute("SELECT to_regclass('ocr_assets.pages') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return {"done": 0, "failed": 0, "running": 0, "duplicates": 0, "hosts": {}}
        cursor.execute("SELECT status, COUNT(*) FROM ocr_assets.pages GROUP BY 1")
        by_status = dict(cursor.fetchall())
        cursor.execute("SELECT COUNT(*) FROM ocr_assets.pages WHERE done_count > 1")
        duplicates = cursor.fetchone()[0]
        cursor.execute("SELECT host, COUNT(*) FROM ocr_assets.pages WHERE status = 'done' "
                       "GROUP BY 1 ORDER BY 1")
        hosts = {host or "?": n for host, n in cursor.fetchall()}
    return {"done": by_status.get("done", 0), "failed": by_status.get("failed", 0),
            "running": by_status.get("running", 0), "duplicates": duplicates, "hosts": hosts}


def worker_command(host: Host, workers: int) -> list[str]:
    # A thread pool of one: a step's shard starts its own pool of OCR processes, which a
    # prefork child (a daemonic process) may not.
    return [str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster",
            "--prefetch-multiplier=1", "-P", "threads", "-c", "1", "-n", f"{host.name}@{host.name}",
            "--without-gossip", "--without-mingle", "-l", "INFO"]


def wait_for_log(log: Path, text: str, what: str, timeout_s: float = 120) -> None:
    """Wait until a process's log says `text` (it is ready)."""
    deadline = time.monotonic() + timeout_s
    while text not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: {what} did not start within {timeout_s:g} s; see {log}")
        time.sleep(0.2)


def wait_ready(hosts: list[Host], logs: Path) -> None:
    """Wait until every host's Celery worker says it is ready: a job started before would
    hand its first shards to whichever worker came up first, and a slow host read nothing."""
    for host in hosts:
        wait_for_log(logs / f"{host.name}.log", f"{host.name}@{host.name} ready.",
                     f"the Celery worker of {host.name}")


def restart_postgres() -> None:
    """Restart the local PostgreSQL server (Debian's cluster tools, else the service)."""
    clusters = run("pg_lsclusters", "-h", check=False).stdout.split("\n")
    for line in clusters:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == str(POSTGRES[1]):
            run("pg_ctlcluster", parts[0], parts[1], "restart")
            return
    run("service", "postgresql", "restart")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=2, help="OCR hosts (default 2)")
    parser.add_argument("--pages", type=int, default=24, help="pages of the folder")
    parser.add_argument("--kill-one", action="store_true",
                        help="SIGKILL every process of one OCR host mid-run, then restart it")
    parser.add_argument("--cut-one", action="store_true",
                        help="take the last OCR host's veth down mid-run, up again later")
    parser.add_argument("--cut-seconds", type=float, default=20.0,
                        help="how long --cut-one keeps the host cut off (default 20)")
    parser.add_argument("--interrupt-run", action="store_true",
                        help="SIGTERM the head's run worker mid-run: the run fails and the "
                             "daemon's run retries finish it")
    parser.add_argument("--restart-postgres", action="store_true",
                        help="restart the PostgreSQL server mid-run (disturbs its other users)")
    parser.add_argument("--pages-per-shard", type=int, default=0,
                        help="default: pages / (2 x hosts), at least 1")
    parser.add_argument("--workers", type=int, default=1, help="OCR processes per host")
    parser.add_argument("--page-timeout", type=float, default=60.0,
                        help="seconds per page; a dead host's leases expire after about "
                             "twice this plus a grace")
    parser.add_argument("--engine", default="", help="OCR_ASSETS_ENGINE of every host")
    parser.add_argument("--small-pages", action="store_true",
                        help="tiny blank pages (for the fake engine of the tests)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.pages < 1:
        parser.error("--hosts and --pages must be at least 1")
    why = preflight()
    if why:
        say(f"cannot build a cluster here: {why}")
        return 3
    clean_stale()
    ident = f"ocr_cluster_{os.getpid()}_{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix=f"{ident}_"))
    cluster = Cluster(ident, work)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    try:
        result = _run(cluster, args)
    finally:
        say("tearing down")
        cluster.teardown()
        shutil.rmtree(work, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["pid"] = os.getpid()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


# --- the head host: the webserver and the daemon, and the run submitted to them ------------

HEAD_AUTOMATION = {
    # The head's instance is the cluster's own: its only runs are the one submitted here and
    # its retries. No folder sensor (it would start folder runs of the same pages), the corpus
    # sensor ticks once (nothing to build yet) and the nightly schedule only on New Year.
    "OCR_ASSETS_FOLDER_SENSOR": "0", "OCR_ASSETS_CORPUS_INTERVAL_S": "86400",
    "OCR_ASSETS_NIGHTLY_CRON": "0 2 1 1 *"}

CHAIN_QUERY = """
query Chain($root: ID!, $rootTag: String!) {
  root: runOrError(runId: $root) { ... on Run { runId status tags { key value } } }
  retries: runsOrError(filter: {tags: [{key: "dagster/root_run_id", value: $rootTag}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""
"""A run and the retry runs the daemon started for it (they carry its id as their root)."""


def start_head(head: Host, logs: Path) -> str:
    """The head host's code server, webserver and daemon (the daemon runs the queue, run
    retries and run monitoring; both load the code server's definitions). Returns the
    webserver's URL once it answers."""
    (head.home / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": CODE_SERVER_PORT, "location_name": "ocr_assets"}}]}))
    code_log = logs / "head-code-server.log"
    head.start(code_log, str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1",
               "-p", str(CODE_SERVER_PORT), "-m", "ocr_assets.definitions",
               "--location-name", "ocr_assets")
    wait_for_log(code_log, "Started Dagster code server", "the head's code server")
    head.start(logs / "head-webserver.log", str(BIN / "dagster-webserver"), "-h", "0.0.0.0",
               "-p", str(WEBSERVER_PORT), "-w", "workspace.yaml")
    head.start(logs / "head-daemon.log", str(BIN / "dagster-daemon"), "run",
               "-w", "workspace.yaml")
    url = f"http://{head.guest}:{WEBSERVER_PORT}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                return url
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"cluster: the webserver did not answer at {url} within "
                                 f"120 s; see {logs / 'head-webserver.log'}") from None
            time.sleep(0.5)


def submit(url: str, run_config: dict[str, object]) -> str:
    """Submit the sharded job through the webserver (Dagster's GraphQL API, as a user's
    script would): the run is queued, the daemon launches it. Returns its run id."""
    from dagster_graphql import DagsterGraphQLClient

    host, port = url.removeprefix("http://").rsplit(":", 1)
    return DagsterGraphQLClient(host, port_number=int(port)).submit_job_execution(
        "ocr_sharded_job", run_config=run_config)


def run_chain(url: str, root: str) -> list[dict[str, object]]:
    """The root run and its retry runs, in order (each retry's parent is the run before),
    each as {"id", "status", "will_retry"}."""
    body = json.dumps({"query": CHAIN_QUERY,
                       "variables": {"root": root, "rootTag": root}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        data = json.load(response)["data"]
    runs = {r["runId"]: r for r in [data["root"], *data["retries"].get("results", [])]
            if r and "runId" in r}
    by_parent = {tags[PARENT_RUN_TAG]: r for r in runs.values()
                 if PARENT_RUN_TAG in (tags := {t["key"]: t["value"] for t in r["tags"]})}
    chain, current = [], runs.get(root)
    while current is not None:
        tags = {t["key"]: t["value"] for t in current["tags"]}
        chain.append({"id": current["runId"], "status": current["status"],
                      "will_retry": tags.get(WILL_RETRY_TAG)})
        current = by_parent.get(current["runId"])
    return chain


def chain_over(chain: list[dict[str, object]]) -> bool:
    """Whether the last run ended and no retry of it is coming."""
    last = chain[-1] if chain else None
    return bool(last and last["status"] in TERMINAL
                and (last["status"] != "FAILURE" or last["will_retry"] == "false"))


def run_worker_pids(head: Host) -> list[int]:
    """The run workers on the head host: the processes that the code server starts for the
    daemon's run launcher (`multiprocessing` spawn children: no other process of the head
    is one)."""
    pids = []
    for pid in run("ip", "netns", "pids", head.namespace, check=False).stdout.split():
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
    return pids


def reconnections(host: Host, logs: Path) -> int:
    """How often the host's Celery worker connected to the broker so far."""
    return (logs / f"{host.name}.log").read_text(errors="replace").count("Connected to amqp://")


class Faults:
    """The faults asked for, each once, at its point of the run (pages finished so far):
    `--kill-one` kills ocr1 after a quarter and starts its worker again 3 s later;
    `--interrupt-run` sends SIGTERM to the head's run worker after a third; `--cut-one` takes
    the last OCR host's veth down after half and up again `--cut-seconds` later;
    `--restart-postgres` restarts the server after two thirds. Spread out so that, given
    together, each hits a run that has settled after the one before."""

    def __init__(self, args: argparse.Namespace, head: Host, ocr_hosts: list[Host],
                 logs: Path) -> None:
        self.args, self.head, self.ocr_hosts, self.logs = args, head, ocr_hosts, logs
        self.killed: str | None = None
        self.killed_at = 0.0
        self.rejoined = False
        self.cut: str | None = None
        self.cut_at = 0.0
        self.connections_before_cut = 0
        self.cut_over = False
        self.cut_rejoined = False
        self.postgres_restarted = False
        self.interrupted_pid: int | None = None

    def step(self, finished: int) -> None:
        args, pages, now = self.args, self.args.pages, time.monotonic()
        if args.kill_one and self.killed is None and finished >= max(1, pages // 4):
            victim = self.ocr_hosts[0]
            say(f"killing every process of {victim.name} (SIGKILL)")
            victim.kill()
            self.killed, self.killed_at = victim.name, now
        if self.killed and not self.rejoined and now - self.killed_at > 3:
            victim = self.ocr_hosts[0]
            victim.start(self.logs / f"{victim.name}.log",
                         *worker_command(victim, args.workers))
            say(f"{victim.name} is back and rejoins the cluster")
            self.rejoined = True
        if args.cut_one and self.cut is None and finished >= max(1, pages // 2):
            victim = self.ocr_hosts[-1]
            self.connections_before_cut = reconnections(victim, self.logs)
            say(f"cutting {victim.name} off: its veth {victim.link} down")
            victim.cut(down=True)
            self.cut, self.cut_at = victim.name, now
        if self.cut and not self.cut_over and now - self.cut_at > args.cut_seconds:
            victim = self.ocr_hosts[-1]
            victim.cut(down=False)
            say(f"{victim.name}'s veth is up again after {now - self.cut_at:.0f} s")
            self.cut_over = True
        if self.cut_over and not self.cut_rejoined:
            self._see_cut_host_rejoin()
        if (args.restart_postgres and not self.postgres_restarted
                and finished >= max(1, 2 * pages // 3)):
            say("restarting PostgreSQL")
            restart_postgres()
            self.postgres_restarted = True
        if (args.interrupt_run and self.interrupted_pid is None
                and finished >= max(1, pages // 3)):
            for pid in run_worker_pids(self.head):
                say(f"interrupting the run worker on the head (SIGTERM to pid {pid})")
                os.kill(pid, signal.SIGTERM)
                self.interrupted_pid = pid

    def _see_cut_host_rejoin(self) -> None:
        if reconnections(self.ocr_hosts[-1], self.logs) > self.connections_before_cut:
            say(f"{self.cut}'s worker reconnected to the broker: it rejoins the cluster")
            self.cut_rejoined = True

    def finish(self, timeout_s: float = 60) -> None:
        """After the run: a host still cut off gets its veth back, and a host cut off is
        given up to `timeout_s` to reconnect to the broker (it rejoins the cluster)."""
        if not self.cut:
            return
        if not self.cut_over:
            self.ocr_hosts[-1].cut(down=False)
            say(f"{self.cut}'s veth is up again, the run being over")
            self.cut_over = True
        deadline = time.monotonic() + timeout_s
        while not self.cut_rejoined and time.monotonic() < deadline:
            self._see_cut_host_rejoin()
            time.sleep(0.5)

    def report(self) -> dict[str, object]:
        return {"killed": self.killed, "rejoined": self.rejoined, "cut": self.cut,
                "cut_rejoined": self.cut_rejoined,
                "postgres_restarted": self.postgres_restarted,
                "run_worker_interrupted": self.interrupted_pid is not None}


def _run(cluster: Cluster, args: argparse.Namespace) -> dict[str, object]:
    with contextlib.closing(_admin()) as admin:
        admin.cursor().execute(sql.SQL("CREATE DATABASE {}").format(
            sql.Identifier(cluster.database)))
    run("rabbitmqctl", "-q", "add_vhost", cluster.ident)
    run("rabbitmqctl", "-q", "set_permissions", "-p", cluster.ident, "guest", ".*", ".*", ".*")
    scans, data = cluster.work / "scans", cluster.work / "data"
    make_pages(scans, args.pages, args.small_pages)
    per_shard = args.pages_per_shard or max(1, args.pages // (2 * args.hosts))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OCR_ASSETS_", "PG", "DAGSTER_"))}
    env.update({
        "PGPORT": str(POSTGRES[1]), "PGUSER": "postgres", "PGPASSWORD": "",
        "PGDATABASE": cluster.database, "OCR_ASSETS_MANIFEST_URL": "postgresql://",
        "OCR_ASSETS_DATA": str(data), "OCR_ASSETS_SCANS": str(scans),
        "OCR_ASSETS_WORKERS": str(args.workers),
        "OCR_ASSETS_PAGE_TIMEOUT_S": str(args.page_timeout),
        "OCR_ASSETS_PAGES_PER_SHARD": str(per_shard), "OCR_ASSETS_STEP_RETRY_DELAY_S": "2",
        # The pages repeat a few scans on purpose: each is read, not taken from its twin.
        "OCR_ASSETS_REUSE_DUPLICATES": "0", "OMP_THREAD_LIMIT": "1"})
    if args.engine:
        env["OCR_ASSETS_ENGINE"] = args.engine
    subnet = 20 + os.getpid() % 200
    head = cluster.add_host(0, "head", subnet, {**env, **HEAD_AUTOMATION})
    ocr_hosts = [cluster.add_host(n, f"ocr{n}", subnet, env) for n in range(1, args.hosts + 1)]
    logs = cluster.work / "logs"
    logs.mkdir()
    for host in ocr_hosts:
        host.start(logs / f"{host.name}.log", *worker_command(host, args.workers))
    url = start_head(head, logs)
    wait_ready(ocr_hosts, logs)
    say(f"{len(ocr_hosts)} OCR hosts started ({', '.join(h.name for h in ocr_hosts)}), "
        f"the head's webserver at {url}, database {cluster.database}, {args.pages} pages in "
        f"shards of {per_shard}")
    job_started = time.monotonic()
    root = submit(url, {"ops": {"plan_shards": {"config": {"folders": []}}}})
    say(f"run {root} submitted through the webserver")
    faults = Faults(args, head, ocr_hosts, logs)
    chain: list[dict[str, object]] = []
    last = ""
    deadline = time.monotonic() + args.timeout
    while not chain_over(chain):
        if time.monotonic() > deadline:
            say(f"no result after {args.timeout:g} s: giving up")
            break
        time.sleep(1.0)
        with contextlib.suppress(OSError, KeyError, TypeError):
            chain = run_chain(url, root)
        try:
            counts = manifest_counts(cluster.database)
        except psycopg2.OperationalError:
            continue
        line = (f"{counts['done']}/{args.pages} done, {counts['failed']} failed, "
                f"{counts['running']} running; by host {counts['hosts']}; runs "
                + ", ".join(f"{r['id']} {r['status']}" for r in chain))
        if line != last:
            say(line)
            last = line
        faults.step(int(counts["done"]) + int(counts["failed"]))  # type: ignore[call-overload]
    elapsed = time.monotonic() - job_started
    faults.finish()
    counts = manifest_counts(cluster.database)
    status = chain[-1]["status"] if chain else None
    ok = status == "SUCCESS" and counts["done"] == args.pages and not counts["duplicates"]
    if not ok:
        say(f"the run ended {status}; the head's logs (code server with its run workers, "
            "daemon):")
        for name in ("head-code-server.log", "head-daemon.log"):
            sys.stderr.write((logs / name).read_text(errors="replace")[-5000:])
    hosts = {host.name: 0 for host in ocr_hosts}
    hosts.update(counts["hosts"])  # type: ignore[arg-type]
    return {"hosts": hosts, "pages": args.pages, "done": counts["done"],
            "failed": counts["failed"], "duplicates": counts["duplicates"],
            "ok": ok, "status": status, "run_ids": [r["id"] for r in chain],
            "run_statuses": [r["status"] for r in chain],
            "runs": len(chain), "retried": len(chain) > 1, **faults.report(),
            "job_seconds": round(elapsed, 1),
            "pages_per_s": round(args.pages / elapsed, 3) if elapsed else None}


if __name__ == "__main__":
    sys.exit(main())
