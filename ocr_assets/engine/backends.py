"""OCR backends: the one place that talks to Tesseract.

A backend turns one image file into text and word confidences in ONE engine pass (Tesseract's
`txt` and `tsv` renderers together, not `image_to_string` followed by `image_to_data`), with
the hOCR and ALTO renderers in the same pass when asked for.
Backends are chosen by name (`OcrSettings.engine`), so tests and benchmarks can select another
one through configuration instead of patching internals.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.orientation import missing_osd_message

if TYPE_CHECKING:
    from ocr_assets.engine.fault_backend import FaultBackend

# pytesseract is imported inside the functions that call Tesseract, not with this module: it
# imports pandas (about half a second of CPU), which a command that plans a batch and finds
# nothing to OCR never needs (BENCHMARKS.md, the all-done re-run).

# Tesseract's OpenMP threads oversubscribe the cores when one process per core runs (6x slower
# on 2 cores, measured). Every Tesseract started from this process inherits this.
os.environ["OMP_THREAD_LIMIT"] = "1"

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


ARCHIVAL_FORMATS: dict[str, tuple[str, str]] = {
    "hocr": ("tessedit_create_hocr", ".hocr"),
    "alto": ("tessedit_create_alto", ".xml"),
}
"""Format -> (Tesseract's renderer variable, the suffix it writes): Tesseract's own hOCR and
ALTO renderers, run in the same engine pass as text and TSV."""


class OcrBackend(Protocol):
    name: str

    def version(self) -> str: ...

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput: ...


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


def _decode_output(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"Tesseract's {what} output is not valid UTF-8 ({exc})") from exc


@contextlib.contextmanager
def _tesseract_command(command: str | None) -> Iterator[None]:
    """pytesseract reads the program from a module global; swap it for one call."""
    import pytesseract

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
    import pytesseract

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
    return EngineOutput(text, words, confidences, page_seen, documents)


class PytesseractBackend:
    """The Tesseract CLI through pytesseract: one process per page, killed at the timeout."""

    name = "pytesseract"

    def version(self) -> str:
        import pytesseract

        return str(pytesseract.get_tesseract_version())

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        return tesseract_pass(image_path, work_dir, lang=lang, psm=psm, timeout_s=timeout_s,
                              renderings=renderings)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def missing_tesseract_message() -> str:
    return ("the tesseract program was not found on PATH; install it "
            "(Debian/Ubuntu: sudo apt-get install tesseract-ocr) or run scripts/setup.sh")


def missing_language_message(lang: str) -> str:
    packages = " ".join(f"tesseract-ocr-{code.lower().replace('_', '-')}"
                        for code in lang.split("+"))
    return (f"Tesseract has no traineddata for language '{lang}'; install it "
            f"(Debian/Ubuntu: sudo apt-get install {packages}) or set TESSDATA_PREFIX")


BACKENDS: dict[str, str] = {
    "pytesseract": "ocr_assets.engine.backends:PytesseractBackend",
    "tesserocr": "ocr_assets.engine.tesserocr_backend:TesserocrBackend",
    "fault": "ocr_assets.engine.fault_backend:FaultBackend",
}
"""Engine name -> `module:factory`, imported only when chosen. An engine setting may carry
options after a colon (`name:options`), passed to the factory as its one argument."""


@cache
def get_backend(engine: str) -> OcrBackend:
    """The backend for `engine`, created once per process (workers keep theirs loaded)."""
    name, _, options = engine.partition(":")
    try:
        module_name, _, attribute = BACKENDS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown OCR engine '{name}'; choose one of {sorted(BACKENDS)}") from None
    factory: Callable[..., OcrBackend] = getattr(importlib.import_module(module_name), attribute)
    return factory(options) if options else factory()


def check_engine_ready(engine: str, lang: str, *, orientation: bool = False) -> None:
    """Fail the whole batch early, with what to do, when Tesseract, a language or (with
    `orientation`) the orientation model used to turn pages upright is missing. Orientation
    detection runs the Tesseract CLI whichever engine reads the text.

    A missing program, model or package raises `RuntimeError` (installing it is what helps,
    and the step is not retried); an `OSError` (a process that could not be started) is
    transient and passes through, so the step's retry policy retries it."""
    name, _, options = engine.partition(":")
    if name == "fault":
        # The fault engine may refuse to start on purpose (`start-fail=<n>`), the transient
        # failure of a whole step that the OCR step's retry policy is for.
        cast("FaultBackend", get_backend(engine)).check_start()
    if name == "tesserocr":
        try:
            from ocr_assets.engine.tesserocr_backend import check_ready
        except ImportError as exc:
            raise RuntimeError(
                f"the tesserocr engine needs the tesserocr package ({exc}); install it "
                "(scripts/setup.sh does, or `.venv/bin/pip install -e '.[tesserocr]'`) or "
                "choose OCR_ASSETS_ENGINE=pytesseract") from exc
        check_ready(lang, options)
    if engine != "pytesseract" and not orientation:
        return
    import pytesseract

    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        raise RuntimeError(missing_tesseract_message())
    installed = set(pytesseract.get_languages(config=""))
    if engine == "pytesseract":
        missing = [code for code in lang.split("+") if code not in installed]
        if missing:
            raise RuntimeError(missing_language_message("+".join(missing)))
    if orientation and "osd" not in installed:
        raise RuntimeError(missing_osd_message())
