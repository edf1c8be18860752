"""The Tesseract CLI through pytesseract: one process per page, killed at its timeout; the
default engine, whose text is the installed `tesseract`'s page for page.

pytesseract is imported on first use (`pytesseract_module`), not with this module: it imports
pandas (about half a second of CPU), which a command that plans a batch and finds nothing to
OCR never needs (docs/benchmarks.md, the all-done re-run).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections import ChainMap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.engines.base import (
    ARCHIVAL_FORMATS,
    EngineOutput,
    OcrEngine,
    missing_language_message,
    missing_osd_message,
    missing_tesseract_message,
    parse_tsv,
)
from ocr_assets.engine.page.models import missing_models_message, resolve

SINGLE_THREADED = {"OMP_THREAD_LIMIT": "1"}
"""Tesseract's OpenMP threads oversubscribe the cores when one process per core runs (6x slower
on 2 cores, measured): every Tesseract that pytesseract starts gets this on top of the
process's own environment."""


LIST_TIMEOUT_S = 30
CLI_TESSDATA = re.compile(r'available languages in "([^"]+)"')
"""`tesseract --list-langs` reads a directory listing: far below this unless the disk hangs."""


@cache
def pytesseract_module() -> ModuleType:
    """pytesseract, with every Tesseract it starts single-threaded. Its processes take their
    environment from a module global (`pytesseract.pytesseract.environ`); it becomes a live view
    of this process's environment with `SINGLE_THREADED` on top, so nothing is written to
    `os.environ`."""
    import pytesseract

    pytesseract.pytesseract.environ = ChainMap(SINGLE_THREADED, os.environ)
    return pytesseract


def _decode_output(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"Tesseract's {what} output is not valid UTF-8 ({exc})") from exc


@contextlib.contextmanager
def _tesseract_command(command: str | None) -> Iterator[None]:
    """pytesseract reads the program from a module global; swap it for one call."""
    pytesseract = pytesseract_module()

    if command is None:
        yield
        return
    saved = pytesseract.pytesseract.tesseract_cmd
    pytesseract.pytesseract.tesseract_cmd = command
    try:
        yield
    finally:
        pytesseract.pytesseract.tesseract_cmd = saved


def tesseract_pass(image_path: Path, work_dir: Path, *, lang: str, psm: int, timeout_s: float,
                   command: str | None = None, extra_config: str = "",
                   renderings: tuple[str, ...] = ()) -> EngineOutput:
    """One run of the Tesseract CLI (or of a program that behaves like it, `command`) writing
    text and TSV together, and the archival `renderings` (hOCR, ALTO) in the same run, with
    every way it can fail mapped to a failure category."""
    pytesseract = pytesseract_module()

    out_base = work_dir / "ocr"
    renderers = "".join(f" -c {ARCHIVAL_FORMATS[name][0]}=1" for name in renderings)
    try:
        with _tesseract_command(command):
            pytesseract.pytesseract.run_tesseract(
                str(image_path), str(out_base), extension="txt", lang=lang,
                config=f"--psm {psm} -c tessedit_create_tsv=1{renderers} {extra_config}".strip(),
                timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise PageError(FailureCategory.ENGINE_ERROR, missing_tesseract_message()) from exc
    except pytesseract.TesseractError as exc:
        message = str(exc.message).strip()
        if "Failed loading language" in message or "Error opening data file" in message:
            raise PageError(FailureCategory.MISSING_LANGUAGE,
                            missing_language_message(lang)) from exc
        if "Image too large" in message:
            raise PageError(FailureCategory.TOO_LARGE,
                            f"Tesseract refused the image: {message[:300]}; lower max_side_px "
                            "(pages above it are downscaled before OCR)") from exc
        if exc.status < 0:
            raise PageError(FailureCategory.ENGINE_ERROR,
                            f"tesseract was killed by {_signal_name(-exc.status)}"
                            f"{': ' + message[:500] if message else ''}; it crashed on this "
                            "page (re-export the scan, or try another psm)") from exc
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"tesseract exited with status {exc.status}: {message[:500]}") from exc
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise PageError(FailureCategory.TIMEOUT,
                            f"tesseract ran longer than {timeout_s:g} s and was killed; raise "
                            "page_timeout_s or downscale the page") from exc
        raise
    try:
        text = _decode_output(out_base.with_suffix(".txt").read_bytes(), "text")
        tsv = _decode_output(out_base.with_suffix(".tsv").read_bytes(), "TSV")
        documents = {name: _decode_output(
            out_base.with_suffix(ARCHIVAL_FORMATS[name][1]).read_bytes(), name)
            for name in renderings}
    except FileNotFoundError as exc:
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"tesseract wrote no output file ({exc.filename})") from exc
    words, confidences, page_seen = parse_tsv(tsv)
    return EngineOutput(text, words, confidences, page_seen, documents, tsv, image_path)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass(frozen=True)
class ModelListing:
    """What `tesseract --list-langs` says: where its models are, and their names (`deu`,
    `Fraktur`, `script/Fraktur`)."""

    tessdata: Path | None
    models: frozenset[str]


_LISTINGS: dict[tuple[str, str], tuple[ModelListing, tuple[int, ...]]] = {}
"""This process's listings, by program and `TESSDATA_PREFIX`, with the directories' state."""


def _models_state(tessdata: Path | None) -> tuple[int, ...]:
    """The modification times of `tessdata` and its `script/` folder: installing or removing
    a model changes one of them."""
    if tessdata is None:
        return ()
    return tuple(folder.stat().st_mtime_ns if folder.is_dir() else 0
                 for folder in (tessdata, tessdata / "script"))


def model_listing() -> ModelListing:
    """The installed `tesseract`'s models; `RuntimeError` when there is no `tesseract`.

    Asked of the program once per process, and again only when its tessdata directory changed
    since (a model installed or removed): a run checks the models of every folder it reads,
    and a `tesseract --list-langs` per folder was a fifth of a small folder's orchestration.
    Not pytesseract's `get_languages`: it keeps only lower-case names, so it drops every
    script model."""
    pytesseract = pytesseract_module()
    program = shutil.which(pytesseract.pytesseract.tesseract_cmd)
    if program is None:
        raise RuntimeError(missing_tesseract_message())
    environ = dict(pytesseract.pytesseract.environ)
    key = (program, environ.get("TESSDATA_PREFIX", ""))
    cached = _LISTINGS.get(key)
    if cached is not None and cached[1] == _models_state(cached[0].tessdata):
        return cached[0]
    listing = subprocess.run([program, "--list-langs"], capture_output=True, text=True,
                             timeout=LIST_TIMEOUT_S, check=False, env=environ)
    # The first line says where the models are ('List of available languages in "..."'), the
    # others name one model each.
    where = CLI_TESSDATA.search(listing.stdout + listing.stderr)
    found = ModelListing(
        Path(where.group(1)) if where else None,
        frozenset(line.strip() for line in listing.stdout.splitlines()[1:] if line.strip()))
    _LISTINGS[key] = (found, _models_state(found.tessdata))
    return found


def installed_languages() -> set[str]:
    """The names of the installed `tesseract`'s models (`model_listing`)."""
    return set(model_listing().models)


def check_orientation_ready() -> None:
    """Orientation detection runs the Tesseract CLI whichever engine reads the text: it needs
    the program and its `osd` model."""
    if "osd" not in installed_languages():
        raise RuntimeError(missing_osd_message())


class PytesseractEngine(OcrEngine):
    """The Tesseract CLI through pytesseract: one process per page, killed at the timeout."""

    name = "pytesseract"

    def __init__(self) -> None:
        self._spelt: dict[str, str] = {}
        """Language spec -> as the installed models spell it (`models.resolve`), per process."""

    def version(self) -> str:
        return str(pytesseract_module().get_tesseract_version())

    def check_ready(self, lang: str) -> None:
        missing = resolve(lang, installed_languages()).missing
        if missing:
            raise RuntimeError(missing_models_message(list(missing), lang))

    def installed_spelling(self, lang: str) -> str:
        """`lang` as the installed `tesseract` loads it (`script/Fraktur` under Debian's layout
        is `Fraktur`); asked once per spec and process. A spec with a missing model is handed
        on as it is: Tesseract's own failure then names it."""
        if lang not in self._spelt:
            self._spelt[lang] = resolve(lang, installed_languages()).lang
        return self._spelt[lang]

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        return tesseract_pass(image_path, work_dir, lang=self.installed_spelling(lang), psm=psm,
                              timeout_s=timeout_s, renderings=renderings)
