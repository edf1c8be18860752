"""Which reading of a page is kept: the model of its script under `lang = "auto"`, and the
second readings of a doubtful page (the alternative model, the deskewed page), the better kept.

A scripted engine stands in for Tesseract here, so each test says exactly which reading is
better; the real engines' readings are tested in test_deskew.py and test_folder_models.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.page import reading
from ocr_assets.engine.page.engines.base import EngineOutput, OcrEngine
from ocr_assets.engine.page.orientation import Orientation
from ocr_assets.engine.settings import OcrSettings

GOOD = "This is a lot of twelve point text to test the reading of pages"
BAD = "qzx vbnm ,.,; xkcd qqq zzkw ;;; ###"


class ScriptedEngine(OcrEngine):
    """Returns a given reading per model (and `deskewed` for a deskewed file), with a given
    confidence, and records what it read."""

    name = "scripted"

    def __init__(self, readings: dict[str, tuple[str, float]]) -> None:
        self.readings = readings
        self.read: list[tuple[str, str]] = []

    def version(self) -> str:
        return "scripted"

    def check_ready(self, lang: str) -> None:
        if lang not in self.readings:
            raise RuntimeError(f"no model {lang}")

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        key = "deskewed" if image_path.name.startswith("deskewed") else lang
        self.read.append((image_path.name, lang))
        text, confidence = self.readings[key]
        words = tuple(text.split())
        return EngineOutput(text, words, tuple(confidence for _ in words), True, {})


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.png"
    Image.new("L", (200, 100), 255).save(path)
    return path


def read(page: Path, engine: ScriptedEngine, monkeypatch: pytest.MonkeyPatch,
         **settings: object) -> reading.ImageReading:
    monkeypatch.setattr(reading, "get_engine", lambda spec: engine)
    reading.model_installed.cache_clear()
    options: dict[str, object] = {"workers": 1, "auto_rotate": False}
    options.update(settings)
    return reading.read_image(page, page.parent, OcrSettings(**options), time.perf_counter(),
                              page)


def test_a_doubtful_reading_is_read_again_with_the_alternative_model_and_the_better_kept(
        page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ScriptedEngine({"eng": (BAD, 40.0), "script/Fraktur": (GOOD, 85.0)})
    kept = read(page, engine, monkeypatch, lang="eng", alt_lang="script/Fraktur")
    assert (kept.result.text, kept.model) == (GOOD, "script/Fraktur")
    assert [r["strategy"] for r in kept.second_readings] == ["alt_lang"]
    assert kept.second_readings[0]["kept"] is True


def test_an_alternative_reading_that_is_no_better_is_not_kept(
        page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ScriptedEngine({"eng": (GOOD, 45.0), "script/Fraktur": (BAD, 30.0)})
    kept = read(page, engine, monkeypatch, lang="eng", alt_lang="script/Fraktur")
    assert (kept.result.text, kept.model) == (GOOD, "eng")
    assert kept.second_readings[0]["kept"] is False


def test_a_confident_reading_is_not_read_again(page: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ScriptedEngine({"eng": (GOOD, 90.0), "script/Fraktur": (GOOD, 95.0)})
    kept = read(page, engine, monkeypatch, lang="eng", alt_lang="script/Fraktur",
                deskew="retry")
    assert engine.read == [("page.png", "eng")]
    assert kept.second_readings == []


def test_a_doubtful_reading_of_a_skewed_page_is_read_again_deskewed(
        tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    skewed = tmp_path / "skewed.png"
    with Image.open(fixtures_dir / "pages" / "phototest.tif") as image:
        image.convert("L").rotate(5, expand=True, fillcolor=255).save(skewed)
    engine = ScriptedEngine({"eng": (BAD, 40.0), "deskewed": (GOOD, 90.0)})
    kept = read(skewed, engine, monkeypatch, lang="eng", deskew="retry")
    assert kept.result.text == GOOD
    assert kept.deskew is not None and kept.deskew.applied
    assert kept.deskew.angle == pytest.approx(5, abs=0.3)
    assert kept.second_readings[0]["strategy"] == "deskew"


@pytest.mark.parametrize(("script", "model", "note"), [
    ("Fraktur", "script/Fraktur", ""),
    ("Latin", "deu", ""),
    (None, "deu", ""),
    ("Cyrillic", "deu", "model 'rus' is not installed")])
def test_auto_reads_each_page_with_the_model_of_its_script(
        page: Path, monkeypatch: pytest.MonkeyPatch, script: str | None, model: str,
        note: str) -> None:
    engine = ScriptedEngine({"deu": (GOOD, 90.0), "script/Fraktur": (GOOD, 90.0)})
    monkeypatch.setattr(reading, "detect_orientation",
                        lambda path, timeout_s: Orientation(0, 5.0, script))
    kept = read(page, engine, monkeypatch, lang="auto", latin_lang="deu")
    assert engine.read == [("page.png", model)]
    assert kept.model == model and note in kept.model_note
    assert kept.orientation is not None and kept.orientation.script == script


def test_how_doubtful_a_reading_must_be_to_be_read_again_is_a_setting(
        page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ScriptedEngine({"eng": (GOOD, 88.0), "script/Fraktur": (GOOD + " again", 80.0)})
    kept = read(page, engine, monkeypatch, lang="eng", alt_lang="script/Fraktur")
    assert kept.second_readings == [], "88 is not doubtful by default (below 85)"
    kept = read(page, engine, monkeypatch, lang="eng", alt_lang="script/Fraktur",
                retry_below_confidence=90.0)
    assert [r["strategy"] for r in kept.second_readings] == ["alt_lang"]


def test_by_default_a_reading_as_confident_as_fraktur_read_by_a_modern_model_is_read_again(
        page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`deu` reads the shared set's Fraktur pages at a mean confidence of 54.6 to 79.8."""
    engine = ScriptedEngine({"deu": (GOOD, 79.8), "script/Fraktur": (GOOD, 88.0)})
    kept = read(page, engine, monkeypatch, lang="deu", alt_lang="script/Fraktur")
    assert [r["strategy"] for r in kept.second_readings] == ["alt_lang"]
