"""What every OCR engine is: one small interface, and what engines share.

An engine turns one image file into text and word confidences in ONE pass (Tesseract's `txt`
and `tsv` renderers together, not `image_to_string` followed by `image_to_data`), with the hOCR
and ALTO renderers in the same pass when asked for. The built-in engines are the Tesseract CLI
through pytesseract (`tesseract_cli`) and Tesseract's C++ API kept loaded (`tesserocr_engine`);
`registry` picks one by name, or imports any other implementation of `OcrEngine` by its dotted
path (the way OCRmyPDF loads plugins), which is how the tests inject their fault engine.
"""

from __future__ import annotations

import abc
import csv
from dataclasses import dataclass, field
from pathlib import Path

from ocr_assets.engine.page.models import missing_models_message, model_names

TSV_WORD_LEVEL = "5"
TSV_PAGE_LEVEL = "1"


@dataclass(frozen=True)
class EngineOutput:
    text: str
    words: tuple[str, ...]
    confidences: tuple[float, ...]
    """Per-word confidence 0..100; structure rows (conf -1) are not words and are dropped."""
    image_read: bool
    """False when the engine exited cleanly but never saw the image (Leptonica decode failure)."""
    renderings: dict[str, str] = field(default_factory=dict)
    """Archival renderings asked for (`ARCHIVAL_FORMATS`: format -> document), same pass."""
    tsv: str = ""
    """The pass's TSV (words with their boxes): a searchable PDF's text layer is built from it."""
    image_path: Path | None = None
    """The image this pass read, in whose pixels the TSV's boxes are."""


ARCHIVAL_FORMATS: dict[str, tuple[str, str]] = {
    "hocr": ("tessedit_create_hocr", ".hocr"),
    "alto": ("tessedit_create_alto", ".xml"),
}
"""Format -> (Tesseract's renderer variable, the suffix it writes): Tesseract's own hOCR and
ALTO renderers, run in the same engine pass as text and TSV."""


class OcrEngine(abc.ABC):
    """One OCR engine, created once per process by `registry.get_engine` and kept (a worker
    keeps its engine loaded from page to page).

    `check_ready` runs in the orchestrating process before a batch; `recognise` in the pool's
    workers, once per page."""

    name: str

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version, recorded in every page's facts."""

    @abc.abstractmethod
    def check_ready(self, lang: str) -> None:
        """Raise `RuntimeError` saying what to install when the engine or a model of `lang` is
        missing (the batch fails early and is not retried); let an `OSError` through when a
        process could not be started (transient: the step's retry policy retries it)."""

    @abc.abstractmethod
    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        """Read one page; raise `PageError` with its category when it cannot be read."""


def parse_tsv(tsv: str) -> tuple[tuple[str, ...], tuple[float, ...], bool]:
    """Words, their confidences, and whether Tesseract emitted a page row at all."""
    words: list[str] = []
    confidences: list[float] = []
    page_seen = False
    # The CLI's TSV starts with a header row, the API's (tesserocr) does not; the header's
    # level column is "level", so the level tests below skip it either way.
    rows = csv.reader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in rows:
        if len(row) < 11:
            continue
        if row[0] == TSV_PAGE_LEVEL:
            page_seen = True
        elif row[0] == TSV_WORD_LEVEL:
            conf = float(row[10])
            text = row[11] if len(row) > 11 else ""
            if conf >= 0 and text.strip():
                words.append(text)
                confidences.append(conf)
    return tuple(words), tuple(confidences), page_seen


def missing_tesseract_message() -> str:
    return ("the tesseract program was not found on PATH; install it "
            "(Debian/Ubuntu: sudo apt-get install tesseract-ocr) or run scripts/setup.sh")


def missing_language_message(lang: str) -> str:
    """What to install when Tesseract could not load `lang` and which of its models is missing
    is not known (a failure seen only in the middle of a page)."""
    return missing_models_message(model_names(lang), lang)


def missing_osd_message() -> str:
    return ("Tesseract's orientation model osd.traineddata is missing; install it "
            "(Debian/Ubuntu: sudo apt-get install tesseract-ocr-osd) or set "
            "OCR_ASSETS_AUTO_ROTATE=0 to OCR pages as they are")
