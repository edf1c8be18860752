"""Every setting that changes what a page's OCR produces or how it is run, in one frozen value.

The settings travel to pool workers by pickling, so they are a plain dataclass. The subset that
changes the *output* (`output_settings`) is stored with each page, so a page done with other
settings is visibly different in its facts file; its digest without the engine (`recipe_key`)
is stored in the page's manifest row, so a page done with another recipe is read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

from ocr_assets.engine.page.engines.choice import AUTO, resolve_engine

ARCHIVAL_FORMAT_NAMES = ("hocr", "alto")
"""The per-page archival documents an engine can write in the same pass as the text."""
DEFAULT_MIN_CONFIDENCE = 6.0
"""OSD's orientation confidence needed to turn a page. Measured on the shared test set: the
pages turned by 90, 180 and 270 degrees scored 9.3 to 11.0, while the one upright page that OSD
called upside down (a sparse 17th-century title page, script guessed as Thai) scored 3.6.
OCRmyPDF's default, 14, is tuned for dense full pages and left all of these unturned."""
DEFAULT_MAX_PDF_PAGES = 5000
"""Pages per PDF: above the thickest bound volume, far below a hostile page count."""
AUTO_LANG = "auto"
"""`lang = "auto"`: each page's model is chosen from the script orientation detection sees
(`models.SCRIPT_MODELS`)."""
DEFAULT_LATIN_LANG = "eng"
"""The model of Latin-script pages under `lang = "auto"` when nothing else names one."""
DEFAULT_RETRY_BELOW_CONFIDENCE = 85.0
"""A reading with a lower mean word confidence is doubtful, and read again by the second
readings a folder asks for (`alt_lang`, `deskew = "retry"`). Calibrated on the shared test set
(docs/quality.md, "When a page is read again"): Fraktur read with `deu` scores 54.6 to 79.8
(title pages 58 and 70), while the good pages score 91.9 to 96.3 (Antiqua with `deu`, modern
English, magazine pages with `eng`); 85 sits between, so every Fraktur page is read again and
none of the others. It was 50 (what orientation detection uses), which caught no Fraktur page."""
DESKEW_MODES = ("off", "retry", "always")
"""`deskew`: never; only pages whose first reading is doubtful, read again deskewed (the better
reading kept); every page before its OCR."""
RECIPE_KEY_CHARS = 16
"""64 bits of the recipe's digest: a folder has a handful of recipes over its life, not 2**32."""


def default_workers() -> int:
    """One single-threaded Tesseract per usable core (OCRmyPDF's and Tesseract's own rule)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class OcrSettings:
    """How pages are read, OCRed and bounded."""

    lang: str = "eng"
    psm: int = 3
    engine: str = AUTO
    """`<engine>[:options]`; `auto` is resolved when the settings are made, so a page's facts
    name the engine that read it (see `engines.choice`)."""
    workers: int = field(default_factory=default_workers)
    page_timeout_s: float = 180.0
    recycle_after: int = 200
    max_megapixels: float = 120.0
    max_side_px: int = 10000
    max_attempts: int = 3
    auto_rotate: bool = True
    """Detect a page turned by 90, 180 or 270 degrees (Tesseract OSD) and turn it upright."""
    rotate_every_page: bool = False
    """Ask OSD about every page before its OCR, instead of only about pages whose reading as
    scanned is doubtful (one more Tesseract pass per page: for batches known to be turned)."""
    rotate_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    worker_memory_mb: int = 0
    """Address-space limit of each worker process and its Tesseract, in MiB; 0: no limit.
    A page that needs more fails alone (`out_of_memory`) instead of waking the OOM killer."""
    decode: str = "auto"
    """`auto`: Tesseract reads plain files itself; `pillow`: Pillow decodes every page to PNG
    first; `pillow_truncated`: the same, accepting a truncated file's readable part (retry pass)."""
    archival_formats: tuple[str, ...] = ()
    """Per-page archival documents to write beside the text: `hocr`, `alto` (same pass)."""
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES
    """A PDF with more pages is one page that fails `too_large`, never thousands of rows: the
    folder's listing and the worker both apply it."""
    skip_text: bool = False
    """A PDF page that already has a text layer keeps that text instead of being OCRed
    (OCRmyPDF's `--skip-text`); set per folder in its `folder.toml`."""
    searchable_pdf: bool = False
    """Each page also gets its searchable PDF (the image read, with the words of the same pass
    as invisible text), from which the folder's PDF is merged; per folder in `folder.toml`."""
    latin_lang: str = ""
    """With `lang = "auto"`: the model of pages in Latin script (and of pages whose script
    orientation detection cannot tell); empty: `eng`."""
    alt_lang: str = ""
    """The alternative model: a page whose reading is doubtful (flagged, or of low confidence)
    is read again with it, and the better reading kept; empty: none."""
    deskew: str = "off"
    """`off`, `retry` (a doubtful reading is read again from the deskewed page, the better
    kept) or `always` (every page is deskewed before its OCR); see `page.deskew`."""
    clean: bool = False
    """Every page is cleaned by unpaper before its OCR (noise specks, dark scan borders; what
    OCRmyPDF's `--clean` does), and the cleaned image is what is read; see `page.clean`."""
    retry_below_confidence: float = DEFAULT_RETRY_BELOW_CONFIDENCE
    """A reading flagged empty or garbage, or with a mean word confidence below this, is read
    again by the second readings (`alt_lang`, `deskew = "retry"`); see the default's note."""
    reuse_duplicates: bool = True
    """A page whose scan was already read (the same file bytes elsewhere, done with the same
    recipe and engine) takes that reading instead of an OCR (`folder.duplicates`); turned off
    for the project (`OCR_ASSETS_REUSE_DUPLICATES=0`) or per folder in its `folder.toml`."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.archival_formats) - set(ARCHIVAL_FORMAT_NAMES))
        if unknown:
            raise ValueError(f"unknown archival formats {unknown}; choose from "
                             f"{sorted(ARCHIVAL_FORMAT_NAMES)} (OCR_ASSETS_ARCHIVAL_FORMATS)")
        if self.deskew not in DESKEW_MODES:
            raise ValueError(f"deskew {self.deskew!r} is not one of {list(DESKEW_MODES)} "
                             "(OCR_ASSETS_DESKEW, or `deskew` in a folder.toml)")
        if self.lang == AUTO_LANG and not self.latin_lang:
            object.__setattr__(self, "latin_lang", DEFAULT_LATIN_LANG)
        object.__setattr__(self, "engine", resolve_engine(self.engine, self.archival_formats))

    def models(self) -> list[str]:
        """Every language spec a page of these settings may be read with, before any page is:
        what must be installed (`lang = "auto"` needs its Latin model; the models of other
        scripts are looked for per page, see `models.SCRIPT_MODELS`)."""
        first = self.latin_lang if self.lang == AUTO_LANG else self.lang
        return [first] + ([self.alt_lang] if self.alt_lang else [])

    def recipe(self) -> dict[str, object]:
        """The settings that decide what text a page yields: the language and page segmentation
        mode, what image Tesseract reads (downscaling, decoding) and whether and when it is
        turned upright first. Not the engine (pytesseract and tesserocr run Tesseract with the same
        model and settings on the same image; the small differences between their Tesseract
        versions are not worth reading a corpus again), nor how pages are scheduled, bounded or
        retried (workers, timeouts, memory, attempts, the megapixel and page refusals), nor the
        archival documents written beside the text. `skip_text`, `alt_lang`, `deskew`, `clean`,
        `retry_below_confidence` (whenever a second reading uses it, so a new default reads
        those folders again) and `latin_lang` (set under `lang = "auto"`) are in it only when
        set, so the recipes of every page read before they existed stay what they were; so is
        `searchable_pdf`, which does not change the text but is made from the pass that reads
        it: turning it on reads a folder's done pages once more, for their PDFs."""
        recipe: dict[str, object] = {
            "lang": self.lang, "psm": int(self.psm), "max_side_px": int(self.max_side_px),
            "auto_rotate": bool(self.auto_rotate),
            "rotate_every_page": bool(self.rotate_every_page),
            "rotate_min_confidence": float(self.rotate_min_confidence), "decode": self.decode}
        if self.skip_text:
            recipe["skip_text"] = True
        if self.searchable_pdf:
            recipe["searchable_pdf"] = True
        if self.latin_lang:  # set under `auto` only, unless a folder.toml names it anyway
            recipe["latin_lang"] = self.latin_lang
        if self.alt_lang:
            recipe["alt_lang"] = self.alt_lang
        if self.deskew != "off":
            recipe["deskew"] = self.deskew
        if self.clean:
            recipe["clean"] = True
        if (self.retry_below_confidence != DEFAULT_RETRY_BELOW_CONFIDENCE or self.alt_lang
                or self.deskew == "retry"):
            recipe["retry_below_confidence"] = float(self.retry_below_confidence)
        return recipe

    def recipe_key(self) -> str:
        """A short, stable digest of `recipe()`: what a done page's manifest row keeps, so a
        page read with another recipe (a `folder.toml` that now says `lang = "deu"`) is read
        again, decided from the row alone."""
        canonical = json.dumps(self.recipe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:RECIPE_KEY_CHARS]

    def output_settings(self) -> dict[str, object]:
        """The settings that change a page's text, and the engine that read it: stored in its
        facts for provenance."""
        return {"engine": self.engine, **self.recipe()}

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
