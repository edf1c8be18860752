"""The corpus check against a manifest that other runs change while the corpus is built and
checked: a folder changed since the build is named and left to the next build; a folder the
build saw as it is now must be exactly in the corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from ocr_assets.engine.corpus.layout import STATE_KEY
from ocr_assets.engine.corpus.selection import included_partitions
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
    assert "1 not terminal" in summary.excluded["beta"]
    corpus.process("beta")  # the other run finishes beta after the build

    verification = verify_corpus(corpus.project)

    assert verification.passed, verification.description()
    assert (verification.changed, verification.expected, verification.rows) == (["beta"], 1, 1)
    assert "1 folders changed since the build" in verification.description()
    corpus.build()
    rebuilt = verify_corpus(corpus.project)
    assert rebuilt.passed and rebuilt.changed == [] and rebuilt.expected == 3


def test_a_folder_the_build_left_out_though_it_passed_is_missing(
        corpus: Corpus, fixtures_dir: Path) -> None:
    beta_with_a_page_in_flight(corpus, fixtures_dir)
    corpus.build()
    corpus.process("beta")
    # A build that saw beta exactly as it is now, and still left it out: a wrong corpus.
    state = json.loads(corpus.corpus.path(STATE_KEY).read_text())
    state["left_out"]["beta"] = included_partitions(corpus.project).signatures["beta"]
    corpus.corpus.path(STATE_KEY).write_text(json.dumps(state))

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert verification.missing == [("beta", "eurotext.tif"), ("beta", "new.tif")]
    assert verification.changed == []


def test_a_row_of_an_unchanged_folder_lost_from_the_parquet_fails(corpus: Corpus) -> None:
    corpus.build()
    parquet = corpus.corpus.path("pages.parquet")
    pd.read_parquet(parquet).iloc[1:].to_parquet(parquet, index=False)

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert verification.missing == [("alpha", "phototest.tif")]
    assert verification.description() == ("1 pages missing, 0 unexpected, 0 duplicated, 2 of 1 "
                                          "rows indexed")


def test_a_corpus_never_built_or_from_an_older_version_fails_saying_so(corpus: Corpus) -> None:
    assert verify_corpus(corpus.project).not_built is not None
    corpus.build()
    corpus.corpus.path(STATE_KEY).write_text(json.dumps({"version": 1, "partitions": {}}))

    verification = verify_corpus(corpus.project)

    assert not verification.passed
    assert "materialize ocr_corpus to rebuild it" in verification.description()
