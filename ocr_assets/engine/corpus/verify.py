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
from ocr_assets.engine.corpus.previous import (
    NotInPartitionOrder,
    open_parquet,
    partition_groups,
)
from ocr_assets.engine.corpus.search import count_indexed_pages
from ocr_assets.engine.corpus.selection import (
    CorpusSelection,
    included_partitions,
    partition_signature,
)
from ocr_assets.engine.corpus.state import BuildState, read_state
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
    changed: list[str] = field(default_factory=list)
    """Folders whose rows changed since the build (or registered or forgotten since): the next
    build takes them."""
    waiting: list[str] = field(default_factory=list)
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
        if self.changed:
            said += (f"; {len(self.changed)} folders changed since the build (other runs OCRed "
                     "them meanwhile): the next build takes them")
        if self.waiting:
            said += (f"; {len(self.waiting)} folders are not OCRed yet and wait for their "
                     "first run")
        return said


def _written_partitions(parquet: pq.ParquetFile) -> Iterator[tuple[str, list[str]]]:
    """(partition, the page of each of its rows) of the written file, one partition at a time
    in file order (`previous.partition_groups`)."""
    for key, pieces in partition_groups(parquet, columns=["partition", "page"]):
        yield key, [page for rows in pieces for page in rows.column("page").to_pylist()]


def _side_by_side(keys: Iterator[str], written: Iterator[tuple[str, list[str]]]
                  ) -> Iterator[tuple[str, bool, list[str]]]:
    """(partition, registered, its written pages) of every partition registered or written, in
    partition order: the two sorted walks merged."""
    pending = next(written, None)
    for key in keys:
        while pending is not None and pending[0] < key:
            yield pending[0], False, pending[1]
            pending = next(written, None)
        if pending is not None and pending[0] == key:
            yield key, True, pending[1]
            pending = next(written, None)
        else:
            yield key, True, []
    while pending is not None:
        yield pending[0], False, pending[1]
        pending = next(written, None)


def _expected(manifest: Manifest, selection: CorpusSelection, state: BuildState,
              key: str) -> set[str] | None:
    """The pages of registered folder `key` the corpus must hold: its done pages with a text,
    the rows the build writes (`build.partition_records`), when it passed; None when its rows
    changed since the build, or since its verdict (they are read again after it)."""
    signature = selection.signatures[key]
    rows = manifest.pages(key)
    if signature != state.signature(key) or partition_signature(rows.values()) != signature:
        return None
    if key not in selection.included:
        return set()
    return {page for page, row in rows.items()
            if row.status == DONE and row.output_name is not None}


def verify_corpus(project: Project) -> CorpusVerification:
    """Check the written corpus against the manifest (see the module's docstring), one folder
    at a time: the written file is walked in partition order beside the registered folders, so
    what the check holds is one folder's pages, whatever the size of the corpus."""
    verification = CorpusVerification()
    corpus = project.corpus_store
    state = read_state(corpus)
    try:
        verification.indexed = count_indexed_pages(corpus)
        source = corpus.open_read(PARQUET_KEY)
    except FileNotFoundError as exc:
        verification.not_built = str(exc)
        return verification
    with source:
        if state is None:
            verification.not_built = ("its state.json is missing or was written by an older "
                                      "version: materialize ocr_corpus to rebuild it")
            return verification
        selection = included_partitions(project)
        changed = (state.included.keys() | state.left_out.keys()) - selection.signatures.keys()
        walk = _side_by_side(iter(sorted(selection.signatures)),
                             _written_partitions(open_parquet(source)))
        try:
            for key, registered, pages in walk:
                verification.rows += len(pages)
                have = set(pages)
                verification.duplicates += len(pages) - len(have)
                want = _expected(project.manifest, selection, state, key) if registered else set()
                if want is None:
                    changed.add(key)
                if key in changed:
                    continue
                verification.folders += key in selection.included
                verification.expected += len(want)
                verification.missing.extend((key, page) for page in sorted(want - have))
                verification.unexpected.extend((key, page) for page in sorted(have - want))
        except NotInPartitionOrder:  # what the walk found before is no finding
            return CorpusVerification(
                indexed=verification.indexed,
                not_built="its pages.parquet is not in partition order (written by an older "
                          "version): materialize ocr_corpus to rebuild it")
    verification.changed = sorted(changed)
    verification.waiting = [key for key in selection.waiting if key not in changed]
    return verification
