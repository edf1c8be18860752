"""Models by name: `script/Fraktur` under Debian's and upstream's tessdata layouts, for every
engine, and one error that names every missing model's package."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_assets.engine.page.engines.registry import check_settings_ready, get_engine
from ocr_assets.engine.page.engines.tesseract_cli import installed_languages
from ocr_assets.engine.page.models import (
    debian_package,
    missing_models_message,
    resolve,
    script_model,
    tessdata_models,
)
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.helpers import FRAKTUR_INSTALLED


def test_a_script_model_is_spelt_as_it_is_installed() -> None:
    debian, upstream = {"deu", "frk", "Fraktur"}, {"deu", "script/Fraktur"}
    assert resolve("deu+script/Fraktur", debian).lang == "deu+Fraktur"
    assert resolve("script/Fraktur", upstream).lang == "script/Fraktur"
    assert resolve("Fraktur", upstream).lang == "script/Fraktur"
    assert resolve("deu+frk", debian) == resolve("deu+frk", debian | upstream)
    assert resolve("deu+frk", upstream).missing == ("frk",)


@pytest.mark.parametrize(("model", "package"), [
    ("frk", "tesseract-ocr-frk"), ("chi_sim", "tesseract-ocr-chi-sim"),
    ("script/Fraktur", "tesseract-ocr-script-frak"), ("Fraktur", "tesseract-ocr-script-frak"),
    ("script/Cyrillic", "tesseract-ocr-script-cyrl")])
def test_each_model_names_its_debian_package(model: str, package: str) -> None:
    assert debian_package(model) == package


def test_one_message_names_every_missing_model_and_its_package() -> None:
    message = missing_models_message(["xyz", "script/Cyrillic"], "xyz+deu+script/Cyrillic")
    assert "languages 'xyz', 'script/Cyrillic'" in message
    assert "apt-get install tesseract-ocr-xyz tesseract-ocr-script-cyrl" in message


def test_the_models_of_a_tessdata_directory_in_either_layout(tmp_path: Path) -> None:
    (tmp_path / "script").mkdir()
    for name in ("eng.traineddata", "Fraktur.traineddata", "script/Latin.traineddata"):
        (tmp_path / name).write_bytes(b"")
    assert tessdata_models(tmp_path) == {"eng", "Fraktur", "script/Latin"}


def test_osd_scripts_choose_their_models() -> None:
    assert script_model("Fraktur", "deu") == "script/Fraktur"
    assert script_model("Cyrillic", "deu") == "rus"
    assert script_model("Latin", "deu") == "deu"
    assert script_model(None, "deu") == "deu", "a page OSD cannot judge: the Latin model"


def test_settings_with_missing_models_fail_once_naming_them_all() -> None:
    settings = OcrSettings(workers=1, engine="pytesseract", lang="deu+xyz",
                           alt_lang="script/Cyrillic")
    if "script/Cyrillic" in installed_languages() or "Cyrillic" in installed_languages():
        pytest.skip("script/Cyrillic is installed here")
    with pytest.raises(RuntimeError) as error:
        check_settings_ready(settings)
    message = str(error.value)
    assert "'xyz', 'script/Cyrillic'" in message
    assert "tesseract-ocr-xyz tesseract-ocr-script-cyrl" in message


@FRAKTUR_INSTALLED
@pytest.mark.parametrize("engine", ["pytesseract", "tesserocr"])
def test_every_engine_reads_with_a_script_model_name(engine: str, tmp_path: Path,
                                                     fixtures_dir: Path) -> None:
    if engine == "tesserocr":
        pytest.importorskip("tesserocr", reason="tesserocr is not installed")
    backend = get_engine(engine)
    backend.check_ready("deu+script/Fraktur")
    result = backend.recognise(fixtures_dir / "pages" / "phototest.tif", tmp_path,
                               lang="script/Fraktur", psm=3, timeout_s=60)
    assert "point text" in result.text


@FRAKTUR_INSTALLED
def test_tesserocr_finds_a_script_model_in_upstreams_layout(tmp_path: Path,
                                                           fixtures_dir: Path) -> None:
    engines = pytest.importorskip("ocr_assets.engine.page.engines.tesserocr_engine",
                                  reason="tesserocr is not installed")
    installed = engines.find_tessdata()
    (tmp_path / "script").mkdir()
    (tmp_path / "eng.traineddata").symlink_to(installed / "eng.traineddata")
    fraktur = next(installed.glob("**/Fraktur.traineddata"))
    (tmp_path / "script" / "Fraktur.traineddata").symlink_to(fraktur)
    backend = engines.TesserocrEngine(str(tmp_path))
    backend.check_ready("eng+Fraktur")
    result = backend.recognise(fixtures_dir / "pages" / "phototest.tif", tmp_path,
                               lang="script/Fraktur", psm=3, timeout_s=60)
    assert "point text" in result.text
