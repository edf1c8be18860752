"""Which engine reads the pages: a built-in name, or the dotted path of any `OcrEngine`.

`OcrSettings.engine` is `<engine>[:options]`. `<engine>` is `pytesseract` (the default),
`tesserocr`, or the dotted path of a factory that returns an `OcrEngine`
(`package.module.Factory`), imported in every process that reads pages: an engine of one's own,
or the tests' fault engine, plugs in through configuration without the product knowing it. The
options, when given, are the factory's one argument.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from ocr_assets.engine.page.clean import check_clean_ready
from ocr_assets.engine.page.deskew import check_deskew_ready
from ocr_assets.engine.page.engines.base import OcrEngine
from ocr_assets.engine.page.engines.tesseract_cli import check_orientation_ready
from ocr_assets.engine.settings import AUTO_LANG, OcrSettings

BUILT_IN: dict[str, str] = {
    "pytesseract": "ocr_assets.engine.page.engines.tesseract_cli.PytesseractEngine",
    "tesserocr": "ocr_assets.engine.page.engines.tesserocr_engine.TesserocrEngine",
}
"""Engine name -> the dotted path of its factory, imported only when chosen."""
INSTALL_HINTS = {
    "tesserocr": "install it (scripts/setup.sh does, or `.venv/bin/pip install -e "
                 "'.[tesserocr]'`) or choose OCR_ASSETS_ENGINE=pytesseract",
}


def _factory(name: str) -> Callable[..., OcrEngine]:
    path = BUILT_IN.get(name, name)
    module_name, dot, attribute = path.rpartition(".")
    if not dot:
        raise ValueError(f"unknown OCR engine '{name}'; choose one of {sorted(BUILT_IN)} or "
                         "give the dotted path of an OcrEngine factory (package.module.Class)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, f"check that {module_name} is importable")
        raise RuntimeError(f"the {name} engine cannot be loaded ({exc}); {hint}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"OCR engine '{name}': {module_name} has no {attribute}") from None


@cache
def get_engine(spec: str) -> OcrEngine:
    """The engine of `spec` (`<engine>[:options]`), created once per process: a worker keeps
    its engine loaded from page to page."""
    name, _, options = spec.partition(":")
    factory = _factory(name)
    return factory(options) if options else factory()


def check_engine_ready(spec: str, lang: str, *, orientation: bool = False) -> None:
    """Fail the whole batch early, with what to do, when the engine, a language model or (with
    `orientation`) the orientation model used to turn pages upright is missing.

    A missing program, model or package raises `RuntimeError` (installing it is what helps,
    and the step is not retried); an `OSError` (a process that could not be started) is
    transient and passes through, so the step's retry policy retries it."""
    get_engine(spec).check_ready(lang)
    if orientation:
        check_orientation_ready()


def check_settings_ready(settings: OcrSettings, *, orientation: bool | None = None) -> None:
    """`check_engine_ready` for every model the settings may read a page with (the language,
    or with `lang = "auto"` its Latin model, and the alternative model), as one spec so that
    one error names every missing model and its package; the orientation model where pages may
    be turned (`orientation`, default: `auto_rotate`) or their script is asked (`auto`); and
    Leptonica where pages are deskewed; unpaper where they are cleaned."""
    turns = settings.auto_rotate if orientation is None else orientation
    check_engine_ready(settings.engine, "+".join(dict.fromkeys(settings.models())),
                       orientation=turns or settings.lang == AUTO_LANG)
    if settings.deskew != "off":
        check_deskew_ready()
    if settings.clean:
        check_clean_ready()
