"""How one prepared page image becomes the best text the settings can get from it.

In order: the page is cleaned by unpaper first with `clean`, then deskewed with
`deskew = "always"`; with `lang = "auto"`,
orientation detection names its script and so its model (`models.SCRIPT_MODELS`), turning it
upright on the way; otherwise it is read as scanned and turned upright only when that reading
is doubtful (`read_upright`). A reading that is still doubtful (flagged, or with a mean word
confidence below `retry_below_confidence`) is then read again by the second-reading strategies
the settings ask for, in order: the alternative model (`alt_lang`), then the deskewed page
(`deskew = "retry"`); the best reading is kept. These are the retry strategies of pages that
were read but read badly: the worker holds every reading, so it keeps the better one without
writing the worse, and only doubtful pages pay for them (a second engine pass each).

Readings of different models are compared by their garbage scores against the word lists of
both models, so neither wins only because its own language has no list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.clean import clean_image
from ocr_assets.engine.page.deskew import Deskew, deskew_image
from ocr_assets.engine.page.engines.base import EngineOutput, OcrEngine
from ocr_assets.engine.page.engines.registry import get_engine
from ocr_assets.engine.page.models import script_model
from ocr_assets.engine.page.orientation import (
    UPRIGHT_NAME,
    Orientation,
    detect_orientation,
    doubt_about,
    upright_page,
)
from ocr_assets.engine.page.quality import PageQuality, score_page
from ocr_assets.engine.page.wordlists import load_words
from ocr_assets.engine.settings import AUTO_LANG, OcrSettings


def time_left(settings: OcrSettings, started: float, path: Path, step: str) -> float:
    """What is left of the page's timeout, which covers every pass over it together."""
    left = settings.page_timeout_s - (time.perf_counter() - started)
    if left <= 0:
        raise PageError(FailureCategory.TIMEOUT,
                        f"{path.name}: no time left for {step} within "
                        f"{settings.page_timeout_s:g} s; raise page_timeout_s")
    return left


def read_once(backend: OcrEngine, image_path: Path, work_dir: Path, settings: OcrSettings,
              started: float, source: Path) -> tuple[EngineOutput, PageQuality]:
    """One engine pass over `image_path` with `settings.lang`, and its quality."""
    result = backend.recognise(image_path, work_dir, lang=settings.lang, psm=settings.psm,
                               timeout_s=time_left(settings, started, source, "OCR"),
                               renderings=settings.archival_formats)
    if not result.image_read:
        raise PageError(FailureCategory.EMPTY_OUTPUT_FROM_UNREADABLE_IMAGE,
                        f"{source.name}: Tesseract exited 0 without reading the image "
                        "(Leptonica cannot decode it); this is not a blank page: the "
                        "retry pass re-decodes it with Pillow")
    return result, score_page(result.text, result.confidences, load_words(settings.lang))


def read_upright(image_path: Path, work_dir: Path, backend: OcrEngine, settings: OcrSettings,
                 started: float, source: Path) -> tuple[EngineOutput, PageQuality,
                                                      Orientation | None]:
    """The reading of `image_path` (the prepared image of the page file `source`) and its
    quality, from the page turned upright where it needs it, and what orientation detection
    said (None when it was not asked).

    With `rotate_every_page`, OSD looks at every page before its OCR. Otherwise the page is
    read as scanned and OSD is asked only when that reading is doubtful; the reading of the
    turned page then replaces the first only when its garbage score is lower, so an OSD mistake
    on an upright page costs time, never text."""
    if not settings.auto_rotate:
        return *read_once(backend, image_path, work_dir, settings, started, source), None
    if settings.rotate_every_page:
        upright, orientation = upright_page(
            image_path, work_dir, min_confidence=settings.rotate_min_confidence,
            timeout_s=settings.page_timeout_s)
        result, quality = read_once(backend, upright, work_dir, settings, started, source)
        return result, quality, replace(orientation, checked_because="every page")
    result, quality = read_once(backend, image_path, work_dir, settings, started, source)
    doubt = doubt_about(quality)
    if doubt is None:
        return result, quality, None
    upright, orientation = upright_page(
        image_path, work_dir, min_confidence=settings.rotate_min_confidence,
        timeout_s=time_left(settings, started, source, "orientation detection"))
    orientation = replace(orientation, checked_because=doubt)
    if not orientation.applied:
        return result, quality, orientation
    turned, turned_quality = read_once(backend, upright, work_dir, settings, started, source)
    if turned_quality.garbage_score < quality.garbage_score:
        return turned, turned_quality, orientation
    return result, quality, replace(
        orientation, applied=False,
        note=f"the page turned by {orientation.rotate} degrees read no better (garbage score "
             f"{turned_quality.garbage_score:.2f} against {quality.garbage_score:.2f}); the "
             "reading as scanned is kept")


@dataclass(frozen=True)
class ImageReading:
    """The reading kept for one page image, and how it was got."""

    result: EngineOutput
    quality: PageQuality
    model: str
    """The language spec the kept text was read with (under `auto`, the script's model)."""
    orientation: Orientation | None = None
    deskew: Deskew | None = None
    """What deskewing found, when the page was deskewed (always, or for the kept reading)."""
    model_note: str = ""
    """Why `auto` read the page with another model than its script's, when it did."""
    second_readings: list[dict[str, object]] = field(default_factory=list)
    """Each second reading of a doubtful page: strategy, model, scores, whether it was kept."""


@cache
def model_installed(engine: str, model: str) -> bool:
    """Whether the engine can load `model` (asked once per worker process and model)."""
    try:
        get_engine(engine).check_ready(model)
    except RuntimeError:
        return False
    return True


def _auto_model(image_path: Path, work_dir: Path, settings: OcrSettings, started: float,
                source: Path) -> tuple[Path, Orientation, str, str]:
    """Under `lang = "auto"`: the file to read (turned upright when `auto_rotate` and OSD is
    sure), what OSD said, the model of the script it saw, and why another model reads the page
    when that one is not installed."""
    timeout_s = time_left(settings, started, source, "script detection")
    if settings.auto_rotate:
        path, orientation = upright_page(image_path, work_dir, timeout_s=timeout_s,
                                         min_confidence=settings.rotate_min_confidence)
    else:
        path, orientation = image_path, detect_orientation(image_path, timeout_s=timeout_s)
    orientation = replace(orientation, checked_because="lang = auto")
    model = script_model(orientation.script, settings.latin_lang)
    if model != settings.latin_lang and not model_installed(settings.engine, model):
        return path, orientation, settings.latin_lang, (
            f"orientation detection saw {orientation.script} script, whose model '{model}' is "
            f"not installed: read with '{settings.latin_lang}' (install the model, and the "
            "folder's pages are read again only if its recipe changes)")
    return path, orientation, model, ""


def _compare_score(reading: EngineOutput, models: str) -> float:
    """A reading's garbage score against the word lists of every model compared."""
    return score_page(reading.text, reading.confidences, load_words(models)).garbage_score


def _second_readings(first: ImageReading, read_path: Path, work_dir: Path,
                     backend: OcrEngine, settings: OcrSettings, started: float,
                     source: Path) -> ImageReading:
    """The doubtful `first` reading, or a better one from the second-reading strategies."""
    best = first
    models = "+".join(dict.fromkeys([first.model] + ([settings.alt_lang]
                                                     if settings.alt_lang else [])))
    best_score = _compare_score(first.result, models)
    if settings.alt_lang and settings.alt_lang != first.model:
        alt = replace(settings, lang=settings.alt_lang)
        result, quality = read_once(backend, read_path, work_dir, alt, started, source)
        best, best_score = _keep_better(best, best_score, replace(
            first, result=result, quality=quality, model=settings.alt_lang),
            _compare_score(result, models), "alt_lang")
    if settings.deskew == "retry":
        straight, found = deskew_image(read_path, work_dir / "deskewed-retry.png")
        note = {"strategy": "deskew", "model": best.model, "deskew": found.as_dict()}
        if not found.applied:
            best.second_readings.append({**note, "kept": False,
                                         "note": "no skew found: not read again"})
            return best
        again = replace(settings, lang=best.model)
        result, quality = read_once(backend, straight, work_dir, again, started, source)
        best, best_score = _keep_better(best, best_score, replace(
            best, result=result, quality=quality, deskew=found),
            _compare_score(result, models), "deskew")
    return best


def _keep_better(best: ImageReading, best_score: float, other: ImageReading,
                 other_score: float, strategy: str) -> tuple[ImageReading, float]:
    """The better of two readings by their comparable garbage score, the try recorded."""
    kept = other_score < best_score
    best.second_readings.append({
        "strategy": strategy, "model": other.model,
        "garbage_score": round(other_score, 4), "against": round(best_score, 4),
        "mean_confidence": other.quality.mean_confidence, "kept": kept})
    if not kept:
        return best, best_score
    return replace(other, second_readings=best.second_readings), other_score


def read_image(image_path: Path, work_dir: Path, settings: OcrSettings, started: float,
               source: Path) -> ImageReading:
    """The best reading of `image_path` (the prepared image of the page file `source`) that
    `settings` ask for."""
    backend = get_engine(settings.engine)
    path, deskewed = image_path, None
    if settings.clean:
        path = clean_image(path, work_dir, source_name=source.name,
                           timeout_s=time_left(settings, started, source, "cleaning"))
    if settings.deskew == "always":
        path, deskewed = deskew_image(path, work_dir / "deskewed.png")
    if settings.lang == AUTO_LANG:
        path, orientation, model, note = _auto_model(path, work_dir, settings, started, source)
        chosen = replace(settings, lang=model)
        result, quality = read_once(backend, path, work_dir, chosen, started, source)
        reading = ImageReading(result, quality, model, orientation, deskewed, note)
    else:
        result, quality, orientation = read_upright(path, work_dir, backend, settings, started,
                                                    source)
        if orientation is not None and orientation.applied:
            path = work_dir / UPRIGHT_NAME
        reading = ImageReading(result, quality, settings.lang, orientation, deskewed)
    confidence = reading.quality.mean_confidence
    doubtful = bool(reading.quality.flags) or (
        confidence is not None and confidence < settings.retry_below_confidence)
    if not doubtful or not (settings.alt_lang or settings.deskew == "retry"):
        return reading
    return _second_readings(reading, path, work_dir, backend, settings, started, source)
