"""The default engine, `auto`: Tesseract kept loaded in each worker (tesserocr) when it is
installed, the Tesseract CLI through pytesseract otherwise.

Kept loaded, a worker pays the model's load (about 0.16 s) once instead of once per page, and
the pages' text comes from the Tesseract that tesserocr's wheel bundles: on the shared test set
it read 1.15 times as many pages per second as the bare CLI with the same character error
rate (docs/benchmarks.md). pytesseract runs the installed `tesseract` program, so its text is
that program's page for page: choose it (`OCR_ASSETS_ENGINE=pytesseract`) for output identical
to a CLI workflow; `auto` chooses it too where ALTO is asked for, which tesserocr cannot render
in the same pass. `auto` is resolved where the settings are made, so every page's facts and
manifest row name the engine that really read it.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec

AUTO = "auto"
KEPT_LOADED = "tesserocr"
FALLBACK = "pytesseract"


@cache
def kept_loaded_installed() -> bool:
    """Whether tesserocr is installed, found without importing it: settings are made by every
    command, also those that read no page (`status`, `search`), which must not pay for the
    engine. An installed tesserocr that cannot load is reported by the engine's readiness
    check before any page is read, saying why."""
    return find_spec("tesserocr") is not None


def _fallback_reason(archival_formats: tuple[str, ...]) -> str | None:
    """Why `auto` reads with pytesseract here; None when it keeps Tesseract loaded."""
    if "alto" in archival_formats:
        return ("ALTO is asked for (OCR_ASSETS_ARCHIVAL_FORMATS), which tesserocr cannot render "
                "in the pass that reads the text")
    if not kept_loaded_installed():
        return ("tesserocr is not installed; installed, it keeps Tesseract loaded in each "
                "worker and reads pages faster (`.venv/bin/pip install -e '.[tesserocr]'`, "
                "which scripts/setup.sh runs)")
    return None


def resolve_engine(spec: str, archival_formats: tuple[str, ...] = ()) -> str:
    """`spec` (`<engine>[:options]`) with `auto` replaced by the engine it stands for here, for
    pages that also get the `archival_formats`."""
    name, sep, options = spec.partition(":")
    if name != AUTO:
        return spec
    engine = FALLBACK if _fallback_reason(archival_formats) else KEPT_LOADED
    return engine + sep + options


def fallback_note(spec: str, archival_formats: tuple[str, ...] = ()) -> str | None:
    """The line to log when `auto` fell back to pytesseract; None otherwise."""
    if spec.partition(":")[0] != AUTO:
        return None
    reason = _fallback_reason(archival_formats)
    return f"OCR engine: pytesseract, one Tesseract process per page, because {reason}" \
        if reason else None
