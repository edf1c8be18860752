"""Fixtures for every test: the shipped fixtures, the shared test set when it is there, and a
PostgreSQL database of the test run's own when a server answers.

The shared test set (`../shared/testdata` beside the repository, or `$OCR_ASSETS_TESTDATA`) is
large and not shipped: tests that need it skip, with the reason, when it is absent, unless
`OCR_ASSETS_REQUIRE_TESTDATA=1` (set by CI), in which case they fail. The pipeline reads it
once per session (`shared_ocr`), for every test that needs its pages OCRed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from xdist.remote import Producer
from xdist.workermanage import WorkerController

from ocr_assets_tests.helpers import FIXTURES
from ocr_assets_tests.shared_ocr import SharedOcr, ocr_shared_set
from ocr_assets_tests.xdist_groups import mark_postgres_tests, sort_longest_first
from ocr_assets_tests.xdist_scheduling import (
    GROUPS_DIR_KEY,
    GroupScheduling,
    groups_dir,
    remove_groups_dir,
    write_groups,
)

DEFAULT_TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the PostgreSQL tests; on an xdist worker, also sorts the long groups first and
    hands every test's group to the scheduler (`xdist_groups.py`, `xdist_scheduling.py`)."""
    mark_postgres_tests(items)
    if hasattr(config, "workerinput"):
        sort_longest_first(items)
        write_groups(config, items)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: WorkerController) -> None:
    """Controller: tell each worker where to write its groups."""
    node.workerinput[GROUPS_DIR_KEY] = str(groups_dir(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> GroupScheduling | None:
    """Controller: `--dist loadgroup` schedules by the groups of `xdist_groups.py`."""
    if config.getvalue("dist") == "loadgroup":
        return GroupScheduling(config, log, groups_dir(config))
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    remove_groups_dir(config)


def testdata_location() -> Path:
    override = os.environ.get("OCR_ASSETS_TESTDATA")
    return Path(override).expanduser() if override else DEFAULT_TESTDATA


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """The shared test set's root (with `pages/` and `bad/`)."""
    location = testdata_location()
    if (location / "pages").is_dir() and (location / "bad").is_dir():
        return location
    reason = (f"shared test set not found at {location} (expected pages/ and bad/ in it); "
              "set OCR_ASSETS_TESTDATA to its location")
    if os.environ.get("OCR_ASSETS_REQUIRE_TESTDATA") == "1":
        pytest.fail(f"{reason}; OCR_ASSETS_REQUIRE_TESTDATA=1 makes this a failure")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_ocr(shared_testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> SharedOcr:
    """The pipeline's reading of the whole shared set (`shared_ocr.py`), made the first time a
    test asks for it and read by every test that needs it (calibration, CLI parity, accuracy,
    bad inputs): each page is OCRed once per session instead of once per test. Read only."""
    return ocr_shared_set(shared_testdata, tmp_path_factory.mktemp("shared-ocr"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`ocr_assets_tests/fixtures`: `pages/` (pages with `.gt.txt`) and `odd/` (broken and
    odd inputs), shipped with the repository."""
    return FIXTURES


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
"""The test server (trust auth); `OCR_ASSETS_TEST_POSTGRES_URL` points elsewhere."""


def postgres_admin_url() -> str:
    return os.environ.get("OCR_ASSETS_TEST_POSTGRES_URL", POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL server that answers; without one the test skips with the
    reason, unless `OCR_ASSETS_REQUIRE_POSTGRES=1` (set by CI), which makes it a failure."""
    import psycopg2

    url = postgres_admin_url()
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        reason = (f"no PostgreSQL server answers at {url} ({' '.join(str(exc).split())}); "
                  "start one, or set OCR_ASSETS_TEST_POSTGRES_URL to one")
        if os.environ.get("OCR_ASSETS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; OCR_ASSETS_REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def new_postgres_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """Creates databases of this test run's own (returns the URL of each); all of them are
    dropped when the run ends."""
    import psycopg2
    from psycopg2 import sql

    created: list[str] = []

    def admin(statement: sql.Composable) -> None:
        """One statement on a connection of its own: a connection kept for the whole run would
        not outlive the cluster test's restart of the server."""
        db = psycopg2.connect(postgres_server)
        try:
            db.autocommit = True
            db.cursor().execute(statement)
        finally:
            db.close()

    def create() -> str:
        name = f"ocr_assets_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))

    try:
        yield create
    finally:
        for name in created:
            admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_database(new_postgres_database: Callable[[], str]) -> str:
    """A database of this test run's own, shared by its tests: its URL."""
    return new_postgres_database()


@pytest.fixture
def postgres_manifest_url(postgres_database: str) -> Iterator[str]:
    """A manifest URL with a schema of its own for this test, dropped afterwards."""
    import psycopg2
    from psycopg2 import sql

    schema = f"manifest_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_database}?schema={schema}"
    with psycopg2.connect(postgres_database) as db:
        db.cursor().execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(schema)))
    db.close()
