"""Every setting of a project, as one plain value: where things live and how pages are read.

`ProjectConfig` is the one list of settings. The command line builds it from its flags over the
`OCR_ASSETS_*` environment variables (`from_environ`), the Dagster resource `OcrConfig` has
exactly these fields (generated from this class), so the UI shows the configuration each run
used; nothing writes the environment, and nothing reads it at import time.

A field's metadata names its environment variable (`env`) and says what it is for (`doc`).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ocr_assets.engine.settings import (
    DEFAULT_MAX_PDF_PAGES,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_RETRY_BELOW_CONFIDENCE,
    OcrSettings,
    default_workers,
)

ENV_PREFIX = "OCR_ASSETS_"
DEFAULT_MAX_FAILED_SHARE = 0.5
"""The share of failed pages above which a folder's blocking check fails (OCR-D's limit)."""
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


T = typing.TypeVar("T")


def setting(default: object, env: str, doc: str) -> typing.Any:
    """A configuration field: its default, its `OCR_ASSETS_<env>` variable, what it is for."""
    return field(default=default, metadata={"env": ENV_PREFIX + env, "doc": doc})


@dataclass(frozen=True)
class ProjectConfig:
    """Where scans, outputs and the manifest live, and how pages are OCRed."""

    data_root: str = setting("data", "DATA", "The data root: outputs, reports, corpus, the "
                              "manifest and the embedded Dagster instance live under it.")
    scans_root: str = setting("", "SCANS", "The scans root, one folder per box or volume; "
                               "empty: `<data_root>/scans`.")
    manifest_url: str = setting("", "MANIFEST_URL", "The manifest: a `postgresql://` URL for "
                                 "several machines; empty: `<data_root>/manifest.sqlite`.")
    output_url: str = setting("", "OUTPUT_URL", "Where outputs live: a shared directory or an "
                               "object store (`s3://bucket/prefix`); empty: `data_root`.")
    ground_truth_root: str = setting("", "GROUND_TRUTH", "A parallel ground-truth tree "
                                      "(`<root>/<folder>/<stem>.gt.txt`); empty: only ground "
                                      "truth beside the pages is used.")
    workers: int = setting(0, "WORKERS", "OCR processes per run; 0: the cores divided by the "
                            "folders that may OCR at once.")
    page_timeout_s: float = setting(180.0, "PAGE_TIMEOUT_S", "Seconds one page may take before "
                                     "its Tesseract is killed and the page fails alone.")
    lang: str = setting("eng", "LANG", "Tesseract model(s), e.g. `deu+eng`, `frk`, "
                         "`script/Fraktur`, or `auto` (per page, from the script orientation "
                         "detection sees); a folder's `folder.toml` overrides it.")
    alt_lang: str = setting("", "ALT_LANG", "The alternative model: a doubtful reading "
                             "(flagged, or of low confidence) is read again with it, the better "
                             "kept; empty: none.")
    retry_below_confidence: float = setting(
        DEFAULT_RETRY_BELOW_CONFIDENCE, "RETRY_BELOW_CONFIDENCE", "A reading flagged empty or "
        "garbage, or below this mean word confidence, is read again by `alt_lang` and "
        "`deskew = retry`.")
    deskew: str = setting("off", "DESKEW", "`off`, `retry` (a doubtful reading is read again "
                           "from the deskewed page, the better kept) or `always` (every page "
                           "is deskewed before its OCR).")
    clean: bool = setting(False, "CLEAN", "Every page is cleaned by unpaper before its OCR "
                          "(noise specks, dark scan borders: OCRmyPDF's `--clean`); needs the "
                          "`unpaper` package.")
    psm: int = setting(3, "PSM", "Tesseract page segmentation mode.")
    engine: str = setting("auto", "ENGINE", "`auto` (tesserocr when installed and no ALTO is "
                           "asked for, else pytesseract), `pytesseract` (the Tesseract "
                           "CLI: its text page for page), `tesserocr` (kept loaded), or the "
                           "dotted path of an OcrEngine factory; `:options` after it.")
    max_megapixels: float = setting(120.0, "MAX_MEGAPIXELS", "Pages above this are refused "
                                     "before any pixel is decoded (decompression bombs).")
    max_pdf_pages: int = setting(DEFAULT_MAX_PDF_PAGES, "MAX_PDF_PAGES", "A PDF with more "
                                  "pages is refused as a whole (one page that fails "
                                  "`too_large`) before any page is read.")
    max_side_px: int = setting(10000, "MAX_SIDE_PX", "Pages with a longer side are downscaled "
                                "before OCR.")
    recycle_after: int = setting(200, "RECYCLE_AFTER", "A worker process is replaced after "
                                  "this many pages.")
    max_attempts: int = setting(3, "MAX_ATTEMPTS", "Plain re-runs of a page with a transient "
                                 "failure before it is left to the retry pass.")
    auto_rotate: bool = setting(True, "AUTO_ROTATE", "Turn pages upright when Tesseract's "
                                 "orientation detection is confident; it is asked about pages "
                                 "whose reading as scanned is doubtful.")
    rotate_every_page: bool = setting(False, "ROTATE_EVERY_PAGE", "Ask orientation detection "
                                       "about every page before its OCR (one more pass each).")
    rotate_min_confidence: float = setting(DEFAULT_MIN_CONFIDENCE, "ROTATE_MIN_CONFIDENCE",
                                            "Orientation confidence needed to turn a page.")
    worker_memory_mb: int = setting(0, "WORKER_MEMORY_MB", "Address-space limit per OCR worker "
                                     "in MiB; 0: no limit.")
    ocr_runs: int = setting(0, "OCR_RUNS", "How many folders may OCR at once (the limit of the "
                             "`tesseract` pool); 0: keep the limit an operator set, else the "
                             "instance's default, else 1.")
    max_failed_share: float = setting(DEFAULT_MAX_FAILED_SHARE, "MAX_FAILED_SHARE",
                                       "A folder with a larger share of failed pages fails its "
                                       "blocking check and stays out of the corpus: that many "
                                       "failures point at a cause to fix.")
    max_cer: float = setting(0.10, "MAX_CER", "The accuracy check warns when a folder's "
                              "character error rate is above this.")
    archival_formats: str = setting("", "ARCHIVAL_FORMATS", "Comma-separated per-page archival "
                                     "documents written in the same pass: `hocr`, `alto`.")
    searchable_pdf: bool = setting(False, "SEARCHABLE_PDF", "Each page also gets a searchable "
                                   "PDF (its image with the OCR words as invisible text), and "
                                   "each folder one PDF of its done pages; a folder's "
                                   "`folder.toml` can turn it on or off.")
    pdfa: bool = setting(False, "PDFA", "Write each folder's searchable PDF as PDF/A-2b "
                         "(pikepdf prepares and validates it).")
    reuse_duplicates: bool = setting(True, "REUSE_DUPLICATES", "A page whose scan (the same "
                                      "file bytes) was already read with the same recipe and "
                                      "engine takes that reading instead of an OCR; a "
                                      "`folder.toml` may say otherwise for its folder.")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> ProjectConfig:
        """The configuration of `environ`'s `OCR_ASSETS_*` variables, with `overrides` (the
        command line's flags; None means not given) on top, paths made absolute."""
        return read_environ(cls, environ, **overrides).absolute()

    def absolute(self) -> ProjectConfig:
        """The same configuration with the data and scans roots absolute (and the scans root
        filled in), as every process of a deployment must see them."""
        data = Path(self.data_root).absolute()
        scans = Path(self.scans_root).absolute() if self.scans_root else data / "scans"
        return dataclasses.replace(self, data_root=str(data), scans_root=str(scans))

    def environ(self) -> dict[str, str]:
        """The `OCR_ASSETS_*` variables that say this configuration, for processes this one
        starts (the UI's webserver, daemon and run workers)."""
        return {setting.metadata["env"]: _format(getattr(self, setting.name))
                for setting in dataclasses.fields(self)}

    def settings(self) -> OcrSettings:
        """How pages are read: the settings that travel to the workers."""
        return OcrSettings(
            lang=self.lang, psm=self.psm, engine=self.engine, alt_lang=self.alt_lang,
            deskew=self.deskew, clean=self.clean,
            retry_below_confidence=self.retry_below_confidence,
            workers=self.workers or default_workers(), page_timeout_s=self.page_timeout_s,
            recycle_after=self.recycle_after, max_megapixels=self.max_megapixels,
            max_side_px=self.max_side_px, max_pdf_pages=self.max_pdf_pages,
            max_attempts=self.max_attempts,
            auto_rotate=self.auto_rotate, rotate_every_page=self.rotate_every_page,
            rotate_min_confidence=self.rotate_min_confidence,
            worker_memory_mb=self.worker_memory_mb, searchable_pdf=self.searchable_pdf,
            reuse_duplicates=self.reuse_duplicates,
            archival_formats=tuple(name.strip().lower()
                                   for name in self.archival_formats.split(",") if name.strip()))


def read_environ(cls: type[T], environ: Mapping[str, str], **overrides: object) -> T:
    """An instance of the dataclass `cls` whose fields (made with `setting`) take their values
    from `environ`, parsed by the field's type, with `overrides` (None: not given) on top."""
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for option in dataclasses.fields(cls):  # type: ignore[arg-type]
        raw = environ.get(option.metadata["env"])
        if raw is not None:
            values[option.name] = _parse(option.metadata["env"], raw, hints[option.name])
    values.update({name: value for name, value in overrides.items() if value is not None})
    return cls(**values)


def _parse(variable: str, raw: str, kind: type) -> object:
    if kind is bool:
        return raw.strip().lower() not in FALSE_WORDS
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not {'a number' if kind is not str else 'text'}"
                         f"; set it to a valid {kind.__name__} or unset it") from None


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
