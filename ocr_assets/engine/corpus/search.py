"""Full-text search in the corpus's SQLite FTS5 index (`pages.sqlite`, built by `corpus`).

Queries use FTS5's syntax (words, `"exact phrases"`, `prefix*`, `AND`/`OR`/`NOT`, `NEAR`); a
query that is not valid FTS5 syntax (a stray quote or colon, as people type) is searched again
as plain words, each quoted, so a search never fails on punctuation. The query is only ever a
bound parameter, and the database is opened read-only.

Before it reaches SQLite a query is made safe to pass at all: NUL characters (which cut a C
string short) become spaces, and unpaired surrogates (what Python makes of non-UTF-8 bytes in
a command line) become U+FFFD. A query longer than `MAX_QUERY_CHARS` is refused: FTS5's cost
grows with the number of terms (20,000 took 6 s), and nobody types that much.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ocr_assets.engine.corpus.layout import SQLITE_KEY
from ocr_assets.engine.store.outputs import LocalStore, OutputStore

SNIPPET_TOKENS = 16
MAX_QUERY_CHARS = 1000
SEARCH_SQL = """
SELECT pages.folder, pages.partition, pages.page,
       snippet(pages_fts, 0, ?, ?, '…', ?) AS snippet, bm25(pages_fts) AS rank
FROM pages_fts JOIN pages ON pages.id = pages_fts.rowid
WHERE pages_fts MATCH ?
ORDER BY rank, pages.partition, pages.page
LIMIT ?
"""


@dataclass(frozen=True)
class SearchHit:
    folder: str
    partition: str
    page: str
    snippet: str
    """The best-matching passage, with the matched words between the highlight marks."""


class CorpusNotBuiltError(FileNotFoundError):
    """There is no `pages.sqlite` yet: run `ocr-assets run` (or materialize ocr_corpus)."""


@contextmanager
def corpus_database(corpus: OutputStore) -> Iterator[Path]:
    """A local path to the corpus database: the file itself in a local store, else a
    temporary copy of the object."""
    if not corpus.exists(SQLITE_KEY):
        raise CorpusNotBuiltError(f"{corpus.uri(SQLITE_KEY)} does not exist: build the corpus "
                                  "first (ocr-assets run)")
    if isinstance(corpus, LocalStore):
        yield corpus.path(SQLITE_KEY)
        return
    with tempfile.TemporaryDirectory(prefix="ocr-assets-search-") as tmp:
        path = Path(tmp) / SQLITE_KEY
        path.write_bytes(corpus.read_bytes(SQLITE_KEY))
        yield path


def as_plain_words(query: str) -> str:
    """Every whitespace-separated word as an FTS5 string, so punctuation means nothing."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in query.split())


def clean_query(query: str) -> str:
    """`query` as SQLite can take it; `ValueError` for one that is empty or too long."""
    text = query.replace("\0", " ").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if not text.strip():
        raise ValueError("the search query is empty: give one or more words")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the search query has {len(text)} characters, more than the "
                         f"{MAX_QUERY_CHARS} allowed: search for fewer words")
    return text


def search_corpus(corpus: OutputStore, query: str, *, limit: int = 20,
                  highlight: tuple[str, str] = ("[", "]")) -> list[SearchHit]:
    """The best `limit` pages for `query`, best first (FTS5's bm25 rank)."""
    query = clean_query(query)
    with corpus_database(corpus) as path:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            try:
                rows = db.execute(SEARCH_SQL, (*highlight, SNIPPET_TOKENS, query, limit))
                found = rows.fetchall()
            except sqlite3.OperationalError:  # the SQL is fixed: the query is not FTS5
                found = db.execute(SEARCH_SQL, (*highlight, SNIPPET_TOKENS,
                                                as_plain_words(query), limit)).fetchall()
        finally:
            db.close()
    return [SearchHit(folder, partition, page, " ".join(snippet.split()))
            for folder, partition, page, snippet, _ in found]


def count_indexed_pages(corpus: OutputStore) -> int:
    """Rows of the full-text database; `FileNotFoundError` when it was never built."""
    with corpus_database(corpus) as path:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT COUNT(*) FROM pages").fetchone()[0])
        finally:
            db.close()
