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

Each page is OCRed by the real pipeline (`process_folder`) in a folder whose `folder.toml`
sets the language a user would configure for it: German for the German sources, English for
the rest. A page counts as flagged when its quality flags are not empty; precision and recall
are those of "flagged" against "labelled empty or garbage".

`python -m ocr_assets_tests.quality_calibration [TESTDATA]` prints the table of the README.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from ocr_assets.engine import OcrSettings, open_manifest, process_folder
from ocr_assets.engine.discovery import discover_pages
from ocr_assets.engine.folder_config import FOLDER_CONFIG_NAME
from ocr_assets.engine.manifest import DONE
from ocr_assets.engine.quality import QualityThresholds
from ocr_assets_tests.helpers import FIXTURES

TEXT, EMPTY, GARBAGE = "text", "empty", "garbage"
GERMAN_SOURCES = frozenset({"OCR-D_assets", "OCR-D_gt_structure_text",
                            "qurator-spk_dinglehopper"})

BAD_LABELS: dict[str, tuple[str, str]] = {
    # file in bad/ -> (label, language its folder would be configured with)
    "16bit.cropped.tif": (EMPTY, "eng"),
    "blank_cover_laube_1837_0310.jpg": (EMPTY, "deu"),
    "decompression_bomb_extents.gif": (EMPTY, "eng"),
    "g4-multi.tiff": (EMPTY, "eng"),
    "hopper_bigtiff.tif": (EMPTY, "eng"),
    "hopper_orientation_6.jpg": (EMPTY, "eng"),
    "i_trns.png": (EMPTY, "eng"),
    "multipage.tiff": (EMPTY, "eng"),
    "nearblank_backcover_vischer_1858_0081.jpg": (EMPTY, "deu"),
    "nearblank_endpaper_laube_1837_0309.jpg": (EMPTY, "deu"),
    "old-style-jpeg-compression.tif": (EMPTY, "eng"),
    "pil_sample_cmyk.jpg": (EMPTY, "eng"),
    "tiff_wrong_bits_per_sample.tiff": (EMPTY, "eng"),
    "indian-ferns_0004_pyramid.tif": (GARBAGE, "eng"),
    "kant_aufklaerung_1784_0020.jp2": (TEXT, "deu"),
    "ocropy_aim916.tiff": (TEXT, "eng"),
    "pport_g4.tif": (TEXT, "eng"),
    "pytesseract_test.bmp": (TEXT, "eng"),
    "pytesseract_test.gif": (TEXT, "eng"),
    "pytesseract_test.jpeg2000": (TEXT, "eng"),
    "pytesseract_test.pgm": (TEXT, "eng"),
    "pytesseract_test.webp": (TEXT, "eng"),
    "sparse_trainingtimes.tif": (TEXT, "eng"),
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


def scribble_page(seed: int, path: Path) -> Path:
    """Rows of random pen strokes at text size: what a dirty or damaged page looks like to an
    OCR engine, and it reads them as letters."""
    rng = random.Random(seed)
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    for row in range(150, 2050, 60):
        x = 120
        while x < 1550:
            for _ in range(rng.randrange(2, 9)):
                points = [(x + rng.randrange(0, 18), row + rng.randrange(0, 30))
                          for _ in range(rng.randrange(2, 5))]
                draw.line(points, fill=0, width=3)
                x += rng.randrange(14, 24)
            x += rng.randrange(25, 45)
    image.save(path, dpi=(200, 200))
    return path


def mirrored_page(source: Path, path: Path) -> Path:
    """A text page in mirror image, as show-through of a page's back side reads."""
    with Image.open(source) as image:
        ImageOps.mirror(image.convert("L")).save(path, dpi=image.info.get("dpi", (300, 300)))
    return path


def noise_pages(folder: Path) -> list[LabelledFile]:
    folder.mkdir(parents=True, exist_ok=True)
    made = [scribble_page(1, folder / "noise_scribble_1.png"),
            scribble_page(2, folder / "noise_scribble_2.png"),
            mirrored_page(FIXTURES / "pages" / "phototest.tif", folder / "noise_mirrored_1.png"),
            mirrored_page(FIXTURES / "pages" / "eurotext.tif", folder / "noise_mirrored_2.png")]
    return [LabelledFile(path, GARBAGE, "eng") for path in made]


def labelled_files(testdata: Path, generated: Path) -> list[LabelledFile]:
    """Every labelled input of the shared set, plus the generated noise pages."""
    files = [LabelledFile(path, TEXT, "deu" if source.name in GERMAN_SOURCES else "eng")
             for source in sorted((testdata / "pages").iterdir()) if source.is_dir()
             for path in sorted(source.iterdir())
             if ".gt." not in path.name and path.suffix in (".tif", ".png", ".jpg")]
    for name, (label, lang) in BAD_LABELS.items():
        files.append(LabelledFile(testdata / "bad" / name, label, lang))
    for name in UNLABELLED:
        files.append(LabelledFile(testdata / "bad" / name, None, "eng"))
    return files + noise_pages(generated)


def calibrate(files: Iterable[LabelledFile], work: Path, *, workers: int = 2) -> Calibration:
    """OCR every file with the pipeline, one folder per language, and compare flags to labels."""
    by_lang: dict[str, list[LabelledFile]] = {}
    for item in files:
        by_lang.setdefault(item.lang, []).append(item)
    manifest = open_manifest(work / "manifest.sqlite")
    result = Calibration()
    for lang, items in sorted(by_lang.items()):
        folder = work / "scans" / lang
        folder.mkdir(parents=True)
        (folder / FOLDER_CONFIG_NAME).write_text(f'lang = "{lang}"\n', encoding="utf-8")
        labels: dict[str, str | None] = {}
        for item in items:
            name = f"{item.path.parent.name}__{item.path.name}"
            shutil.copy(item.path, folder / name)
            labels[name] = item.label
        process_folder(folder, lang, lang, manifest=manifest, out_root=work / "ocr",
                       settings=OcrSettings(workers=workers))
        frames = {page.page_id: page for page in discover_pages(folder).pages}
        for page_id, row in sorted(manifest.pages(lang).items()):
            file_name = frames[page_id].path.name
            original = file_name.split("__", 1)[1] + page_id[len(file_name):]
            if row.status != DONE:
                result.failed.append(f"{original}: {row.error_category}")
                continue
            label = FRAME_LABELS.get(original, labels[file_name])
            result.verdicts.append(Verdict(original, label, row.flags, row.flag_reason,
                                           row.garbage_score))
    return result


def markdown(result: Calibration) -> str:
    """The README's table: counts, precision, recall, and every page the detector got wrong."""
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
        work = Path(tmp)
        result = calibrate(labelled_files(testdata, work / "generated"), work)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
