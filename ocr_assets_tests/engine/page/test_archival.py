"""Per-page hOCR and ALTO from Tesseract's own renderers, in the same pass as the text."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ocr_assets.engine.page.worker import archival_key
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.helpers import new_run

ALTO_NS = "{http://www.loc.gov/standards/alto/ns-v3#}"


def test_hocr_and_alto_are_written_beside_the_text_from_one_pass(tmp_path: Path,
                                                                  fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    report = run.process(workers=1, archival_formats=("hocr", "alto"))
    assert report.done == 1

    hocr = run.outputs.path(archival_key("phototest.tif", "hocr")).read_text(encoding="utf-8")
    assert "ocr_page" in hocr and "ocrx_word" in hocr and ">quick<" in hocr
    alto = ET.parse(run.outputs.path(archival_key("phototest.tif", "alto")))
    words = [s.get("CONTENT") for s in alto.getroot().iter(f"{ALTO_NS}String")]
    assert words[:4] == ["This", "is", "a", "lot"]
    assert " ".join(words).split() == run.text("phototest.tif").split()

    plain = new_run(tmp_path / "plain")
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", plain.folder)
    plain.process(workers=1)
    assert plain.text("phototest.tif") == run.text("phototest.tif")
    assert not plain.outputs.exists(archival_key("phototest.tif", "hocr"))

    (run.folder / "phototest.tif").unlink()
    run.process(workers=1, archival_formats=("hocr", "alto"))
    assert not run.outputs.exists(archival_key("phototest.tif", "alto")), "removed with the page"


def test_an_unknown_archival_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown archival formats"):
        OcrSettings(archival_formats=("pdf",))


def test_the_tesserocr_engine_renders_hocr_in_its_pass_and_refuses_alto(
        tmp_path: Path, fixtures_dir: Path) -> None:
    pytest.importorskip("tesserocr", reason="the tesserocr engine is an opt-in extra: "
                                            'pip install -e ".[tesserocr]"')
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    assert run.process(workers=1, engine="tesserocr", archival_formats=("hocr",)).done == 1
    hocr = run.outputs.path(archival_key("phototest.tif", "hocr")).read_text(encoding="utf-8")
    assert "ocrx_word" in hocr and ">quick<" in hocr
    assert hocr.startswith("<?xml") and "ocr-system" in hocr and hocr.rstrip().endswith("</html>")

    alto = new_run(tmp_path / "alto")
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", alto.folder)
    report = alto.process(workers=1, engine="tesserocr", archival_formats=("alto",))
    assert report.failed == 1
    assert "not ALTO" in (report.failures[0].error_message or "")
