"""`.ci/postgres.sh` against the test server: a server that answers but lacks the database gets
it, and a second run changes nothing. (Installing and starting a server of its own needs root
and apt, so that path is not run here.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "postgres.sh"


def databases(server: str) -> set[str]:
    import psycopg2

    with psycopg2.connect(server) as db:
        cursor = db.cursor()
        cursor.execute("SELECT datname FROM pg_database")
        names = {row[0] for row in cursor.fetchall()}
    db.close()
    return names


def test_the_ci_script_creates_a_missing_database_once(postgres_server: str) -> None:
    url = urlsplit(postgres_server)
    if url.hostname not in ("127.0.0.1", "localhost") or (url.username or "postgres") != \
            "postgres" or not shutil.which("psql"):
        pytest.skip(f"the script talks to 127.0.0.1 as the user postgres with psql; the test "
                    f"server is {url.hostname} as {url.username} (psql: {shutil.which('psql')})")
    name = f"ocr_assets_ci_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PGPORT": str(url.port or 5432), "OCR_ASSETS_CI_DATABASE": name}
    try:
        first = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True,
                               timeout=60, check=False)
        assert first.returncode == 0, first.stderr
        assert f"creating the database {name}" in first.stderr
        assert name in databases(postgres_server)

        again = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True,
                               timeout=60, check=False)
        assert (again.returncode, again.stderr) == (0, "")
    finally:
        import psycopg2
        from psycopg2 import sql

        admin = psycopg2.connect(postgres_server)
        admin.autocommit = True
        admin.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
            sql.Identifier(name)))
        admin.close()


def test_the_ci_script_refuses_a_database_name_it_would_have_to_quote() -> None:
    result = subprocess.run([str(SCRIPT)], env={**os.environ,
                                                "OCR_ASSETS_CI_DATABASE": "x'; DROP"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "letters, digits and underscores" in result.stderr
