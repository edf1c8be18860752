"""How the suite is spread over xdist's workers (`xdist_groups.py`): the PostgreSQL group holds
every test that touches the server, the cluster test that restarts it included, and the long
groups it gives out first still exist."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ocr_assets_tests.helpers import REPO, importing_the_tests
from ocr_assets_tests.xdist_groups import LONGEST_FIRST, group_of


def collected(*arguments: str) -> list[str]:
    """The node ids a one-process `pytest --collect-only` selects."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
         "-p", "no:cacheprovider", *arguments],
        cwd=REPO, env=importing_the_tests(dict(os.environ)), capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_postgres_group_holds_every_test_of_the_server_and_the_cluster_test() -> None:
    manifest = "ocr_assets_tests/engine/manifest/test_manifest.py"
    ci = "ocr_assets_tests/e2e/test_ci_postgres.py"
    cluster = "ocr_assets_tests/cluster/test_cluster.py"
    everything = collected(manifest, ci, cluster)
    postgres = collected("-m", "postgres", manifest, ci, cluster)

    assert any(node.startswith(cluster) for node in postgres), "the cluster restarts the server"
    assert f"{ci}::test_the_ci_script_creates_a_missing_database_once" in postgres, \
        "a test that asks for the server's fixture"
    backends = [node for node in everything if node.startswith(manifest)]
    assert backends and all((node in postgres) == node.endswith("[postgres]")
                            for node in backends), "the run-time backend parameter"
    assert f"{ci}::test_the_ci_script_refuses_a_database_name_it_would_have_to_quote" \
        not in postgres, "a test that never connects stays in its module's group"


def test_a_test_of_no_shared_resource_runs_in_its_modules_group(
        request: pytest.FixtureRequest) -> None:
    assert group_of(request.node) == "ocr_assets_tests/test_xdist_groups.py"


def test_the_long_groups_given_out_first_exist() -> None:
    modules = [group for group in LONGEST_FIRST if group.endswith(".py")]
    assert modules, "the long modules are named by their path"
    missing = [group for group in modules if not (REPO / group).is_file()]
    assert not missing, f"renamed or gone: {missing}; update xdist_groups.LONGEST_FIRST"
