"""Tesseract kept loaded in the worker process, through tesserocr (Tesseract's C++ API).

The CLI backend starts a process and loads the language model for every page: about 0.1 s of
a core each time, which is a third of a small page's cost and 3-5 % of a dense one's. This
backend loads the model once per worker process (workers are recycled every `recycle_after`
pages, so that is once per few hundred pages), reads the image with the same Leptonica call the
CLI makes, and takes text and word confidences from one recognition, as the CLI backend does.

tesserocr's PyPI wheel bundles its own Tesseract (5.5, built without OpenMP, so it is
single-threaded without `OMP_THREAD_LIMIT`) but no language models: it uses the tessdata
directory of the installed Tesseract, found by `find_tessdata`. Select it with
`OCR_ASSETS_ENGINE=tesserocr`, or `tesserocr:/path/to/tessdata` to name the directory.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import tesserocr

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.engines.base import (
    EngineOutput,
    OcrEngine,
    parse_tsv,
)
from ocr_assets.engine.page.engines.tesseract_cli import model_listing
from ocr_assets.engine.page.models import (
    Resolution,
    missing_models_message,
    resolve,
    tessdata_models,
)

TESSDATA_LOCATIONS = (
    Path("/usr/share/tesseract-ocr/5/tessdata"),  # Debian, Ubuntu (tesseract-ocr 5)
    Path("/usr/share/tesseract-ocr/4.00/tessdata"),  # Debian, Ubuntu (tesseract-ocr 4)
    Path("/usr/share/tessdata"),  # Fedora, Arch, Alpine
    Path("/usr/local/share/tessdata"),  # built from source, Homebrew on Intel
    Path("/opt/homebrew/share/tessdata"),  # Homebrew on Apple silicon
)
"""Where distributions install traineddata, tried after `TESSDATA_PREFIX` and the CLI's own."""


def _has_models(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.traineddata"))


def _cli_tessdata() -> Path | None:
    """The tessdata directory the installed `tesseract` program reports, if there is one."""
    try:
        return model_listing().tessdata
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return None


def find_tessdata(explicit: str = "") -> Path:
    """The tessdata directory: the engine option, else `TESSDATA_PREFIX`, else the installed
    Tesseract's (as its CLI reports it, or a distribution's usual place)."""
    for source, value in (("the engine option", explicit),
                          ("TESSDATA_PREFIX", os.environ.get("TESSDATA_PREFIX", ""))):
        if value:
            folder = Path(value).expanduser()
            if not _has_models(folder):
                raise RuntimeError(f"{source} names {folder}, which holds no *.traineddata; "
                                   "point it at Tesseract's tessdata directory")
            return folder
    for folder in (_cli_tessdata(), *TESSDATA_LOCATIONS):
        if folder is not None and _has_models(folder):
            return folder
    raise RuntimeError("no Tesseract language models (*.traineddata) found; install them "
                       "(Debian/Ubuntu: sudo apt-get install tesseract-ocr-eng) or set "
                       "TESSDATA_PREFIX to their directory")


def _resolve(tessdata: Path, lang: str) -> Resolution:
    return resolve(lang, tessdata_models(tessdata))


HOCR_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name='ocr-system' content='tesseract {version}' />
  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>
 </head>
 <body>
{page} </body>
</html>
"""
"""The document around one page that Tesseract's own hOCR renderer writes (the API returns the
page's `ocr_page` element only)."""


def hocr_document(page: str, version: str) -> str:
    return HOCR_DOCUMENT.format(version=version, page=page)


class TesserocrEngine(OcrEngine):
    """One loaded Tesseract per worker process and language; the page segmentation mode is
    set per page. State that could carry from one page to the next (the adaptive classifier,
    the last image and its results) is cleared after every page, as a fresh CLI process would
    start without it."""

    name = "tesserocr"

    def __init__(self, options: str = "") -> None:
        self._options = options
        self._tessdata: Path | None = None
        self._apis: dict[str, tesserocr.PyTessBaseAPI] = {}

    def version(self) -> str:
        return tesserocr.tesseract_version().split()[1]

    def check_ready(self, lang: str) -> None:
        """Raise with what to do when the tessdata directory or a language is missing; loads
        no model, so the orchestrating process stays small."""
        missing = _resolve(find_tessdata(self._options), lang).missing
        if missing:
            raise RuntimeError(missing_models_message(list(missing), lang))

    def _api(self, lang: str) -> tesserocr.PyTessBaseAPI:
        api = self._apis.get(lang)
        if api is not None:
            return api
        if self._tessdata is None:
            try:
                self._tessdata = find_tessdata(self._options)
            except RuntimeError as exc:
                raise PageError(FailureCategory.MISSING_LANGUAGE, str(exc)) from exc
        resolution = _resolve(self._tessdata, lang)
        if resolution.missing:
            raise PageError(FailureCategory.MISSING_LANGUAGE,
                            missing_models_message(list(resolution.missing), lang))
        try:
            api = tesserocr.PyTessBaseAPI(path=f"{self._tessdata}{os.sep}", lang=resolution.lang)
        except RuntimeError as exc:
            raise PageError(FailureCategory.ENGINE_ERROR,
                            f"Tesseract could not load '{lang}' from {self._tessdata}: {exc}; "
                            "reinstall the language models") from exc
        self._apis[lang] = api
        return api

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        if "alto" in renderings:
            # tesserocr's API renders ALTO only through ProcessPages, a second recognition.
            raise PageError(FailureCategory.ENGINE_ERROR,
                            "the tesserocr engine renders hOCR but not ALTO in the same pass; "
                            "use OCR_ASSETS_ENGINE=pytesseract for ALTO")
        api = self._api(lang)
        api.SetPageSegMode(psm)
        try:
            api.SetImageFile(str(image_path))
        except (RuntimeError, OSError):
            # Neither Leptonica nor tesserocr's Pillow fallback could decode it (the latter
            # raises UnidentifiedImageError, an OSError): the CLI's "exited 0, read no page".
            return EngineOutput("", (), (), image_read=False)
        started = time.monotonic()
        try:
            if not api.Recognize(timeout=max(1, round(timeout_s * 1000))):
                if time.monotonic() - started >= timeout_s:
                    raise PageError(FailureCategory.TIMEOUT,
                                    f"Tesseract ran longer than {timeout_s:g} s and was stopped;"
                                    " raise page_timeout_s or downscale the page")
                raise PageError(FailureCategory.ENGINE_ERROR,
                                f"Tesseract could not recognise {image_path.name}")
            text = api.GetUTF8Text()
            tsv = api.GetTSVText(0)
            documents = ({"hocr": hocr_document(api.GetHOCRText(0), self.version())}
                         if "hocr" in renderings else {})
        finally:
            api.Clear()
            api.ClearAdaptiveClassifier()
        words, confidences, page_seen = parse_tsv(tsv)
        return EngineOutput(text, words, confidences, page_seen, documents, tsv, image_path)
