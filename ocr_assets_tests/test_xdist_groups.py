"""How the suite is spread over xdist's workers (`xdist_groups.py`, `xdist_scheduling.py`), seen
from a real `-n 2` run of part of the suite with `--setup-plan` (every test scheduled, none run):
each group runs on one worker, the PostgreSQL group holds every test of the server and the
cluster test that restarts it, and the long groups are given out first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import defaultdict

import pytest

from ocr_assets_tests.helpers import REPO, importing_the_tests
from ocr_assets_tests.xdist_groups import LONGEST_FIRST, POSTGRES_GROUP

MODULES = ["ocr_assets_tests/cluster/test_cluster.py", "ocr_assets_tests/e2e/test_ci_postgres.py",
           "ocr_assets_tests/e2e/test_ui.py", "ocr_assets_tests/engine/folder/test_accuracy.py",
           "ocr_assets_tests/engine/folder/test_naming.py",
           "ocr_assets_tests/engine/manifest/test_manifest.py",
           "ocr_assets_tests/engine/page/test_cli_parity.py"]
"""Enough of the suite for every kind of group: the PostgreSQL tests of three modules (one
param of a module, a whole one, one test of a module), the shared set's readers of two, the two
longest groups, and many quick tests, in a third of the time the whole suite takes to collect."""

RECORDER = textwrap.dedent("""
    import os
    from ocr_assets_tests.xdist_groups import group_of

    def pytest_runtest_protocol(item, nextitem):
        with open(os.environ["RECORD_WORKERS_TO"], "a", encoding="utf-8") as out:
            out.write(f"{os.environ['PYTEST_XDIST_WORKER']}\\t{group_of(item)}\\t{item.nodeid}\\n")
""")
"""A plugin for the workers: which worker ran each test, in which group, in order."""


@pytest.fixture(scope="module")
def schedule(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """(worker, group, node id) of every test of `MODULES`, in the order each worker ran them."""
    root = tmp_path_factory.mktemp("schedule")
    (root / "record_workers.py").write_text(RECORDER, encoding="utf-8")
    record = root / "record.tsv"
    env = importing_the_tests(dict(os.environ))
    env.update(PYTHONPATH=f"{root}:{env['PYTHONPATH']}", RECORD_WORKERS_TO=str(record))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--setup-plan", "-q", "-p", "no:cacheprovider",
         "-p", "record_workers", "--basetemp", str(root / "tmp"), *MODULES],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = record.read_text(encoding="utf-8").splitlines()
    return [(worker, group, node) for worker, group, node in
            (line.split("\t") for line in lines)]


def test_each_group_runs_on_one_worker_and_both_workers_run(
        schedule: list[tuple[str, str, str]]) -> None:
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, group, _ in schedule:
        workers[group].add(worker)
    split = {group: found for group, found in workers.items() if len(found) > 1}
    assert not split, f"groups run on several workers: {split}"
    assert {worker for worker, _, _ in schedule} == {"gw0", "gw1"}


def test_the_postgres_group_holds_every_test_of_the_server_and_the_cluster_test(
        schedule: list[tuple[str, str, str]]) -> None:
    postgres = {node for _, group, node in schedule if group == POSTGRES_GROUP}
    assert "ocr_assets_tests/cluster/test_cluster.py::test_a_cluster_survives_a_kill_a_run_" \
           "interrupt_a_cut_and_a_postgres_restart" in postgres, "it restarts the server"
    ci = "ocr_assets_tests/e2e/test_ci_postgres.py"
    assert f"{ci}::test_the_ci_script_creates_a_missing_database_once" in postgres, \
        "a test that asks for the server's fixture"
    backends = [node for _, _, node in schedule if node.endswith(("[sqlite]", "[postgres]"))]
    assert backends and all((node in postgres) == node.endswith("[postgres]")
                            for node in backends), "the run-time backend parameters"
    assert f"{ci}::test_the_ci_script_refuses_a_database_name_it_would_have_to_quote" \
        not in postgres, "a test that never connects stays in its module's group"


def test_the_longest_groups_go_first(schedule: list[tuple[str, str, str]]) -> None:
    first = {worker: group for worker, group, _ in reversed(schedule)}
    assert set(first.values()) == set(LONGEST_FIRST[:2]), first


def test_the_long_modules_named_first_exist() -> None:
    modules = [group for group in LONGEST_FIRST if group.endswith(".py")]
    assert modules, "the long modules are named by their path"
    missing = [group for group in modules if not (REPO / group).is_file()]
    assert not missing, f"renamed or gone: {missing}; update xdist_groups.LONGEST_FIRST"


def test_the_postgres_marker_selects_the_group_in_one_process() -> None:
    """`-m postgres` (`-n 0`, no worker): the tests that ask for the server's fixtures are
    marked at collection, the cluster test by hand."""
    ci = "ocr_assets_tests/e2e/test_ci_postgres.py"
    cluster = "ocr_assets_tests/cluster/test_cluster.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "--collect-only", "-q", "-p",
         "no:cacheprovider", "-m", "postgres", ci, cluster],
        cwd=REPO, env=importing_the_tests(dict(os.environ)), capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [line for line in result.stdout.splitlines() if "::" in line] == [
        f"{ci}::test_the_ci_script_creates_a_missing_database_once",
        f"{cluster}::test_a_cluster_survives_a_kill_a_run_interrupt_a_cut_and_a_postgres_restart"]
