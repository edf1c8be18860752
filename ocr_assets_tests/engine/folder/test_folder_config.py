"""Per-folder language (and psm) in `folder.toml`, and the error when a language is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocr_assets.engine.folder.config import FolderConfigError, folder_settings
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.helpers import new_run


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "folder.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_file_the_settings_stay(tmp_path: Path) -> None:
    settings = OcrSettings(lang="eng", psm=3)
    assert folder_settings(tmp_path, settings) is settings


def test_the_file_overrides_language_and_psm_only_for_its_folder(tmp_path: Path) -> None:
    write_config(tmp_path / "german", 'lang = "deu+eng"\npsm = 4\n')
    settings = OcrSettings(lang="eng", psm=3, workers=1)
    overridden = folder_settings(tmp_path / "german", settings)
    assert (overridden.lang, overridden.psm, overridden.workers) == ("deu+eng", 4, 1)
    assert folder_settings(tmp_path / "other", settings) is settings


def test_skip_text_is_a_folder_setting_and_part_of_the_recipe(tmp_path: Path) -> None:
    write_config(tmp_path / "reocr", "skip_text = true\n")
    settings = OcrSettings(workers=1)
    kept = folder_settings(tmp_path / "reocr", settings)
    assert kept.skip_text and not settings.skip_text
    assert kept.recipe_key() != settings.recipe_key()
    assert "skip_text" not in settings.recipe(), "recipes made before skip_text stay the same"


@pytest.mark.parametrize(("text", "message"), [
    ("lang = deu", "not valid TOML"),
    ('language = "deu"', "unknown keys ['language']"),
    ("lang = 7", "'lang' must be a string"),
    ('psm = "4"', "'psm' must be an integer"),
    ('skip_text = "yes"', "'skip_text' must be true or false"),
    ('lang = "deu+"', "not a Tesseract language spec"),
])
def test_a_bad_file_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(FolderConfigError) as error:
        folder_settings(tmp_path, OcrSettings())
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_folder_in_german_is_read_and_scored_in_german(tmp_path: Path,
                                                         fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    write_config(run.folder, 'lang = "deu"\n')
    report = run.process(workers=1, lang="eng")
    assert report.done == 1
    facts = read_json(run.outputs, output_keys("phototest.tif")[1])
    assert isinstance(facts, dict) and facts["settings"]["lang"] == "deu"


def test_a_missing_language_stops_the_folder_with_how_to_install_it(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    config = write_config(run.folder, 'lang = "xyz"\n')
    with pytest.raises(RuntimeError) as error:
        run.process(workers=1)
    message = str(error.value)
    assert "no traineddata for language 'xyz'" in message
    assert "apt-get install tesseract-ocr-xyz" in message
    assert str(config) in message
    assert run.manifest.pages(run.key) == {}, "no page is touched"


def test_models_deskew_and_cleaning_are_folder_settings_and_part_of_the_recipe(
        tmp_path: Path) -> None:
    write_config(tmp_path / "fraktur", 'lang = "auto"\nalt_lang = "script/Fraktur"\n'
                                       'deskew = "retry"\nclean = true\n')
    settings = OcrSettings(workers=1, lang="deu")
    fraktur = folder_settings(tmp_path / "fraktur", settings)
    assert (fraktur.lang, fraktur.latin_lang, fraktur.alt_lang, fraktur.deskew,
            fraktur.clean) == ("auto", "deu", "script/Fraktur", "retry", True), \
        "auto reads Latin pages with the project's lang"
    assert fraktur.models() == ["deu", "script/Fraktur"]
    second = {"latin_lang", "alt_lang", "deskew", "clean", "retry_below_confidence"}
    assert second <= fraktur.recipe().keys(), "the doubt limit too, as a second reading uses it"
    assert not second & settings.recipe().keys(), \
        "recipes made before these settings existed stay the same"
    keys = {folder_settings(tmp_path / "fraktur", settings).recipe_key()}
    for text in ('lang = "auto"\nlatin_lang = "eng"\n', 'lang = "frk"\n',
                 'deskew = "always"\n', 'alt_lang = "frk"\n', 'clean = true\n'):
        write_config(tmp_path / "fraktur", text)
        keys.add(folder_settings(tmp_path / "fraktur", settings).recipe_key())
    assert len(keys) == 6, "each change of model, deskew or cleaning reads the folder again"


@pytest.mark.parametrize(("text", "message"), [
    ('deskew = "sometimes"', "deskew 'sometimes' is not one of ['off', 'retry', 'always']"),
    ('alt_lang = "auto"', "alt_lang 'auto' is not a Tesseract language spec"),
    ('latin_lang = "+"', "latin_lang '+' is not a Tesseract language spec"),
    ('clean = "yes"', "'clean' must be true or false"),
])
def test_bad_model_and_deskew_values_are_refused_naming_the_file(
        tmp_path: Path, text: str, message: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(FolderConfigError) as error:
        folder_settings(tmp_path, OcrSettings(workers=1))
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_missing_alternative_model_stops_the_folder_before_any_page(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder)
    config = write_config(run.folder, 'lang = "xyz"\nalt_lang = "script/Zzzz"\n')
    with pytest.raises(RuntimeError) as error:
        run.process(workers=1)
    message = str(error.value)
    assert "languages 'xyz', 'script/Zzzz'" in message, "one error names every missing model"
    assert "apt-get install tesseract-ocr-xyz tesseract-ocr-script-zzzz" in message
    assert str(config) in message
    assert run.manifest.pages(run.key) == {}, "no page is touched"
