"""Orientation detection (Tesseract OSD) and turning pages upright before OCR."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.page.engines.base import EngineOutput
from ocr_assets.engine.page.orientation import detect_orientation, rotate_image, upright_page
from ocr_assets.engine.page.reading import read_upright
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.helpers import ground_truth, new_run

TIMEOUT_S = 60.0


def turned_copy(page: Path, counter_clockwise: int, target: Path) -> Path:
    """`page` turned as a sideways or upside-down scan would be (Pillow turns counter-clockwise),
    keeping its resolution."""
    with Image.open(page) as image:
        image.rotate(counter_clockwise, expand=True).save(target, dpi=image.info["dpi"])
    return target


@pytest.fixture(scope="module")
def phototest(fixtures_dir: Path) -> Path:
    return fixtures_dir / "pages" / "phototest.tif"


@pytest.mark.parametrize(("counter_clockwise", "rotate"), [(90, 90), (180, 180), (270, 270)])
def test_a_turned_page_is_detected_and_turned_upright(tmp_path: Path, phototest: Path,
                                                      counter_clockwise: int, rotate: int) -> None:
    turned = turned_copy(phototest, counter_clockwise, tmp_path / "turned.png")
    path, orientation = upright_page(turned, tmp_path, timeout_s=TIMEOUT_S)
    assert (orientation.rotate, orientation.applied) == (rotate, True), orientation
    assert orientation.script == "Latin"
    assert path != turned and path.parent == tmp_path
    with Image.open(path) as upright, Image.open(phototest) as original:
        assert upright.size == original.size
        assert upright.info["dpi"] == pytest.approx(original.info["dpi"], abs=1)


def test_an_upright_page_is_passed_on_unchanged(tmp_path: Path, phototest: Path) -> None:
    path, orientation = upright_page(phototest, tmp_path, timeout_s=TIMEOUT_S)
    assert path == phototest
    assert (orientation.rotate, orientation.applied) == (0, False)
    assert orientation.confidence is not None and orientation.confidence > 0
    assert list(tmp_path.iterdir()) == []


def test_a_page_without_text_is_left_alone_with_the_reason(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (1200, 1600), 255).save(blank, dpi=(300, 300))
    path, orientation = upright_page(blank, tmp_path, timeout_s=TIMEOUT_S)
    assert path == blank
    assert (orientation.rotate, orientation.confidence, orientation.applied) == (0, None, False)
    assert "too few characters" in orientation.note


def test_an_unsure_detection_turns_nothing(tmp_path: Path, phototest: Path) -> None:
    turned = turned_copy(phototest, 180, tmp_path / "turned.png")
    path, orientation = upright_page(turned, tmp_path, timeout_s=TIMEOUT_S, min_confidence=1e6)
    assert path == turned
    assert orientation.rotate == 180 and not orientation.applied
    assert "below" in orientation.note
    assert detect_orientation(turned, timeout_s=TIMEOUT_S).rotate == 180


def test_rotate_image_turns_clockwise(tmp_path: Path) -> None:
    source = tmp_path / "wide.png"
    image = Image.new("L", (40, 20), 255)
    image.putpixel((0, 0), 0)  # top-left corner
    image.save(source)
    with Image.open(rotate_image(source, 90, tmp_path / "out.png")) as turned:
        assert turned.size == (20, 40)
        assert turned.getpixel((19, 0)) == 0  # clockwise: top-left becomes top-right


def test_the_pipeline_reads_a_turned_page_as_well_as_an_upright_one(tmp_path: Path,
                                                                    phototest: Path) -> None:
    run = new_run(tmp_path)
    turned_copy(phototest, 90, run.folder / "sideways.png")
    report = run.process(workers=1)
    assert report.done == 1, report.failures
    assert cer(ground_truth(phototest), run.text("sideways.png")) < 0.05
    _, facts_key = output_keys(run.manifest.pages(run.key)["sideways.png"].output_name or "")
    facts = read_json(run.outputs, facts_key)
    assert isinstance(facts, dict)
    assert facts["orientation"]["rotate"] == 90 and facts["orientation"]["applied"]
    assert facts["orientation"]["checked_because"].startswith("the first reading")
    assert facts["settings"]["auto_rotate"] is True

    unturned = new_run(tmp_path / "off")
    turned_copy(phototest, 90, unturned.folder / "sideways.png")
    unturned.process(workers=1, auto_rotate=False)
    assert cer(ground_truth(phototest), unturned.text("sideways.png")) > 0.5


def facts_of(run, page: str) -> dict:
    _, facts_key = output_keys(run.manifest.pages(run.key)[page].output_name or "")
    facts = read_json(run.outputs, facts_key)
    assert isinstance(facts, dict)
    return facts


def test_an_upright_page_that_reads_well_costs_no_orientation_pass(tmp_path: Path,
                                                                   phototest: Path) -> None:
    """OSD is a Tesseract pass of its own; a page whose reading as scanned is good never
    gets one (the facts say `orientation: null`), unless every page is asked for."""
    run = new_run(tmp_path)
    (run.folder / "upright.tif").write_bytes(phototest.read_bytes())
    run.process(workers=1)
    assert facts_of(run, "upright.tif")["orientation"] is None

    every = new_run(tmp_path / "every")
    (every.folder / "upright.tif").write_bytes(phototest.read_bytes())
    every.process(workers=1, rotate_every_page=True)
    orientation = facts_of(every, "upright.tif")["orientation"]
    assert (orientation["rotate"], orientation["applied"]) == (0, False)
    assert orientation["checked_because"] == "every page"
    assert every.text("upright.tif") == run.text("upright.tif")


class ScriptedEngine:
    """An engine that returns a given reading per image file name: the page as scanned, and
    the copy that orientation detection turned upright (`upright.png`)."""

    name = "scripted"

    def __init__(self, readings: dict[str, str]) -> None:
        self.readings = readings
        self.read: list[str] = []

    def version(self) -> str:
        return "scripted"

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        self.read.append(image_path.name)
        text = self.readings[image_path.name]
        words = tuple(text.split())
        return EngineOutput(text, words, tuple(30.0 for _ in words), True, {})


def test_a_turned_reading_that_is_no_better_is_not_kept(tmp_path: Path, phototest: Path) -> None:
    """OSD can be wrong (it called a sparse upright title page upside down); the reading of
    the turned copy replaces the first only when it scores better."""
    turned = turned_copy(phototest, 180, tmp_path / "scan.png")
    engine = ScriptedEngine({"scan.png": "qzx vbnm ,.,; xkcd qqq", "upright.png": "!!! ;;; ###"})

    result, quality, orientation = read_upright(
        turned, tmp_path, engine, OcrSettings(workers=1), time.perf_counter(), turned)

    assert engine.read == ["scan.png", "upright.png"]
    assert result.text == "qzx vbnm ,.,; xkcd qqq"
    assert orientation is not None and orientation.rotate == 180 and not orientation.applied
    assert "read no better" in orientation.note
    assert orientation.checked_because.startswith("the first reading")

    better = ScriptedEngine({"scan.png": "qzx vbnm ,.,; xkcd qqq",
                             "upright.png": "This is a lot of 12 point text to test the ocr"})
    result, turned_quality, orientation = read_upright(
        turned, tmp_path, better, OcrSettings(workers=1), time.perf_counter(), turned)
    assert result.text.startswith("This is a lot")
    assert turned_quality.garbage_score < quality.garbage_score
    assert orientation is not None and orientation.applied
