"""The page manifest: one row per page, the source of truth for what is done.

File counts lie (a half-written `.txt`, a page that failed, a page still running), so every
decision is made from these rows: status `pending`, `running` (claimed under a lease), `done` or
`failed`, with the error category and message, attempts, timing, and the input fingerprint and
recipe (`OcrSettings.recipe_key`: language, psm, ...) the status belongs to. Rows are written
as each page finishes, so a crash loses at most the pages in flight, and a lease that expires (a
dead run) hands its page to the next run.

`Manifest` is the interface. `SqlManifest` holds its queries, written once in the SQL that SQLite
and PostgreSQL share; `SqliteManifest` is the embedded default (WAL mode, a busy timeout and
`BEGIN IMMEDIATE`, so several runs on one machine share one file), and `PostgresManifest`
(`manifest_postgres.py`, chosen by a `postgresql://` URL) the one for several machines.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocr_assets.engine.killpoints import kill_point

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class ManifestOpenError(RuntimeError):
    """The manifest cannot be opened (a server that does not answer, a file that is no
    database, a schema newer than this code); the message names it and says what to do."""


STATUSES = (PENDING, RUNNING, DONE, FAILED)
FRAME_MARK = "#"
"""Between a multi-page file's path and a page's number in page ids (`discovery.FRAME_SEPARATOR`,
which the manifest cannot import)."""
FLAG_REASON_SEPARATOR = " | "
"""Between the reasons of a page's flags in `flag_reason`."""
FOLDERS_PER_QUERY = 1000
"""Folders `folders_in_order` reads at once."""


@dataclass(frozen=True)
class FolderRecord:
    partition_key: str
    folder_name: str
    """The folder's name as on disk (display form: invalid UTF-8 bytes as `\\xNN`)."""
    folder_name_raw: bytes
    registered_at: float


@dataclass(frozen=True)
class FolderSummary:
    """One folder's page counts and listing, from one aggregate query over every folder:
    what the planning (`folder.planning`) needs without reading any page row."""

    counts: dict[str, int]
    """Pages per status, every status present (zeros included)."""
    listing_signature: str | None = None
    """`registry.folder_signature` of the folder when its rows were last synced with its
    pages on disk; None when never stored (rows written before `folder_listings` existed)."""
    done_by_recipe: dict[str, int] = field(default_factory=dict)
    """Done pages per recipe (`OcrSettings.recipe_key`); rows without one are not counted."""
    ground_truth: str | None = None
    """`ground_truth.ground_truth_signature` of the ground truth the folder's last accuracy
    report read; None when it read none, or was written before it was kept."""

    @property
    def unfinished(self) -> int:
        return self.counts[PENDING] + self.counts[RUNNING]


@dataclass(frozen=True)
class StoredListing:
    """What a folder looked like when its rows were last synced with its pages on disk."""

    signature: str
    """`registry.folder_signature`, taken before the pages were listed."""
    pages_digest: str | None
    """`page_ids_digest` of the page ids listed then; None when stored by a version before
    it was kept."""


def content_key(fingerprint: str | None, page_id: str) -> str | None:
    """What makes two pages the same scan: the fingerprint of the file's bytes, and for a page
    of a multi-page file (`scan.pdf#3`) its number in that file, since every page of a PDF or
    TIFF shares the file's fingerprint. None while the page's bytes were never read."""
    if fingerprint is None:
        return None
    _, separator, number = page_id.rpartition(FRAME_MARK)
    if separator and number.isascii() and number.isdigit():
        return f"{fingerprint}{FRAME_MARK}{number}"
    return fingerprint


def page_ids_digest(page_ids: Iterable[str]) -> str:
    """A digest of a set of page ids, whatever their order: stored with a folder's listing,
    and compared with the digest of its rows, it says whether the rows are still exactly the
    pages that were listed (no row added, lost or tampered with since)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for page_id in sorted(page_ids):
        digest.update(page_id.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class PageRecord:
    partition_key: str
    page_id: str
    status: str
    fingerprint: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    error_category: str | None = None
    error_message: str | None = None
    attempts: int = 0
    ms: int | None = None
    mean_confidence: float | None = None
    words: int | None = None
    chars: int | None = None
    garbage_score: float | None = None
    flags: str = ""
    """Comma-separated flags of a done page (`partial`, `empty`, `garbage`); empty for a good
    page."""
    flag_reason: str = ""
    """Why, one reason per flag in the same order, joined by `FLAG_REASON_SEPARATOR`."""
    output_name: str | None = None
    engine: str | None = None
    recipe: str | None = None
    """`OcrSettings.recipe_key` of the settings the page was read with; None on a row written
    before recipes were recorded (taken as the recipe in force, see `adopt_recipe`)."""
    content_key: str | None = None
    """`content_key(fingerprint, page_id)`: equal on two rows of the same scan (duplicates)."""
    reused_from: str | None = None
    """`<partition>/<page id>` of the page whose text this done page took instead of being
    OCRed (the same scan, read with the same recipe and engine); None when it was OCRed."""
    lease_owner: str | None = None
    lease_until: float | None = None
    updated_at: float | None = None
    host: str | None = None
    """The host name (`socket.gethostname()`) of the run that recorded the page's status last:
    which machine of a cluster read it. None on rows recorded before it was kept."""
    done_count: int = 0
    """How many times a run recorded the page done, over the row's life: above 1 within one
    recipe and input, a page was OCRed twice (what the cluster's fault tests count)."""

    def flag_reasons(self) -> dict[str, str]:
        """flag -> why, for each of the page's flags."""
        flags = [flag for flag in self.flags.split(",") if flag]
        reasons = self.flag_reason.split(FLAG_REASON_SEPARATOR)
        return {flag: reasons[n] if n < len(reasons) else "" for n, flag in enumerate(flags)}


@dataclass(frozen=True)
class PageOutcome:
    """What one attempt at one page produced, as the manifest stores it."""

    status: str
    fingerprint: str | None
    size: int
    mtime_ns: int
    ms: int
    error_category: str | None = None
    error_message: str | None = None
    mean_confidence: float | None = None
    words: int | None = None
    chars: int | None = None
    garbage_score: float | None = None
    flags: str = ""
    flag_reason: str = ""
    output_name: str | None = None
    engine: str | None = None
    recipe: str | None = None
    """`OcrSettings.recipe_key` of the folder's settings this attempt belongs to (for a retry
    strategy, the folder's own, not the strategy's)."""
    reused_from: str | None = None
    """`<partition>/<page id>` of the page whose text was taken instead of an OCR."""


class Manifest(Protocol):
    """What the engine and the Dagster layer need from a manifest backend."""

    def register_folder(self, partition_key: str, folder_name: str, raw: bytes) -> None: ...
    def folders(self) -> list[FolderRecord]: ...
    def folders_in_order(self, batch: int = FOLDERS_PER_QUERY) -> Iterator[FolderRecord]: ...
    def folder_count(self) -> int: ...
    def folder(self, partition_key: str) -> FolderRecord | None: ...
    def forget_folder(self, partition_key: str) -> None: ...
    def pages(self, partition_key: str, status: str | None = None) -> dict[str, PageRecord]: ...
    def sync_pages(self, partition_key: str, page_ids: Iterable[str],
                   listing_signature: str | None = None) -> tuple[list[str], list[str]]: ...
    def claim(self, partition_key: str, page_id: str, owner: str, lease_s: float,
              expect_updated_at: float | None = None) -> bool: ...
    def record(self, partition_key: str, page_id: str, outcome: PageOutcome,
               owner: str | None = None) -> bool: ...
    def accept_unchanged(self, partition_key: str, page_id: str, size: int,
                         mtime_ns: int) -> None: ...
    def adopt_recipe(self, partition_key: str, recipe: str) -> int: ...
    def release_expired(self, partition_key: str) -> int: ...
    def release_owners(self, partition_key: str, owners: Iterable[str]) -> int: ...
    def status_counts(self, partition_key: str | None = None) -> dict[str, dict[str, int]]: ...
    def status_totals(self) -> dict[str, tuple[int, int]]: ...
    def finished_since(self, partition_keys: Sequence[str], since: float) -> int: ...
    def folder_summaries(self) -> dict[str, FolderSummary]: ...
    def store_ground_truth(self, partition_key: str, signature: str | None) -> None: ...
    def page(self, partition_key: str, page_id: str) -> PageRecord | None: ...
    def done_copies(self, content_key: str, recipe: str) -> list[PageRecord]: ...
    def duplicates(self, partition_key: str | None = None
                   ) -> dict[str, list[tuple[str, str]]]: ...
    def stored_listing(self, partition_key: str) -> StoredListing | None: ...
    def claim_alert(self, key: str, kind: str, body: str) -> bool: ...
    def record_alert(self, key: str, delivered: Sequence[str], error: str) -> None: ...
    def close(self) -> None: ...


SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS folders (
    partition_key TEXT PRIMARY KEY,
    folder_name TEXT NOT NULL,
    folder_name_raw BLOB NOT NULL,
    registered_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    partition_key TEXT NOT NULL,
    page_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    fingerprint TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    error_category TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    ms INTEGER,
    mean_confidence REAL,
    words INTEGER,
    chars INTEGER,
    garbage_score REAL,
    flags TEXT NOT NULL DEFAULT '',
    flag_reason TEXT NOT NULL DEFAULT '',
    output_name TEXT,
    engine TEXT,
    lease_owner TEXT,
    lease_until REAL,
    updated_at REAL,
    PRIMARY KEY (partition_key, page_id)
);
CREATE INDEX IF NOT EXISTS pages_status ON pages (partition_key, status);
CREATE TABLE IF NOT EXISTS folder_listings (
    partition_key TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    listed_at REAL NOT NULL
);
"""
"""The tables before the schema had a version number (every statement `IF NOT EXISTS`: a
manifest of that time is at version 0 and has them, or all but `folder_listings`, already).
`folder_listings` is a table of its own rather than a column of `folders`, so such a file gains
it with no `ALTER`."""

ALERTS_TABLE = """
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    delivered_to TEXT,
    error TEXT
)"""
"""The alerts claimed for sending, by their dedupe key (`Alert.key`): the message as JSON,
where it was delivered (comma-separated channels; NULL until tried) and why not elsewhere."""

DIGITS = "0123456789"
BACKFILL_CONTENT_KEYS = (
    "UPDATE pages SET content_key = CASE "
    f"WHEN rtrim(page_id, '{DIGITS}') LIKE '%{FRAME_MARK}' "
    f"AND rtrim(page_id, '{DIGITS}') <> page_id "
    f"THEN fingerprint || substr(page_id, length(rtrim(page_id, '{DIGITS}'))) "
    "ELSE fingerprint END WHERE fingerprint IS NOT NULL")
"""`content_key` in SQL that SQLite and PostgreSQL share, for the rows written before it was
kept: the trailing digits after a `#` are the page's number in its file."""

SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(statement.strip() for statement in SCHEMA_V1.split(";") if statement.strip()),
    ("ALTER TABLE pages ADD COLUMN recipe TEXT",
     # The nightly summary counts pages by status and recipe from the index alone.
     "DROP INDEX pages_status",
     "CREATE INDEX pages_status ON pages (partition_key, status, recipe)"),
    # The page ids a listing found: the counts invariant trusts an unchanged folder's rows
    # without listing its pages again only while they are still those ids.
    ("ALTER TABLE folder_listings ADD COLUMN pages_digest TEXT",),
    # Which host recorded a page, and how many times it was recorded done (a cluster's runs).
    ("ALTER TABLE pages ADD COLUMN host TEXT",
     "ALTER TABLE pages ADD COLUMN done_count INTEGER NOT NULL DEFAULT 0"),
    # The alerts sent (`engine.alerts`): one row per event, claimed before it is sent, so a
    # sensor evaluated twice, or the command line and the daemon both seeing a run, send once.
    (ALERTS_TABLE,),
    # Duplicate scans: each row's content key (filled in for the rows already read) on an
    # index of its own, what a page took its text from, and the ground truth a folder's
    # accuracy report read.
    ("ALTER TABLE pages ADD COLUMN content_key TEXT",
     "ALTER TABLE pages ADD COLUMN reused_from TEXT",
     "ALTER TABLE folder_listings ADD COLUMN ground_truth TEXT",
     BACKFILL_CONTENT_KEYS,
     "CREATE INDEX pages_content ON pages (content_key)"),
)
"""SQLite schema versions 1..n (kept in `PRAGMA user_version`), applied in order; a new
version is appended, never edited."""

PAGE_COLUMNS = tuple(PageRecord.__dataclass_fields__)


class SqlConnection(Protocol):
    """A DB-API connection in autocommit mode with sqlite3's shortcuts: `execute` and
    `executemany` take `?` placeholders and return the cursor."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...
    def close(self) -> None: ...


FOLDER_SELECT = ("SELECT partition_key, folder_name, folder_name_raw, registered_at "
                 "FROM folders")
"""The columns of a `FolderRecord`, in its order."""


def _folder_record(row: Sequence[Any]) -> FolderRecord:
    return FolderRecord(row[0], row[1], bytes(row[2]), row[3])


class SqlManifest(abc.ABC):
    """The manifest's queries, shared by the SQL backends. A backend supplies a connection per
    thread (`_connect`), the statement that opens a write transaction (`BEGIN`), and
    `_lock_folder`, which serialises the writes that touch many rows of one folder."""

    BEGIN = "BEGIN"
    KEY_ORDER = "partition_key"
    """The partition key as ordered by `folders_in_order`: code-point order, as Python sorts
    strings (SQLite's default; PostgreSQL's follows the database's collation otherwise)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @abc.abstractmethod
    def _connect(self) -> SqlConnection:
        """A new connection for the calling thread, in autocommit mode, schema ready."""

    def _connection(self) -> SqlConnection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @abc.abstractmethod
    def _lock_folder(self, db: SqlConnection, partition_key: str) -> None:
        """Hold the folder until the transaction ends, so two runs that sync or release the
        same folder at once queue instead of deadlocking on its rows."""

    @contextlib.contextmanager
    def _tx(self) -> Iterator[SqlConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        db = self._connection()
        db.execute(self.BEGIN)
        try:
            yield db
            kill_point("manifest.commit")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def register_folder(self, partition_key: str, folder_name: str, raw: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO folders (partition_key, folder_name, folder_name_raw, registered_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (partition_key) DO NOTHING",
                (partition_key, folder_name, raw, time.time()))

    def folders(self) -> list[FolderRecord]:
        """Every registered folder, in `folders_in_order`'s order."""
        return list(self.folders_in_order())

    def folders_in_order(self, batch: int = FOLDERS_PER_QUERY) -> Iterator[FolderRecord]:
        """Every registered folder in partition-key order (Python's string order), read
        `batch` at a time after the last key read: a walk over all folders (the corpus build
        and check) holds one batch, not the registry, and keeps no statement open between
        batches while runs write."""
        after = ""
        while True:
            rows = self._connection().execute(
                f"{FOLDER_SELECT} WHERE {self.KEY_ORDER} > ? ORDER BY {self.KEY_ORDER} LIMIT ?",
                (after, batch)).fetchall()
            yield from map(_folder_record, rows)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def folder_count(self) -> int:
        """How many folders are registered, counted by the database (a command's closing
        line), not by reading the registry."""
        return int(self._connection().execute("SELECT COUNT(*) FROM folders").fetchone()[0])

    def folder(self, partition_key: str) -> FolderRecord | None:
        row = self._connection().execute(
            f"{FOLDER_SELECT} WHERE partition_key = ?", (partition_key,)).fetchone()
        return _folder_record(row) if row else None

    def forget_folder(self, partition_key: str) -> None:
        with self._tx() as db:
            self._lock_folder(db, partition_key)
            db.execute("DELETE FROM pages WHERE partition_key = ?", (partition_key,))
            db.execute("DELETE FROM folder_listings WHERE partition_key = ?", (partition_key,))
            db.execute("DELETE FROM folders WHERE partition_key = ?", (partition_key,))

    def pages(self, partition_key: str, status: str | None = None) -> dict[str, PageRecord]:
        """The folder's rows by page id; with `status`, only the rows in that status."""
        query = f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages WHERE partition_key = ?"
        args: tuple[str, ...] = (partition_key,)
        if status is not None:
            query += " AND status = ?"
            args += (status,)
        return {row[1]: PageRecord(*row) for row in self._connection().execute(query, args)}

    def page(self, partition_key: str, page_id: str) -> PageRecord | None:
        """One page's row; None when the folder has no such page."""
        row = self._connection().execute(
            f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages WHERE partition_key = ? "
            "AND page_id = ?", (partition_key, page_id)).fetchone()
        return PageRecord(*row) if row else None

    def done_copies(self, content_key: str, recipe: str) -> list[PageRecord]:
        """The done rows of pages with this content read with this recipe, oldest first: the
        pages whose text a duplicate may take (on the `content_key` index)."""
        rows = self._connection().execute(
            f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages WHERE content_key = ? "
            "AND status = ? AND recipe = ? ORDER BY updated_at, partition_key, page_id",
            (content_key, DONE, recipe))
        return [PageRecord(*row) for row in rows]

    def duplicates(self, partition_key: str | None = None
                   ) -> dict[str, list[tuple[str, str]]]:
        """content key -> the (partition, page id) of every page with that content, for each
        content found on more than one page (whatever their status); with `partition_key`,
        only the contents found on a page of that folder. Grouped in SQL on the
        `content_key` index: only the rows of duplicates reach Python."""
        if partition_key is None:
            query = ("SELECT content_key, partition_key, page_id FROM pages WHERE content_key IN "
                     "(SELECT content_key FROM pages WHERE content_key IS NOT NULL "
                     "GROUP BY content_key HAVING COUNT(*) > 1)")
            args: tuple[str, ...] = ()
        else:
            query = ("SELECT content_key, partition_key, page_id FROM pages WHERE content_key IN "
                     "(SELECT content_key FROM pages WHERE partition_key = ? "
                     "AND content_key IS NOT NULL)")
            args = (partition_key,)
        groups: dict[str, list[tuple[str, str]]] = {}
        for key, partition, page_id in self._connection().execute(
                query + " ORDER BY content_key, partition_key, page_id", args):
            groups.setdefault(key, []).append((partition, page_id))
        return {key: pages for key, pages in groups.items() if len(pages) > 1}

    def store_ground_truth(self, partition_key: str, signature: str | None) -> None:
        """Keep the signature of the ground truth the folder's accuracy report just read (taken
        before it was read), beside its listing: the planning compares it with the ground
        truth on disk, so ground truth added later gets its report at the next run."""
        with self._tx() as db:
            db.execute("UPDATE folder_listings SET ground_truth = ? WHERE partition_key = ?",
                       (signature, partition_key))

    def sync_pages(self, partition_key: str, page_ids: Iterable[str],
                   listing_signature: str | None = None) -> tuple[list[str], list[str]]:
        """Make the folder's rows match its pages: new pages become pending rows, rows of pages
        no longer on disk are dropped. Returns the added and the removed page ids.

        `listing_signature`, the folder's signature taken before its pages were listed, is
        stored in the same transaction with the digest of the listed page ids: while the
        folder's signature on disk still equals it, its rows are known to match its pages
        without reading them (`folder_summaries`, `stored_listing`)."""
        wanted = list(dict.fromkeys(page_ids))
        with self._tx() as db:
            self._lock_folder(db, partition_key)
            existing = {r[0] for r in db.execute(
                "SELECT page_id FROM pages WHERE partition_key = ?", (partition_key,))}
            new = [p for p in wanted if p not in existing]
            gone = sorted(existing.difference(wanted))
            now = time.time()
            db.executemany(
                "INSERT INTO pages (partition_key, page_id, status, updated_at) "
                "VALUES (?, ?, 'pending', ?) ON CONFLICT (partition_key, page_id) DO NOTHING",
                [(partition_key, p, now) for p in new])
            db.executemany("DELETE FROM pages WHERE partition_key = ? AND page_id = ?",
                           [(partition_key, p) for p in gone])
            if listing_signature is not None:
                db.execute(
                    "INSERT INTO folder_listings (partition_key, signature, listed_at, "
                    "pages_digest) VALUES (?, ?, ?, ?) ON CONFLICT (partition_key) DO UPDATE "
                    "SET signature = excluded.signature, listed_at = excluded.listed_at, "
                    "pages_digest = excluded.pages_digest",
                    (partition_key, listing_signature, now, page_ids_digest(wanted)))
        return new, gone

    def claim(self, partition_key: str, page_id: str, owner: str, lease_s: float,
              expect_updated_at: float | None = None) -> bool:
        """Take a page for one attempt unless another live run holds it; counts the attempt.

        With `expect_updated_at` (the row's `updated_at` when the caller decided the page needs
        OCR) the claim also fails when the row changed since: another run on the same folder
        finished the page in the meantime, and it must not be done twice."""
        now = time.time()
        condition = ("(status != 'running' OR lease_until IS NULL OR lease_until < ? "
                     "OR lease_owner = ?)")
        args: tuple[object, ...] = (owner, now + lease_s, now, partition_key, page_id, now, owner)
        if expect_updated_at is not None:
            condition += " AND updated_at = ?"
            args += (expect_updated_at,)
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE pages SET status = 'running', lease_owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? "
                f"WHERE partition_key = ? AND page_id = ? AND {condition}", args)
            return cursor.rowcount == 1

    def record(self, partition_key: str, page_id: str, outcome: PageOutcome,
               owner: str | None = None) -> bool:
        """Store the outcome, end the lease, and name this host as the page's reader.

        With `owner` (the claim's), only while that owner still holds the page, and False
        when it no longer does: a host cut off from the network past its lease, whose page
        another host has since taken (and perhaps recorded), must not record it a second time
        when its connection comes back."""
        fence, fence_args = ("", ()) if owner is None else (" AND lease_owner = ?", (owner,))
        with self._tx() as db:
            return db.execute(
                "UPDATE pages SET status = ?, fingerprint = ?, size = ?, mtime_ns = ?, ms = ?, "
                "error_category = ?, error_message = ?, mean_confidence = ?, words = ?, "
                "chars = ?, garbage_score = ?, flags = ?, flag_reason = ?, output_name = ?, "
                "engine = ?, recipe = ?, content_key = ?, reused_from = ?, lease_owner = NULL, "
                "lease_until = NULL, updated_at = ?, host = ?, done_count = done_count + ? "
                f"WHERE partition_key = ? AND page_id = ?{fence}",
                (outcome.status, outcome.fingerprint, outcome.size, outcome.mtime_ns, outcome.ms,
                 outcome.error_category, outcome.error_message, outcome.mean_confidence,
                 outcome.words, outcome.chars, outcome.garbage_score, outcome.flags,
                 outcome.flag_reason, outcome.output_name, outcome.engine, outcome.recipe,
                 content_key(outcome.fingerprint, page_id), outcome.reused_from,
                 time.time(), socket.gethostname(), int(outcome.status == DONE),
                 partition_key, page_id, *fence_args)).rowcount == 1

    def accept_unchanged(self, partition_key: str, page_id: str, size: int,
                         mtime_ns: int) -> None:
        """A page whose bytes are unchanged but whose stat moved keeps its status."""
        with self._tx() as db:
            db.execute("UPDATE pages SET size = ?, mtime_ns = ? "
                       "WHERE partition_key = ? AND page_id = ?",
                       (size, mtime_ns, partition_key, page_id))

    def adopt_recipe(self, partition_key: str, recipe: str) -> int:
        """Give the folder's done rows that have no recipe (written before recipes were
        recorded) this one, the recipe in force: an upgrade reads no page again, and a later
        change of recipe is seen on them too. Returns how many rows were given it."""
        with self._tx() as db:
            return db.execute(
                "UPDATE pages SET recipe = ? WHERE partition_key = ? AND status = 'done' "
                "AND recipe IS NULL", (recipe, partition_key)).rowcount

    def release_expired(self, partition_key: str) -> int:
        """Return pages whose run died mid-page (lease expired) to pending."""
        now = time.time()
        with self._tx() as db:
            self._lock_folder(db, partition_key)
            cursor = db.execute(
                "UPDATE pages SET status = 'pending', lease_owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE partition_key = ? AND status = 'running' "
                "AND lease_until < ?", (now, partition_key, now))
            return cursor.rowcount

    def release_owners(self, partition_key: str, owners: Iterable[str]) -> int:
        """Return the running pages of these (dead) lease owners to pending, lease or not."""
        now = time.time()
        released = 0
        with self._tx() as db:
            self._lock_folder(db, partition_key)
            for owner in owners:
                released += db.execute(
                    "UPDATE pages SET status = 'pending', lease_owner = NULL, lease_until = NULL,"
                    " updated_at = ? WHERE partition_key = ? AND status = 'running' "
                    "AND lease_owner = ?", (now, partition_key, owner)).rowcount
        return released

    def status_counts(self, partition_key: str | None = None) -> dict[str, dict[str, int]]:
        """{partition_key: {status: count}} with every status present (zeros included)."""
        query = "SELECT partition_key, status, COUNT(*) FROM pages"
        args: tuple[str, ...] = ()
        if partition_key is not None:
            query += " WHERE partition_key = ?"
            args = (partition_key,)
        counts: dict[str, dict[str, int]] = {}
        for key, status, n in self._connection().execute(query + " GROUP BY 1, 2", args):
            counts.setdefault(key, dict.fromkeys(STATUSES, 0))[status] = n
        return counts

    def status_totals(self) -> dict[str, tuple[int, int]]:
        """{status: (pages, folders with such pages)} over every folder, counted by the
        database: the project's overview without a row per folder in memory."""
        rows = self._connection().execute(
            "SELECT status, COUNT(*), COUNT(DISTINCT partition_key) FROM pages GROUP BY status")
        return {status: (pages, folders) for status, pages, folders in rows}

    def finished_since(self, partition_keys: Sequence[str], since: float) -> int:
        """How many pages of the folders became done or failed at or after `since` (a
        `time.time()`): one count on the `(partition_key, status, ...)` index, no rows read into
        Python, so a progress display can ask it twice a second (for the folders of one run:
        a few dozen keys, far below SQLite's limit of parameters)."""
        if not partition_keys:
            return 0
        marks = ", ".join("?" * len(partition_keys))
        row = self._connection().execute(
            f"SELECT COUNT(*) FROM pages WHERE partition_key IN ({marks}) AND status IN (?, ?) "
            "AND updated_at >= ?", (*partition_keys, DONE, FAILED, since)).fetchone()
        return int(row[0])

    def stored_listing(self, partition_key: str) -> StoredListing | None:
        """The folder's listing as stored by its last `sync_pages`; None if never stored."""
        row = self._connection().execute(
            "SELECT signature, pages_digest FROM folder_listings WHERE partition_key = ?",
            (partition_key,)).fetchone()
        return StoredListing(*row) if row else None

    def folder_summaries(self) -> dict[str, FolderSummary]:
        """{partition_key: FolderSummary} of every folder that has page rows, in one query:
        the pages counted by status and recipe (on the `(partition_key, status, recipe)`
        index), each folder's stored listing signature and ground-truth signature joined to its
        counts."""
        rows = self._connection().execute(
            "SELECT c.partition_key, c.status, c.recipe, c.n, l.signature, l.ground_truth FROM "
            "(SELECT partition_key, status, recipe, COUNT(*) AS n FROM pages "
            "GROUP BY partition_key, status, recipe) AS c "
            "LEFT JOIN folder_listings AS l ON l.partition_key = c.partition_key")
        summaries: dict[str, FolderSummary] = {}
        for key, status, recipe, n, signature, ground_truth in rows:
            summary = summaries.setdefault(
                key, FolderSummary(dict.fromkeys(STATUSES, 0), signature,
                                   ground_truth=ground_truth))
            summary.counts[status] += n
            if status == DONE and recipe is not None:
                summary.done_by_recipe[recipe] = n
        return summaries

    def claim_alert(self, key: str, kind: str, body: str) -> bool:
        """Take the alert `key` for sending: True for the one caller that inserted its row,
        False for every other (it was claimed before, by this process or another)."""
        with self._tx() as db:
            return db.execute(
                "INSERT INTO alerts (key, kind, body, claimed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING", (key, kind, body, time.time())).rowcount == 1

    def record_alert(self, key: str, delivered: Sequence[str], error: str) -> None:
        """Where the claimed alert `key` was delivered, and why not to the other channels."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET delivered_to = ?, error = ? WHERE key = ?",
                       (",".join(delivered), error or None, key))
