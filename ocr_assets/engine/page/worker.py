"""The OCR of one page, as it runs inside a pool worker process.

Everything a worker needs arrives in a `PageTask` (picklable, no open handles), and everything it
produced leaves as a `PageOutcome`: the worker writes the page's `.txt` and `.json` atomically
into the partition's output store, and the parent process alone writes the manifest. A failure
of any kind becomes an outcome with a category and a message; only a dead worker process is
reported by the pool instead.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.manifest.base import DONE, FAILED, FLAG_REASON_SEPARATOR, PageOutcome
from ocr_assets.engine.naming import display_name
from ocr_assets.engine.page.decode import PreparedImage, prepare_image
from ocr_assets.engine.page.deskew import Deskew
from ocr_assets.engine.page.engines.registry import get_engine
from ocr_assets.engine.page.fingerprint import file_fingerprint
from ocr_assets.engine.page.orientation import Orientation
from ocr_assets.engine.page.pdf import (
    is_pdf,
    pdf_page,
    pdfium_version,
    render_page,
    text_layer,
)
from ocr_assets.engine.page.quality import PageQuality, score_page
from ocr_assets.engine.page.reading import read_image
from ocr_assets.engine.page.searchable_pdf import page_pdf, source_page_pdf
from ocr_assets.engine.page.wordlists import load_words
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore, write_json, write_text


@dataclass(frozen=True)
class PageTask:
    partition_key: str
    folder_name: str
    page_id: str
    path: str
    frame: int | None
    size: int
    mtime_ns: int
    outputs: OutputStore
    """The partition's output store (`<output root>/<partition>`)."""
    output_name: str
    settings: OcrSettings
    fingerprint: str | None = None
    """The file's fingerprint when the run already hashed it (the duplicate check), so the
    worker does not read the whole file a second time; None: the worker hashes it."""


PR_SET_PDEATHSIG = 1  # prctl(2)


def init_worker(memory_mb: int, run_pid: int) -> None:
    """Run once in each pool worker when it starts.

    The worker dies with its run: on Linux the kernel sends it SIGKILL when the process that
    started it dies, so a killed run leaves no orphan OCRing on. With `memory_mb` the worker's
    address space (inherited by its Tesseract) is capped, so an oversized page raises
    MemoryError in its own worker instead of the kernel killing some process on the machine.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != run_pid:  # the run died before the line above took effect
            os._exit(1)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def output_keys(output_name: str) -> tuple[str, str]:
    """The keys of the page's text and facts in its partition's output store."""
    return f"{output_name}.txt", f"{output_name}.json"


ARCHIVAL_SUFFIXES = {"hocr": ".hocr", "alto": ".alto.xml", "pdf": ".pdf"}


def archival_key(output_name: str, document: str) -> str:
    """The key of the page's hOCR (`.hocr`), ALTO (`.alto.xml`) or searchable PDF (`.pdf`)."""
    return output_name + ARCHIVAL_SUFFIXES[document]


def all_output_keys(output_name: str) -> tuple[str, ...]:
    """Every key a page may have written: what goes when the page is removed."""
    return (*output_keys(output_name),
            *(archival_key(output_name, document) for document in ARCHIVAL_SUFFIXES))


def _failed(task: PageTask, started: float, fingerprint: str | None,
            category: FailureCategory, message: str) -> PageOutcome:
    return PageOutcome(status=FAILED, fingerprint=fingerprint, size=task.size,
                       mtime_ns=task.mtime_ns, ms=round((time.perf_counter() - started) * 1000),
                       error_category=str(category),
                       # A file name that is not UTF-8 must not make the message unstorable.
                       error_message=display_name(message),
                       engine=task.settings.engine, recipe=task.settings.recipe_key())


def page_flags(partial: str | None, quality: PageQuality) -> tuple[list[str], str]:
    """A done page's flags and their reasons (one each, in order, joined as the manifest keeps
    them): `partial` first when only part of the file was read, then the text's own
    (`empty` or `garbage`)."""
    flags = (["partial"] if partial else []) + list(quality.flags)
    reasons = ([partial] if partial else []) + ([quality.reason] if quality.flags else [])
    return flags, FLAG_REASON_SEPARATOR.join(reasons)


TEXT_LAYER_ENGINE = "pdf_text_layer"
"""The engine a page's row and facts name when its PDF text layer was kept (`skip_text`)."""


@dataclass(frozen=True)
class PageReading:
    """A page's text and what is known of how it was got: from OCR, or a kept text layer."""

    text: str
    quality: PageQuality
    engine: str
    engine_version: str
    image: PreparedImage | None
    """What Tesseract read; None for a kept text layer."""
    orientation: Orientation | None = None
    renderings: dict[str, str] = field(default_factory=dict)
    text_layer: str | None = None
    """`kept` when the text is the PDF's own text layer, None when it was OCRed."""
    pdf: bytes | None = None
    """The page's searchable PDF, when the settings ask for it."""
    model: str | None = None
    """The Tesseract model(s) that read the text; None for a kept text layer."""
    deskew: Deskew | None = None
    model_note: str = ""
    second_readings: list[dict[str, object]] = field(default_factory=list)


def _read_pdf_page(task: PageTask, path: Path, work_dir: Path, started: float) -> PageReading:
    """A PDF page: its text layer kept when the folder says `skip_text` and it has one,
    else rendered and OCRed like an image."""
    settings = task.settings
    with pdf_page(path, task.frame, settings.max_pdf_pages) as page:
        kept = text_layer(page) if settings.skip_text else ""
        if kept:
            # No confidences: scored as text with no confidence, so only a layer of mostly
            # dictionary words passes as text (a garbled one is flagged, as OCR would be).
            quality = score_page(kept, (), load_words(settings.lang))
            return PageReading(kept, quality, TEXT_LAYER_ENGINE, pdfium_version(),
                               None, text_layer="kept",
                               pdf=source_page_pdf(path, task.frame or 0)
                               if settings.searchable_pdf else None)
        image = render_page(page, path, task.frame, work_dir,
                            max_megapixels=settings.max_megapixels,
                            max_side_px=settings.max_side_px)
    return _ocr_image(image, work_dir, settings, started, path)


def _ocr_image(image: PreparedImage, work_dir: Path, settings: OcrSettings, started: float,
               path: Path) -> PageReading:
    reading = read_image(image.path, work_dir, settings, started, path)
    result = reading.result
    pdf = (page_pdf(result.image_path or image.path, result.tsv, path.name)
           if settings.searchable_pdf else None)
    return PageReading(result.text, reading.quality, settings.engine,
                       get_engine(settings.engine).version(), image, reading.orientation,
                       result.renderings, pdf=pdf, model=reading.model, deskew=reading.deskew,
                       model_note=reading.model_note, second_readings=reading.second_readings)


def _read_page(task: PageTask, path: Path, work_dir: Path, started: float) -> PageReading:
    if is_pdf(path):
        return _read_pdf_page(task, path, work_dir, started)
    settings = task.settings
    image = prepare_image(path, task.frame, work_dir, max_megapixels=settings.max_megapixels,
                          max_side_px=settings.max_side_px, decode=settings.decode)
    return _ocr_image(image, work_dir, settings, started, path)


def ocr_page(task: PageTask) -> PageOutcome:
    """OCR one page and write its outputs; never raises for a bad page."""
    started = time.perf_counter()
    settings = task.settings
    path = Path(task.path)
    fingerprint: str | None = None
    try:
        fingerprint = task.fingerprint or file_fingerprint(path)
        with tempfile.TemporaryDirectory(prefix="ocr-assets-page-") as tmp:
            reading = _read_page(task, path, Path(tmp), started)
        image, quality = reading.image, reading.quality
        ms = round((time.perf_counter() - started) * 1000)
        flags, flag_reason = page_flags(image.partial if image else None, quality)
        text_key, facts_key = output_keys(task.output_name)
        for document, content in reading.renderings.items():
            write_text(task.outputs, archival_key(task.output_name, document), content)
        if reading.pdf is not None:
            task.outputs.write_bytes(archival_key(task.output_name, "pdf"), reading.pdf)
        write_text(task.outputs, text_key, reading.text)
        write_json(task.outputs, facts_key, {
            "folder": display_name(task.folder_name),
            "partition": task.partition_key,
            "page": task.page_id,
            "source": display_name(path.name),
            "frame": None if task.frame is None else task.frame + 1,
            "fingerprint": fingerprint,
            "engine": reading.engine,
            "engine_version": reading.engine_version,
            "settings": settings.output_settings(),
            "image": image and {"width": image.width, "height": image.height,
                                "normalised": image.normalised, "steps": list(image.steps)},
            "text_layer": reading.text_layer,
            "model": reading.model,
            "model_note": reading.model_note,
            "orientation": reading.orientation.as_dict() if reading.orientation else None,
            "deskew": reading.deskew.as_dict() if reading.deskew else None,
            "second_readings": reading.second_readings,
            "mean_confidence": quality.mean_confidence,
            "words": quality.words,
            "chars": quality.chars,
            "garbage_score": quality.garbage_score,
            "dictionary_word_share": quality.dictionary_word_share,
            "garbage_token_share": quality.garbage_token_share,
            "real_words": quality.real_words,
            "flags": list(flags),
            "flag_reason": flag_reason,
            "ms": ms,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })
    except PageError as exc:
        return _failed(task, started, fingerprint, exc.category, exc.message)
    except MemoryError:
        limit = (f"the worker's limit of {settings.worker_memory_mb} MiB"
                 if settings.worker_memory_mb else "the memory available")
        return _failed(task, started, fingerprint, FailureCategory.OUT_OF_MEMORY,
                       f"{path.name}: the page needs more than {limit}; raise "
                       "worker_memory_mb, or lower max_side_px or max_megapixels")
    except OSError as exc:
        return _failed(task, started, fingerprint, FailureCategory.IO_ERROR,
                       f"{path.name}: {exc}; check the file's permissions and the disk")
    except Exception as exc:  # noqa: BLE001 - one bad page must never stop a batch
        return _failed(task, started, fingerprint, FailureCategory.ENGINE_ERROR,
                       f"{path.name}: unexpected {type(exc).__name__}: {exc}")
    return PageOutcome(status=DONE, fingerprint=fingerprint, size=task.size,
                       mtime_ns=task.mtime_ns, ms=ms,
                       mean_confidence=quality.mean_confidence, words=quality.words,
                       chars=quality.chars, garbage_score=quality.garbage_score,
                       flags=",".join(flags), flag_reason=flag_reason,
                       output_name=task.output_name, engine=reading.engine,
                       recipe=settings.recipe_key())
