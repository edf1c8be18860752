"""The default engine, `auto`: tesserocr where it is installed, pytesseract otherwise, said once."""

from __future__ import annotations

import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.page.engines import choice
from ocr_assets.engine.settings import OcrSettings


@pytest.mark.parametrize(("installed", "engine"), [(True, "tesserocr"), (False, "pytesseract")])
def test_auto_is_resolved_where_the_settings_are_made(monkeypatch: pytest.MonkeyPatch,
                                                      installed: bool, engine: str) -> None:
    monkeypatch.setattr(choice, "kept_loaded_installed", lambda: installed)

    assert ProjectConfig().engine == "auto"
    assert ProjectConfig().settings().engine == engine, "pages record the engine that read them"
    assert OcrSettings().engine == engine
    assert choice.resolve_engine("auto:/opt/tessdata") == f"{engine}:/opt/tessdata"
    assert ProjectConfig(engine="pytesseract").settings().engine == "pytesseract"
    assert choice.resolve_engine("my.module.Engine:x") == "my.module.Engine:x"


def test_falling_back_says_why_and_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "kept_loaded_installed", lambda: False)
    note = choice.fallback_note("auto")
    assert note is not None and "tesserocr is not installed" in note
    assert "pip install -e '.[tesserocr]'" in note
    assert choice.fallback_note("pytesseract") is None, "chosen, not fallen back to"
    monkeypatch.setattr(choice, "kept_loaded_installed", lambda: True)
    assert choice.fallback_note("auto") is None


def test_auto_reads_with_pytesseract_where_alto_is_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """tesserocr renders hOCR in its pass but not ALTO: `auto` must not fail every page."""
    monkeypatch.setattr(choice, "kept_loaded_installed", lambda: True)
    assert OcrSettings(archival_formats=("hocr",)).engine == "tesserocr"
    assert OcrSettings(archival_formats=("hocr", "alto")).engine == "pytesseract"
    assert ProjectConfig(archival_formats="alto").settings().engine == "pytesseract"
    assert OcrSettings(engine="tesserocr", archival_formats=("alto",)).engine == "tesserocr", \
        "an engine named is kept (and refuses ALTO page by page, saying so)"
    note = choice.fallback_note("auto", ("alto",))
    assert note is not None and "ALTO" in note


def test_tesserocr_is_installed_by_the_setup() -> None:
    """scripts/setup.sh installs the extra: the default engine here is the fast one."""
    assert choice.kept_loaded_installed()
