"""Calibration of the empty and garbage detector on labelled pages: precision and recall.

The labelled pages:
- `text`: every page of the shared set's `pages/` (clean modern English, multi-column magazine
  pages, turned pages, German pages from 1515 to 1879), and the text pages of `bad/` (phototest
  in five other formats, a Fraktur JPEG 2000, a dense passport-instructions scan, the 28 pages
  of an MIT memo but one, a page with one line of text);
- `empty`: the blank, near-blank and no-text inputs of `bad/` (covers, endpapers with a library
  label, photos, a colour chart, tiny no-text images);
- `garbage`: a fern plate, a memo page of mirror-image show-through, and noise pages made here
  from fixed seeds (scribbles in text-like rows, mirrored text).

Each page is OCRed by the real pipeline (`process_folder`) in a folder configured as a user
would: German (its `folder.toml`) for the German sources, English (the default) for the rest.
The whole set is read once, with the other tests that need the same pages
(`shared_ocr.py`); `calibrate` reads a few files of its own. A page counts as flagged when its
quality flags are not empty; precision and recall are those of "flagged" against "labelled
empty or garbage".

`python -m ocr_assets_tests.quality_calibration [TESTDATA]` prints the table of docs/quality.md.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ocr_assets.engine.manifest import DONE
from ocr_assets.engine.page.quality import QualityThresholds
from ocr_assets_tests.helpers import FIXTURES
from ocr_assets_tests.shared_ocr import (
    Placement,
    SharedOcr,
    language_of,
    ocr_placements,
    ocr_shared_set,
    shared_pages,
)

TEXT, EMPTY, GARBAGE = "text", "empty", "garbage"

BAD_LABELS: dict[str, str] = {
    # file in bad/ -> label (its folder's language: `shared_ocr.language_of`)
    "16bit.cropped.tif": EMPTY,
    "blank_cover_laube_1837_0310.jpg": EMPTY,
    "decompression_bomb_extents.gif": EMPTY,
    "g4-multi.tiff": EMPTY,
    "hopper_bigtiff.tif": EMPTY,
    "hopper_orientation_6.jpg": EMPTY,
    "i_trns.png": EMPTY,
    "multipage.tiff": EMPTY,
    "nearblank_backcover_vischer_1858_0081.jpg": EMPTY,
    "nearblank_endpaper_laube_1837_0309.jpg": EMPTY,
    "old-style-jpeg-compression.tif": EMPTY,
    "pil_sample_cmyk.jpg": EMPTY,
    "tiff_wrong_bits_per_sample.tiff": EMPTY,
    "indian-ferns_0004_pyramid.tif": GARBAGE,
    "kant_aufklaerung_1784_0020.jp2": TEXT,
    "ocropy_aim916.tiff": TEXT,
    "pport_g4.tif": TEXT,
    "pytesseract_test.bmp": TEXT,
    "pytesseract_test.gif": TEXT,
    "pytesseract_test.jpeg2000": TEXT,
    "pytesseract_test.pgm": TEXT,
    "pytesseract_test.webp": TEXT,
    "sparse_trainingtimes.tif": TEXT,
}
FRAME_LABELS = {"ocropy_aim916.tiff#27": GARBAGE}
"""Frames labelled otherwise than their file: page 27 of the memo is a form printed in mirror
image (show-through of its back); Tesseract reads it at confidence 22 as noise."""
UNLABELLED: dict[str, str] = {
    # Inputs of bad/ that are in neither class, and why; the pipeline's verdict is reported.
    "baiona_alpha.png": "a map: place names scattered over a picture",
    "baiona_cmyk.jpg": "a map: place names scattered over a picture",
    "baiona_colormapped.png": "a map: place names scattered over a picture",
    "large_gerstner_1831_0019.jpg": "a fold-out table plate with two lines of text",
    "kraken_arabic.webp": "an Arabic text page: garbage with the English model, text with an "
                          "Arabic one",
}
"""The other files of bad/ are unreadable and fail (they are failures, not flagged pages)."""


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    label: str | None
    """None: in neither class (`UNLABELLED`), reported only."""
    lang: str


@dataclass(frozen=True)
class Verdict:
    page: str
    label: str | None
    flags: str
    reason: str
    garbage_score: float | None

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass
class Calibration:
    verdicts: list[Verdict] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def _count(self, *, labelled_bad: bool, flagged: bool) -> int:
        return sum(1 for v in self.verdicts if v.label is not None
                   and (v.label != TEXT) is labelled_bad and v.flagged is flagged)

    @property
    def true_positives(self) -> int:
        return self._count(labelled_bad=True, flagged=True)

    @property
    def false_positives(self) -> int:
        return self._count(labelled_bad=False, flagged=True)

    @property
    def false_negatives(self) -> int:
        return self._count(labelled_bad=True, flagged=False)

    @property
    def true_negatives(self) -> int:
        return self._count(labelled_bad=False, flagged=False)

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        bad = self.true_positives + self.false_negatives
        return self.true_positives / bad if bad else 1.0

    def mistakes(self) -> list[Verdict]:
        return [v for v in self.verdicts
                if v.label is not None and (v.label != TEXT) is not v.flagged]


def labelled_files(testdata: Path, generated: Iterable[Path]) -> list[LabelledFile]:
    """Every labelled input of the shared set, plus the generated noise pages (garbage)."""
    files = [LabelledFile(path, TEXT, language_of(path)) for path in shared_pages(testdata)]
    for name, label in BAD_LABELS.items():
        path = testdata / "bad" / name
        files.append(LabelledFile(path, label, language_of(path)))
    for name in UNLABELLED:
        path = testdata / "bad" / name
        files.append(LabelledFile(path, None, language_of(path)))
    return files + [LabelledFile(path, GARBAGE, "eng") for path in generated]


def calibration_of(shared: SharedOcr, files: Iterable[LabelledFile]) -> Calibration:
    """Compare the pipeline's flags to the labels, page by page (a frame of a multi-page file
    is a page)."""
    result = Calibration()
    for item in files:
        for page, row in shared.pages_of(item.path).items():
            if row.status != DONE:
                result.failed.append(f"{page}: {row.error_category}")
                continue
            result.verdicts.append(Verdict(page, FRAME_LABELS.get(page, item.label), row.flags,
                                           row.flag_reason, row.garbage_score))
    return result


def calibrate(files: Iterable[LabelledFile], work: Path, *, workers: int = 2) -> Calibration:
    """OCR these files with the pipeline, one folder per language, and compare flags to
    labels."""
    files = list(files)
    placements = [Placement(item.path, item.lang, f"{item.path.parent.name}/{item.path.name}",
                            item.lang) for item in files]
    return calibration_of(ocr_placements(placements, work, workers=workers), files)


def markdown(result: Calibration) -> str:
    """The table of docs/quality.md: counts, precision, recall, every page it got wrong."""
    labelled = [v for v in result.verdicts if v.label is not None]
    counts = {label: sum(v.label == label for v in labelled) for label in (TEXT, EMPTY, GARBAGE)}
    lines = [
        f"Labelled pages: {len(labelled)} ({counts[TEXT]} text, {counts[EMPTY]} empty, "
        f"{counts[GARBAGE]} garbage).",
        "",
        "| | flagged | not flagged |",
        "|---|---|---|",
        f"| labelled empty or garbage | {result.true_positives} | {result.false_negatives} |",
        f"| labelled text | {result.false_positives} | {result.true_negatives} |",
        "",
        f"Precision {result.precision:.3f}, recall {result.recall:.3f}.",
    ]
    text_scores = [v for v in labelled if v.label == TEXT and v.garbage_score is not None]
    garbage = [v for v in labelled if "garbage" in v.flags and v.garbage_score is not None]
    if text_scores and garbage:
        closest_text = max(text_scores, key=lambda v: v.garbage_score or 0.0)
        closest_garbage = min(garbage, key=lambda v: v.garbage_score or 0.0)
        lines += ["", f"Closest calls: the text page with the highest garbage score is "
                      f"{closest_text.page} ({closest_text.garbage_score:.3f}); the garbage "
                      f"page with the lowest, {closest_garbage.page} "
                      f"({closest_garbage.garbage_score:.3f}); the limit is "
                      f"{QualityThresholds().garbage_score:g}."]
    wrong = result.mistakes()
    if wrong:
        lines += ["", "Wrong: " + "; ".join(f"{v.page} ({v.label}, flags '{v.flags}': "
                                             f"{v.reason or 'not flagged'})" for v in wrong)]
    unlabelled = [v for v in result.verdicts if v.label is None]
    if unlabelled:
        lines += ["", "Unlabelled inputs: " + "; ".join(
            f"{v.page}: {v.flags or 'text'}" for v in unlabelled)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    testdata = Path(argv[1]) if len(argv) > 1 else FIXTURES.parents[1].parent / "shared" / (
        "testdata")
    with tempfile.TemporaryDirectory(prefix="ocr-assets-calibration-") as tmp:
        shared = ocr_shared_set(testdata, Path(tmp))
        result = calibration_of(shared, labelled_files(testdata, shared.generated))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
