"""Accuracy of the OCR text against ground truth: character and word error rates.

Ground truth of a page is a UTF-8 text file `<stem>.gt.txt` beside the page image (for a frame
of a multi-page file, `<stem>#<n>.gt.txt`), or the same relative path under a parallel ground-
truth root (`<gt_root>/<folder name>/...`). Pages without one are simply not evaluated.

The edit distances come from jiwer (on rapidfuzz), after one stated normalisation
(`NORMALISATION`) applied to both texts. A folder's rate is the sum of its pages' errors over
the sum of their reference lengths, so a long page weighs more than a short one (as in
ocrevalUAtion and dinglehopper), not the mean of page rates.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jiwer
import pandas as pd

from ocr_assets.engine.folder.discovery import FRAME_SEPARATOR
from ocr_assets.engine.folder.ground_truth import GROUND_TRUTH_SUFFIX, ground_truth_signature
from ocr_assets.engine.manifest import DONE
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import read_text

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder

NORMALISATION = ("Unicode NFC; every run of whitespace, line breaks included, counts as one "
                 "space; no leading or trailing space. Case, punctuation and historical "
                 "characters (long s, ligatures) are kept and count.")


def normalise_text(text: str) -> str:
    """The normalisation applied to reference and OCR text before scoring (`NORMALISATION`):
    line breaks and blank lines are layout, not characters."""
    return " ".join(unicodedata.normalize("NFC", text).split())


@dataclass(frozen=True)
class PageAccuracy:
    page: str
    reference_chars: int
    char_errors: int
    """Substitutions + deletions + insertions, in characters."""
    reference_words: int
    word_errors: int

    @property
    def cer(self) -> float:
        return _rate(self.char_errors, self.reference_chars)

    @property
    def wer(self) -> float:
        return _rate(self.word_errors, self.reference_words)


def _rate(errors: int, length: int) -> float:
    """errors / length; a reference of length 0 scores 0 when nothing was read, else 1."""
    if length == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / length


def score_text(reference: str, hypothesis: str, page: str = "") -> PageAccuracy:
    """Character and word errors of `hypothesis` (the OCR text) against `reference`."""
    ref, hyp = normalise_text(reference), normalise_text(hypothesis)
    if not ref:
        return PageAccuracy(page, 0, len(hyp), 0, len(hyp.split()))
    chars = jiwer.process_characters(ref, hyp)
    words = jiwer.process_words(ref, hyp)
    return PageAccuracy(
        page, len(ref), chars.substitutions + chars.deletions + chars.insertions,
        len(ref.split()), words.substitutions + words.deletions + words.insertions)


def cer(reference: str, hypothesis: str) -> float:
    """The character error rate of one text, after `normalise_text`."""
    return score_text(reference, hypothesis).cer


@dataclass
class FolderAccuracy:
    pages: list[PageAccuracy] = field(default_factory=list)
    without_ground_truth: int = 0
    ground_truth: str | None = None
    """`ground_truth.ground_truth_signature` of the files read, taken before they were."""

    @property
    def cer(self) -> float | None:
        if not self.pages:
            return None
        return _rate(sum(p.char_errors for p in self.pages),
                     sum(p.reference_chars for p in self.pages))

    @property
    def wer(self) -> float | None:
        if not self.pages:
            return None
        return _rate(sum(p.word_errors for p in self.pages),
                     sum(p.reference_words for p in self.pages))


def ground_truth_file(folder: Path, page_id: str, *, folder_name: str,
                      gt_root: Path | None = None) -> Path | None:
    """The ground-truth file of a page, beside it or under `gt_root`; None when there is none."""
    relative, _, frame = page_id.partition(FRAME_SEPARATOR)
    parent, _, name = relative.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    gt_name = f"{stem}{FRAME_SEPARATOR}{frame}" if frame else stem
    gt_relative = f"{parent}/{gt_name}{GROUND_TRUTH_SUFFIX}" if parent else (
        gt_name + GROUND_TRUTH_SUFFIX)
    candidates = [folder / gt_relative]
    if gt_root is not None:
        candidates.append(gt_root / folder_name / gt_relative)
    return next((path for path in candidates if path.is_file()), None)


def evaluate_folder(folder: ScanFolder) -> FolderAccuracy:
    """Score every done page of the folder that has ground truth (beside it, or under the
    project's ground-truth root). Only the texts of pages with ground truth are read."""
    gt_root = folder.project.ground_truth_root
    # Taken before the files are read: one that changes meanwhile makes it stale (the next
    # run writes the report again), never wrong.
    result = FolderAccuracy(ground_truth=ground_truth_signature(folder.path, folder.name,
                                                                gt_root))
    for page_id, row in sorted(folder.manifest.pages(folder.key).items()):
        if row.status != DONE or row.output_name is None:
            continue
        gt_path = ground_truth_file(folder.path, page_id, folder_name=folder.name,
                                    gt_root=gt_root)
        if gt_path is None:
            result.without_ground_truth += 1
            continue
        text = read_text(folder.outputs, output_keys(row.output_name)[0])
        result.pages.append(score_text(gt_path.read_text(encoding="utf-8"), text, page_id))
    return result


def accuracy_frame(result: FolderAccuracy) -> pd.DataFrame:
    """One row per evaluated page, for the folder's `accuracy.csv` report."""
    return pd.DataFrame.from_records(
        [(p.page, round(p.cer, 6), round(p.wer, 6), p.char_errors, p.reference_chars,
          p.word_errors, p.reference_words) for p in result.pages],
        columns=["page", "cer", "wer", "char_errors", "reference_chars", "word_errors",
                 "reference_words"])
