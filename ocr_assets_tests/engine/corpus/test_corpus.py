"""The corpus: Parquet, JSON Lines and SQLite FTS5, incremental, verified folders only; and
full-text search in it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocr_assets.engine.corpus import files, ordered, previous
from ocr_assets.engine.corpus.build import build_corpus, read_corpus, read_folders
from ocr_assets.engine.corpus.schema import ARROW_SCHEMA, CORPUS_COLUMNS
from ocr_assets.engine.corpus.search import (
    CorpusNotBuiltError,
    count_indexed_pages,
    search_corpus,
)
from ocr_assets.engine.corpus.verify import verify_corpus
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import LocalStore
from ocr_assets_tests.engine.corpus.corpus_project import Corpus, project_at


def test_every_format_holds_one_row_per_done_page(corpus: Corpus) -> None:
    summary = corpus.build()
    assert (summary.rows, summary.folders, dict(summary.excluded.sample)) == (2, 2, {})
    frame = read_corpus(corpus.corpus)
    assert tuple(frame.columns) == CORPUS_COLUMNS
    assert list(zip(frame["partition"], frame["page"], strict=True)) == [
        ("alpha", "phototest.tif"), ("beta", "eurotext.tif")]
    settings = json.loads(frame["settings"][0])
    assert (settings["lang"], settings["psm"], settings["auto_rotate"]) == ("eng", 3, True)
    assert frame["engine_version"][0].startswith("5.")
    assert frame["fingerprint"].str.startswith("sha256:").all()
    assert "quick brown dog" in frame["text"][0]

    lines = corpus.corpus.path("pages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["page"] for line in lines] == ["phototest.tif", "eurotext.tif"]
    with sqlite3.connect(corpus.corpus.path("pages.sqlite")) as db:
        assert db.execute("SELECT partition, page FROM pages ORDER BY id").fetchall() == [
            ("alpha", "phototest.tif"), ("beta", "eurotext.tif")]
    assert count_indexed_pages(corpus.corpus) == 2
    verification = verify_corpus(corpus.project)
    assert verification.passed and (verification.expected, verification.folders) == (2, 2)


def test_an_unchanged_build_rereads_nothing_and_a_changed_folder_only_itself(
        corpus: Corpus, fixtures_dir: Path) -> None:
    corpus.build()
    again = corpus.build()
    assert (again.reread.sample, sorted(again.reused.sample)) == ([], ["alpha", "beta"])

    # beta's text file changes behind the manifest's back: an unchanged folder is not re-read,
    # so the corpus keeps what it had (the manifest, not the files, says what changed).
    beta_text = corpus.ocr.path("beta/" + output_keys("eurotext.tif")[0])
    beta_text.write_text("edited behind the manifest", encoding="utf-8")
    # alpha gets a new page: only alpha is re-read.
    shutil.copy(fixtures_dir / "pages" / "eurotext.tif", corpus.scans / "alpha" / "second.tif")
    corpus.process("alpha")
    changed = corpus.build()

    assert (changed.reread.sample, changed.reused.sample) == (["alpha"], ["beta"])
    frame = read_corpus(corpus.corpus)
    assert list(zip(frame["partition"], frame["page"], strict=True)) == [
        ("alpha", "phototest.tif"), ("alpha", "second.tif"), ("beta", "eurotext.tif")]
    assert "edited" not in " ".join(frame["text"])
    assert count_indexed_pages(corpus.corpus) == 3
    assert sorted(h.page for h in search_corpus(corpus.corpus, "renard")) == [
        "eurotext.tif", "second.tif"]


def test_a_folder_whose_blocking_verdict_fails_is_left_out(corpus: Corpus,
                                                           fixtures_dir: Path) -> None:
    corpus.build()
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", corpus.scans / "beta" / "new.tif")
    summary = corpus.build()
    assert dict(summary.excluded.sample) == {
        "beta": "blocking check failed: 1 on disk but not in the manifest"}
    assert (summary.removed.sample, summary.rows) == (["beta"], 1)
    assert list(read_corpus(corpus.corpus)["partition"]) == ["alpha"]
    assert count_indexed_pages(corpus.corpus) == 1

    corpus.process("beta")
    back = corpus.build()
    assert (dict(back.excluded.sample), back.reread.sample, back.rows) == ({}, ["beta"], 3)


def test_a_folder_never_run_waits_and_is_no_failure(corpus: Corpus) -> None:
    (corpus.scans / "gamma").mkdir()
    shutil.copy(corpus.scans / "alpha" / "phototest.tif", corpus.scans / "gamma" / "p.tif")
    summary = corpus.build()  # registers gamma, which has no row yet
    assert summary.waiting.sample == ["gamma"]
    assert dict(summary.excluded.sample) == {}, "not OCRed yet is not a broken blocking rule"
    assert summary.rows == 2
    verification = verify_corpus(corpus.project)
    assert verification.passed and verification.waiting.sample == ["gamma"]
    assert verification.expected == 2, "gamma's page is not expected in the corpus"


def test_rows_the_previous_files_lack_are_read_again_not_trusted(corpus: Corpus) -> None:
    """A build that died after writing `pages.parquet` and `pages.sqlite` but before
    `state.jsonl` leaves files that the state does not describe: an unchanged folder whose rows
    they lack is read again, and a database that does not add up is built again."""
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    pq.write_table(pq.read_table(parquet).slice(1), parquet)  # alpha's row lost
    with sqlite3.connect(corpus.corpus.path("pages.sqlite")) as db:
        db.execute("DELETE FROM pages WHERE partition = 'beta'")
    db.close()

    summary = corpus.build()

    assert (summary.reread.sample, summary.reused.sample) == (["alpha"], ["beta"])
    assert list(read_corpus(corpus.corpus)["partition"]) == ["alpha", "beta"]
    assert count_indexed_pages(corpus.corpus) == 2


def test_a_previous_file_not_sorted_by_partition_is_read_again_not_reused(
        corpus: Corpus) -> None:
    """Rows are taken from the previous file by walking it in partition order: a file whose
    folders are not in that order (not written by this build) gives nothing to reuse."""
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    table = pq.read_table(parquet)
    pq.write_table(pa.concat_tables([table.slice(1), table.slice(0, 1)]), parquet)

    summary = corpus.build()

    assert (summary.reread.sample, summary.reused.sample) == (["alpha", "beta"], [])
    assert list(read_corpus(corpus.corpus)["partition"]) == ["alpha", "beta"]
    assert count_indexed_pages(corpus.corpus) == 2


def test_the_parquet_file_is_written_and_reused_a_piece_at_a_time(
        corpus: Corpus, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a build holds is a row group, and a piece of the previous file: with groups and
    pieces of one row, a folder of two pages spans two of each, the file holds the same rows as
    one written whole, and the next build takes them back unchanged."""
    shutil.copy(fixtures_dir / "pages" / "eurotext.tif", corpus.scans / "alpha" / "second.tif")
    corpus.process("alpha")
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 1)
    monkeypatch.setattr(previous, "ROWS_PER_READ", 1)
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    assert pq.ParquetFile(parquet).num_row_groups == 3
    written = pq.read_table(parquet)
    assert written.equals(pa.concat_tables(read_folders(
        corpus.manifest, corpus.ocr, [("alpha", "alpha"), ("beta", "beta")])))

    corpus.corpus.path("pages.jsonl").unlink()  # a file missing: written again, from the reuse
    again = corpus.build()

    assert (again.reread.sample, again.reused.sample) == ([], ["alpha", "beta"])
    assert pq.read_table(parquet).equals(written)
    assert [json.loads(line)["page"] for line in
            corpus.corpus.path("pages.jsonl").read_text().splitlines()] == [
        "phototest.tif", "second.tif", "eurotext.tif"]


def test_chunks_of_folders_give_the_same_rows_order_and_types(corpus: Corpus) -> None:
    """The build reads rows a chunk at a time into one Arrow table each, across folders and
    within one: the size of a chunk changes nothing in the rows."""
    corpus.build()
    folders = {"alpha": "alpha", "beta": "beta"}
    one = pa.concat_tables(read_folders(corpus.manifest, corpus.ocr, folders.items(), 1))
    both = pa.concat_tables(read_folders(corpus.manifest, corpus.ocr, folders.items(), 64))
    assert one.equals(both) and one.schema == ARROW_SCHEMA
    assert one.column("page").to_pylist() == ["phototest.tif", "eurotext.tif"]
    assert one.equals(pq.read_table(corpus.corpus.path("pages.parquet")))


def test_the_parts_of_an_older_version_are_deleted(corpus: Corpus) -> None:
    """Version 1 kept a Parquet part per folder: the first newer build deletes them and
    re-reads every folder (the older state is not trusted)."""
    corpus.corpus.path("parts").mkdir(parents=True)
    corpus.corpus.path("parts/alpha.parquet").write_bytes(b"PAR1")
    corpus.corpus.path("state.json").write_text(json.dumps(
        {"version": 1, "partitions": {"alpha": "0" * 64}}))

    summary = corpus.build()

    assert not corpus.corpus.path("parts/alpha.parquet").exists()
    assert summary.reread.sample == ["alpha", "beta"]
    assert not corpus.corpus.path("state.json").exists(), "the older state is gone"
    header = corpus.corpus.path("state.jsonl").read_text().splitlines()[0]
    assert json.loads(header) == {"version": 3}


def test_a_damaged_state_is_not_trusted_and_every_folder_is_read_again(corpus: Corpus) -> None:
    """The state is read through before it is walked: a torn or edited file is found before
    the build acts on half of it."""
    corpus.build()
    state = corpus.corpus.path("state.jsonl")
    state.write_text(state.read_text().splitlines()[0] + "\n{\"partition\": \"alpha\"\n")

    summary = corpus.build()

    assert (summary.reread.sample, summary.reused.count, summary.rows) == (["alpha", "beta"], 0, 2)
    assert verify_corpus(corpus.project).passed
    assert corpus.build().reused.sample == ["alpha", "beta"]


def test_a_summary_counts_every_folder_and_names_the_first(
        corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a build reports does not grow with the folders: a count, and a few names."""
    monkeypatch.setattr(ordered, "SAMPLE_SIZE", 1)
    corpus.build()
    again = corpus.build()
    assert (again.reused.count, again.reused.sample, again.folders) == (2, ["alpha"], 2)


def test_a_lost_database_is_rebuilt_whole(corpus: Corpus) -> None:
    corpus.build()
    corpus.corpus.path("pages.sqlite").unlink()
    summary = corpus.build()
    assert summary.reread.sample == []
    assert count_indexed_pages(corpus.corpus) == 2


def test_search_returns_folder_page_and_a_highlighted_snippet(corpus: Corpus) -> None:
    corpus.build()
    hits = search_corpus(corpus.corpus, "lazy fox")
    assert {(h.folder, h.page) for h in hits} == {("alpha", "phototest.tif"),
                                                  ("beta", "eurotext.tif")}
    assert all("[lazy]" in h.snippet or "[fox]" in h.snippet for h in hits)
    assert [h.page for h in search_corpus(corpus.corpus, '"brown dog"')] == ["phototest.tif"]
    assert [h.page for h in search_corpus(corpus.corpus, "schnel*")] == ["eurotext.tif"]
    assert search_corpus(corpus.corpus, "zebra") == []
    # What people type is not always FTS5 syntax: it is searched as plain words then.
    assert [h.page for h in search_corpus(corpus.corpus, 'dog" AND (')] == ["phototest.tif"]
    assert len(search_corpus(corpus.corpus, "the", limit=1)) == 1
    with pytest.raises(ValueError, match="empty"):
        search_corpus(corpus.corpus, "  ")


HOSTILE_QUERIES = [
    "'; DROP TABLE pages; --", 'x" OR "1"="1', '"', "*", "\0quick", "fox\0dog", "-fox", "^quick",
    "{folder}: fox", "rowid:1", "pages_fts:fox", "NEAR(quick dog, 2)", "(" * 500 + "fox",
    "fox OR " * 100 + "fox", "%s ? :1 $1", "Füchse 狐 🦊", "fox\udcff", "\ud800",
]
"""SQL injection, FTS5 syntax abuse (column filters, special queries, unbalanced parentheses
deep enough to overflow the parser), NUL characters, non-UTF-8 bytes from a command line."""


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=range(len(HOSTILE_QUERIES)))
def test_a_hostile_query_returns_hits_or_nothing_and_changes_nothing(corpus: Corpus,
                                                                     query: str) -> None:
    corpus.build()
    database = corpus.corpus.path("pages.sqlite")
    before = database.read_bytes()

    hits = search_corpus(corpus.corpus, query)

    assert all(h.page in {"phototest.tif", "eurotext.tif"} for h in hits)
    assert database.read_bytes() == before
    assert count_indexed_pages(corpus.corpus) == 2
    assert [h.page for h in search_corpus(corpus.corpus, '"brown dog"')] == ["phototest.tif"]


def test_an_overlong_query_is_refused_with_the_limit(corpus: Corpus) -> None:
    corpus.build()
    with pytest.raises(ValueError, match="more than the 1000 allowed"):
        search_corpus(corpus.corpus, "fox " * 20_000)


def test_search_before_any_build_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotBuiltError, match="ocr-assets run"):
        search_corpus(LocalStore(tmp_path), "anything")


def test_an_empty_corpus_is_valid(tmp_path: Path) -> None:
    summary = build_corpus(project_at(tmp_path))
    assert summary.rows == 0
    assert list(pd.read_parquet(tmp_path / "corpus" / "pages.parquet").columns) == list(
        CORPUS_COLUMNS)
    assert count_indexed_pages(LocalStore(tmp_path / "corpus")) == 0
