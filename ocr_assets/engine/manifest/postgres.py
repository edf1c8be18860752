"""The PostgreSQL manifest: the same rows and queries as the SQLite one, for runs on many machines.

Chosen by a `postgresql://` URL (`OCR_ASSETS_MANIFEST_URL`), usually the database of the Dagster
instance itself. The tables live in their own schema (`ocr_assets`, or `?schema=NAME` in the
URL), beside Dagster's tables and never among them.

Concurrency: PostgreSQL locks rows, not the database, so many runs and workers write at once and
nobody ever sees "database is locked". A claim is one conditional `UPDATE` (the row lock makes
the second of two racing claims see the first's lease and fail); writes that touch many rows of
one folder (sync, release, forget) take a per-folder advisory lock first, so two runs on the same
folder queue instead of deadlocking. The schema is created and migrated on start under an
advisory lock: two processes starting at once on an empty database do it exactly once.

The driver is psycopg2, the one dagster-postgres itself is built on: a PostgreSQL instance
always has it installed, and one libpq serves both the instance and the manifest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.sql

from ocr_assets.engine.manifest.base import (
    BACKFILL_CONTENT_KEYS,
    ManifestOpenError,
    SqlConnection,
    SqlManifest,
)

DEFAULT_SCHEMA = "ocr_assets"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
LOCK_CLASS_SCHEMA = 0x6F63_7231
"""First key of the advisory lock held while the schema is migrated (second: the schema)."""
LOCK_CLASS_FOLDER = 0x6F63_7232
"""First key of the per-folder advisory locks (second: a hash of the partition key)."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE {schema}.folders (
        partition_key TEXT PRIMARY KEY,
        folder_name TEXT NOT NULL,
        folder_name_raw BYTEA NOT NULL,
        registered_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE {schema}.pages (
        partition_key TEXT NOT NULL,
        page_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
        fingerprint TEXT,
        size BIGINT,
        mtime_ns BIGINT,
        error_category TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        ms BIGINT,
        mean_confidence DOUBLE PRECISION,
        words INTEGER,
        chars INTEGER,
        garbage_score DOUBLE PRECISION,
        flags TEXT NOT NULL DEFAULT '',
        flag_reason TEXT NOT NULL DEFAULT '',
        output_name TEXT,
        engine TEXT,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        updated_at DOUBLE PRECISION,
        PRIMARY KEY (partition_key, page_id)
    );
    CREATE INDEX pages_status ON {schema}.pages (partition_key, status);
    """,
    """
    CREATE TABLE {schema}.folder_listings (
        partition_key TEXT PRIMARY KEY,
        signature TEXT NOT NULL,
        listed_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 3: the recipe a page was read with (`OcrSettings.recipe_key`); NULL on the rows of
    # earlier versions, which the next run of their folder adopts as the recipe in force.
    """
    ALTER TABLE {schema}.pages ADD COLUMN recipe TEXT;
    DROP INDEX {schema}.pages_status;
    CREATE INDEX pages_status ON {schema}.pages (partition_key, status, recipe);
    """,
    # 4: the digest of the page ids a listing found (`manifest.page_ids_digest`); NULL on
    # listings stored before, which the counts invariant then does not trust.
    """
    ALTER TABLE {schema}.folder_listings ADD COLUMN pages_digest TEXT;
    """,
    # 5: the host that recorded a page, and how many times it was recorded done (a cluster's
    # runs: which machine read it, and whether any page was read twice).
    """
    ALTER TABLE {schema}.pages ADD COLUMN host TEXT;
    ALTER TABLE {schema}.pages ADD COLUMN done_count INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: the alerts claimed for sending (`manifest.base.ALERTS_TABLE`), one row per event.
    """
    CREATE TABLE {schema}.alerts (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        delivered_to TEXT,
        error TEXT
    );
    """,
    # 7: duplicate scans: each row's content key (`manifest.content_key`, filled in for the
    # rows already read) on an index of its own, what a page took its text from instead of
    # an OCR, and the ground truth a folder's accuracy report read.
    f"""
    ALTER TABLE {{schema}}.pages ADD COLUMN content_key TEXT;
    ALTER TABLE {{schema}}.pages ADD COLUMN reused_from TEXT;
    ALTER TABLE {{schema}}.folder_listings ADD COLUMN ground_truth TEXT;
    SET LOCAL search_path TO {{schema}};
    {BACKFILL_CONTENT_KEYS};
    CREATE INDEX pages_content ON {{schema}}.pages (content_key);
    """,
)
"""Schema versions 1..n, applied in order; a new version is appended, never edited."""


def split_manifest_url(url: str) -> tuple[str, str]:
    """The libpq connection URL and the schema from a manifest URL (`?schema=` is ours, not
    libpq's, so it is taken out). A bare `postgresql://` connects where libpq's own variables
    (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`) say."""
    base, _, query_text = url.partition("?")
    query = parse_qsl(query_text, keep_blank_values=True)
    schemas = [value for name, value in query if name == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"manifest URL: schema {schema!r} is not a plain PostgreSQL name "
                         "(lower-case letters, digits and '_', at most 63)")
    rest = urlencode([(name, value) for name, value in query if name != "schema"])
    return f"{base}?{rest}" if rest else base, schema


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _placeholders(sql: str) -> str:
    """The manifest's `?` placeholders as psycopg2's `%s`; its SQL has no other `?` or `%`."""
    return sql.replace("?", "%s")


class PostgresConnection:
    """A psycopg2 connection in autocommit mode with sqlite3's shape: `execute` and
    `executemany` take `?` placeholders and return their cursor, so the manifest's queries are
    written once."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cursor = self.raw.cursor()
        cursor.execute(_placeholders(sql), tuple(parameters))
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(_placeholders(sql), [tuple(p) for p in parameters])
        return cursor

    def close(self) -> None:
        self.raw.close()


class PostgresManifest(SqlManifest):
    """The page manifest in PostgreSQL, shared by every run and worker on every machine."""

    KEY_ORDER = 'partition_key COLLATE "C"'

    def __init__(self, url: str, *, connect_timeout_s: int = 10) -> None:
        super().__init__()
        self.url = url
        self._dsn, self.schema = split_manifest_url(url)
        self._connect_timeout_s = connect_timeout_s
        self._migrate()

    def _open(self) -> PostgresConnection:
        try:
            raw = psycopg2.connect(self._dsn, connect_timeout=self._connect_timeout_s,
                                   application_name="ocr-assets manifest")
        except psycopg2.OperationalError as exc:
            raise ManifestOpenError(
                f"cannot connect to the PostgreSQL manifest at {redacted(self._dsn)}: "
                f"{' '.join(str(exc).split())}; check OCR_ASSETS_MANIFEST_URL and that the "
                "server runs") from exc
        raw.autocommit = True
        return PostgresConnection(raw)

    def _connection(self) -> SqlConnection:
        """This thread's connection; one the server closed (a restart, a failover, an idle
        timeout) failed its statement and is replaced here, so the next call works again."""
        db = getattr(self._local, "db", None)
        if db is not None and db.raw.closed:
            self._local.db = None
        return super()._connection()

    def _connect(self) -> PostgresConnection:
        db = self._open()
        db.raw.cursor().execute(psycopg2.sql.SQL("SET search_path TO {}").format(
            psycopg2.sql.Identifier(self.schema)))
        return db

    def _migrate(self) -> None:
        """Create or upgrade the schema to the newest version, once, whoever else starts."""
        db = self._open()
        schema = psycopg2.sql.Identifier(self.schema)
        try:
            db.execute("BEGIN")
            db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))",
                       (LOCK_CLASS_SCHEMA, self.schema))
            cursor = db.raw.cursor()
            # Created only when missing: a schema an administrator made needs no CREATE right
            # on the database (CREATE SCHEMA IF NOT EXISTS checks that right first).
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,))
            if cursor.fetchone() is None:
                cursor.execute(psycopg2.sql.SQL("CREATE SCHEMA {}").format(schema))
            cursor.execute(psycopg2.sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_version (version INTEGER PRIMARY KEY, "
                "applied_at DOUBLE PRECISION NOT NULL)").format(schema))
            cursor.execute(psycopg2.sql.SQL(
                "SELECT COALESCE(MAX(version), 0) FROM {}.schema_version").format(schema))
            current = cursor.fetchone()[0]
            if current > len(MIGRATIONS):
                raise ManifestOpenError(
                    f"the manifest schema {self.schema!r} at {redacted(self._dsn)} is at version "
                    f"{current}, newer than this ocr-assets knows ({len(MIGRATIONS)}): upgrade "
                    "ocr-assets on this machine")
            for version in range(current + 1, len(MIGRATIONS) + 1):
                cursor.execute(psycopg2.sql.SQL(MIGRATIONS[version - 1]).format(schema=schema))
                cursor.execute(psycopg2.sql.SQL(
                    "INSERT INTO {}.schema_version (version, applied_at) VALUES (%s, %s)"
                ).format(schema), (version, time.time()))
            db.execute("COMMIT")
        except BaseException:
            if not db.raw.closed:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _lock_folder(self, db: SqlConnection, partition_key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))",
                   (LOCK_CLASS_FOLDER, partition_key))
