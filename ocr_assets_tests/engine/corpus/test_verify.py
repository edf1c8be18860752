"""The corpus check against a manifest that other runs change while the corpus is built and
checked: a folder changed since the build is named and left to the next build; a folder the
build saw as it is now must be exactly in the corpus."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd

from ocr_assets.engine.corpus.layout import STATE_KEY
from ocr_assets.engine.corpus.selection import choose
from ocr_assets.engine.corpus.verify import verify_corpus
from ocr_assets_tests.engine.corpus.corpus_project import Corpus


def beta_with_a_page_in_flight(corpus: Corpus, fixtures_dir: Path) -> None:
    """beta gets a second page, listed but not OCRed yet (as while another run reads it)."""
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", corpus.scans / "beta" / "new.tif")
    corpus.manifest.sync_pages("beta", ["eurotext.tif", "new.tif"])


def test_a_folder_finished_by_another_run_after_the_build_is_named_not_missing(
        corpus: Corpus, fixtures_dir: Path) -> None:
    beta_with_a_page_in_flight(corpus, fixtures_dir)
    summary = corpus.build()
    assert "1 not terminal" in dict(summary.excluded.sample)["beta"]
    corpus.process("beta")  # the other run finishes beta after the build

    verification = verify_corpus(corpus.project)

    assert verification.passed, verification.description()
    assert (verification.changed.sample, verification.expected, verification.rows) == (
        ["beta"], 1, 1)
    assert "1 folders changed since the build" in verification.description()
    corpus.build()
    rebuilt = verify_corpus(corpus.project)
    assert rebuilt.passed and rebuilt.changed.count == 0 and rebuilt.expected == 3


def test_a_folder_the_build_left_out_though_it_passed_is_missing(
        corpus: Corpus, fixtures_dir: Path) -> None:
    beta_with_a_page_in_flight(corpus, fixtures_dir)
    corpus.build()
    corpus.process("beta")
    # A build that saw beta exactly as it is now, and still left it out: a wrong corpus.
    beta = choose(corpus.project, corpus.manifest.folder("beta"))
    lines = [json.loads(line) for line in corpus.corpus.path(STATE_KEY).read_text().splitlines()]
    for line in lines[1:]:
        if line["partition"] == "beta":
            line.update(signature=beta.signature, included=False)
    corpus.corpus.path(STATE_KEY).write_text("".join(json.dumps(line) + "\n" for line in lines))

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert verification.missing == [("beta", "eurotext.tif"), ("beta", "new.tif")]
    assert verification.changed.count == 0


def test_a_row_of_an_unchanged_folder_lost_from_the_parquet_fails(corpus: Corpus) -> None:
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    pd.read_parquet(parquet).iloc[1:].to_parquet(parquet, index=False)

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert verification.missing == [("alpha", "phototest.tif")]
    assert verification.description() == ("1 pages missing, 0 unexpected, 0 duplicated, 2 of 1 "
                                          "rows indexed")


def test_a_corpus_never_built_or_with_an_older_or_damaged_state_fails_saying_so(
        corpus: Corpus) -> None:
    assert verify_corpus(corpus.project).not_built is not None
    corpus.build()
    state = corpus.corpus.path(STATE_KEY).read_text().splitlines()
    header, alpha, beta = state
    older = json.dumps({"version": 2, "partitions": {}})
    for damaged in ([older], [header, beta, alpha], [header, alpha, beta[:-3]]):
        corpus.corpus.path(STATE_KEY).write_text("\n".join(damaged) + "\n")

        verification = verify_corpus(corpus.project)

        assert not verification.passed
        assert "materialize ocr_corpus to rebuild it" in verification.description()


def test_a_done_page_without_an_output_is_expected_no_more_than_the_build_writes_it(
        corpus: Corpus) -> None:
    """The build writes a row for a done page with an output name (its text); the check
    expects exactly those rows, so such a page is not held against the corpus as missing."""
    corpus.build()
    with sqlite3.connect(corpus.project.data_root / "manifest.sqlite") as db:
        db.execute("UPDATE pages SET output_name = NULL WHERE partition_key = 'alpha'")
    db.close()
    corpus.build()

    verification = verify_corpus(corpus.project)

    assert verification.passed, verification.description()
    assert (verification.expected, verification.rows) == (1, 1)


def test_a_parquet_not_in_partition_order_is_named_not_checked_wrong(corpus: Corpus) -> None:
    """The check walks the file folder by folder, as the build writes it; a file in another
    order (an older version's) fails with what to do, not with pages called missing."""
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    pd.read_parquet(parquet).iloc[::-1].to_parquet(parquet, index=False)

    verification = verify_corpus(corpus.project)

    assert not verification.passed and verification.missing == []
    assert "not in partition order" in verification.description()
    assert "materialize ocr_corpus to rebuild it" in verification.description()


def test_pages_of_many_folders_are_checked_folder_by_folder(corpus: Corpus) -> None:
    """Rows of a folder the registry does not know, a duplicated row and a lost row, each
    found where it is in the walk (before, between and after the registered folders)."""
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    frame = pd.read_parquet(parquet)
    stray = frame.iloc[[0]].assign(partition="aaa_unknown")
    late = frame.iloc[[0]].assign(partition="zzz_unknown")
    kept = pd.concat([stray, frame.iloc[[0]], frame.iloc[[0]], late], ignore_index=True)
    kept.to_parquet(parquet, index=False)

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert verification.missing == [("beta", "eurotext.tif")]
    assert verification.unexpected == [("aaa_unknown", "phototest.tif"),
                                       ("zzz_unknown", "phototest.tif")]
    assert (verification.duplicates, verification.rows, verification.expected) == (1, 4, 2)
