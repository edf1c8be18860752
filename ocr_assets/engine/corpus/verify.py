"""The corpus check: the written corpus holds exactly the done pages of every folder whose
blocking verdict passes, no row twice, and its full-text index holds every row.

Other runs go on OCRing while the corpus is built and checked, so the manifest of the moment is
not what the last build saw. A folder whose rows changed since that build (`state.py` holds
the signatures it saw; a folder registered or forgotten since counts as changed too) is not
held against the corpus: it is named as changed, and the next build, which every folder run
is followed by, takes it. Every other folder must be exactly as the manifest says. Each
folder's signature is read before and after its verdict and pages, so rows that change while
the check reads them count as changed as well, never as missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocr_assets.engine.corpus.layout import PARQUET_KEY
from ocr_assets.engine.corpus.ordered import NotInPartitionOrder, Tally, aligned
from ocr_assets.engine.corpus.previous import open_parquet, partition_groups
from ocr_assets.engine.corpus.search import count_indexed_pages
from ocr_assets.engine.corpus.selection import (
    INCLUDED,
    WAITING,
    FolderChoice,
    folder_choices,
    partition_signature,
)
from ocr_assets.engine.corpus.state import SeenFolder, open_state
from ocr_assets.engine.manifest import DONE, Manifest

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from ocr_assets.engine.project import Project


@dataclass
class CorpusVerification:
    """What the check found; `passed` only when nothing is wrong."""

    expected: int = 0
    """Rows the corpus must hold (done pages of the included, unchanged folders)."""
    rows: int = 0
    indexed: int = 0
    folders: int = 0
    """Folders included and unchanged since the build."""
    missing: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    changed: Tally[str] = field(default_factory=Tally)
    """Folders whose rows changed since the build (or registered or forgotten since): the next
    build takes them."""
    waiting: Tally[str] = field(default_factory=Tally)
    not_built: str | None = None
    """Why there is no corpus to check (never built), or None."""

    @property
    def passed(self) -> bool:
        return (self.not_built is None and not self.missing and not self.unexpected
                and not self.duplicates and self.indexed == self.rows)

    def description(self) -> str:
        if self.not_built is not None:
            return f"corpus not built: {self.not_built}"
        said = (f"{self.expected} pages of {self.folders} folders" if self.passed else
                f"{len(self.missing)} pages missing, {len(self.unexpected)} unexpected, "
                f"{self.duplicates} duplicated, {self.indexed} of {self.rows} rows indexed")
        if self.changed.count:
            said += (f"; {self.changed.count} folders changed since the build (other runs "
                     "OCRed them meanwhile): the next build takes them")
        if self.waiting.count:
            said += (f"; {self.waiting.count} folders are not OCRed yet and wait for their "
                     "first run")
        return said


def _written_partitions(parquet: pq.ParquetFile) -> Iterator[tuple[str, list[str]]]:
    """(partition, the page of each of its rows) of the written file, one partition at a time
    in file order (`previous.partition_groups`)."""
    for key, pieces in partition_groups(parquet, columns=["partition", "page"]):
        yield key, [page for rows in pieces for page in rows.column("page").to_pylist()]


def _expected(manifest: Manifest, choice: FolderChoice | None, seen: SeenFolder | None
              ) -> set[str] | None:
    """The pages of a folder the corpus must hold: for a registered folder that passed, its
    done pages with a text (the rows the build writes, `build.partition_records`); none for one
    left out, or never registered. None when it changed since the build: registered or
    forgotten since, its rows changed since, or since its verdict (they are read again after
    it)."""
    if choice is None:
        return None if seen is not None else set()
    if seen is None or choice.signature != seen.signature:
        return None
    rows = manifest.pages(choice.partition)
    if partition_signature(rows.values()) != choice.signature:
        return None
    if choice.verdict != INCLUDED:
        return set()
    return {page for page, row in rows.items()
            if row.status == DONE and row.output_name is not None}


def verify_corpus(project: Project) -> CorpusVerification:
    """Check the written corpus against the manifest (see the module's docstring), one folder
    at a time: the registered folders, the last build's state and the written file are walked
    side by side in partition order, so what the check holds is one folder's pages, whatever
    the number of folders or the size of the corpus."""
    verification = CorpusVerification()
    corpus = project.corpus_store
    try:
        verification.indexed = count_indexed_pages(corpus)
        source = corpus.open_read(PARQUET_KEY)
    except FileNotFoundError as exc:
        verification.not_built = str(exc)
        return verification
    with source, open_state(corpus) as state:
        if state is None:
            verification.not_built = ("its state.jsonl is missing or was written by an older "
                                      "version: materialize ocr_corpus to rebuild it")
            return verification
        walk = aligned(folder_choices(project), state, _written_partitions(open_parquet(source)))
        try:
            for key, (choice, seen, pages) in walk:
                _check_folder(verification, project.manifest, key, choice, seen, pages or [])
        except NotInPartitionOrder:  # what the walk found before is no finding
            return CorpusVerification(
                indexed=verification.indexed,
                not_built="its pages.parquet is not in partition order (written by an older "
                          "version): materialize ocr_corpus to rebuild it")
    return verification


def _check_folder(verification: CorpusVerification, manifest: Manifest, key: str,
                  choice: FolderChoice | None, seen: SeenFolder | None, pages: list[str]
                  ) -> None:
    """Hold one folder's written pages against what the corpus must hold of it."""
    verification.rows += len(pages)
    have = set(pages)
    verification.duplicates += len(pages) - len(have)
    want = _expected(manifest, choice, seen)
    if want is None:
        verification.changed.add(key)
        return
    if choice is not None and choice.verdict == WAITING:
        verification.waiting.add(key)
    verification.folders += choice is not None and choice.verdict == INCLUDED
    verification.expected += len(want)
    verification.missing.extend((key, page) for page in sorted(want - have))
    verification.unexpected.extend((key, page) for page in sorted(have - want))
