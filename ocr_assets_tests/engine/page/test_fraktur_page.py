"""The shipped Fraktur page (`fixtures/fraktur/`, 1837): the Fraktur model reads it better than
the modern German one, and a `deu` folder with `alt_lang` recovers it at the default doubt
limit. Runs without the shared test set (the shared set's twelve Fraktur pages are measured in
docs/quality.md); the page is read as the worker reads it (`read_image`), without a pool."""

from __future__ import annotations

import time
from pathlib import Path

from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.page.reading import ImageReading, read_image
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.helpers import FIXTURES, FRAKTUR_INSTALLED, ground_truth

PAGE = FIXTURES / "fraktur" / "laube_europa0202_1837_0105.jpg"
MARGIN = 0.02
"""Measured with the tesserocr engine: `deu` 6.9 % CER, `script/Fraktur` 2.5 %."""
FRAKTUR_CEILING = 0.05


def _read(tmp_path: Path, **settings: object) -> ImageReading:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return read_image(PAGE, work, OcrSettings(workers=1, auto_rotate=False, **settings),
                      time.perf_counter(), PAGE)


@FRAKTUR_INSTALLED
def test_the_fraktur_model_reads_the_shipped_fraktur_page_better_than_deu(
        tmp_path: Path) -> None:
    truth = ground_truth(PAGE)
    modern = cer(truth, _read(tmp_path, lang="deu").result.text)
    fraktur = cer(truth, _read(tmp_path, lang="script/Fraktur").result.text)
    assert fraktur < FRAKTUR_CEILING and fraktur < modern - MARGIN, (fraktur, modern)


@FRAKTUR_INSTALLED
def test_a_deu_folder_with_alt_lang_recovers_it_at_the_default_doubt_limit(
        tmp_path: Path) -> None:
    kept = _read(tmp_path, lang="deu", alt_lang="script/Fraktur")
    assert kept.model == "script/Fraktur", kept.second_readings
    assert cer(ground_truth(PAGE), kept.result.text) < FRAKTUR_CEILING
