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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocr_assets.engine.corpus.build import read_corpus
from ocr_assets.engine.corpus.search import count_indexed_pages
from ocr_assets.engine.corpus.selection import included_partitions, partition_signature
from ocr_assets.engine.corpus.state import read_state
from ocr_assets.engine.manifest import DONE

if TYPE_CHECKING:
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


def verify_corpus(project: Project) -> CorpusVerification:
    """Check the written corpus against the manifest (see the module's docstring)."""
    verification = CorpusVerification()
    corpus = project.corpus_store
    state = read_state(corpus)
    try:
        written = read_corpus(corpus, columns=["partition", "page"])
        verification.indexed = count_indexed_pages(corpus)
    except FileNotFoundError as exc:
        verification.not_built = str(exc)
        return verification
    if state is None:
        verification.not_built = ("its state.json is missing or was written by an older "
                                  "version: materialize ocr_corpus to rebuild it")
        return verification
    manifest = project.manifest
    selection = included_partitions(project)
    changed = (state.included.keys() | state.left_out.keys()) - selection.signatures.keys()
    want: set[tuple[str, str]] = set()
    for key, signature in selection.signatures.items():
        rows = manifest.pages(key)  # read after the verdict: unchanged since, or changed
        if signature != state.signature(key) or partition_signature(rows.values()) != signature:
            changed.add(key)
        elif key in selection.included:
            want.update((key, page_id) for page_id, row in rows.items() if row.status == DONE)
    verification.changed = sorted(changed)
    verification.waiting = [key for key in selection.waiting if key not in changed]
    kept = written[~written["partition"].isin(changed)]
    have = set(zip(kept["partition"], kept["page"], strict=True))
    verification.expected, verification.rows = len(want), len(written)
    verification.folders = sum(1 for key in selection.included if key not in changed)
    verification.missing, verification.unexpected = sorted(want - have), sorted(have - want)
    verification.duplicates = int(written.duplicated().sum())
    return verification
