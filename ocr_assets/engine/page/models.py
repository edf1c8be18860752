"""Tesseract models by name: which are installed, the name an engine hands Tesseract, and the
Debian package that installs a missing one.

A language spec is Tesseract's: model names joined by `+` (`deu+frk`). A model is a language
(`deu`, `frk`, `chi_sim`) or a script (`script/Fraktur`, `script/Latin`), the names of the
`tessdata` repositories. Upstream's layout keeps the script models in a `script/` folder of
tessdata; Debian's `tesseract-ocr-script-*` packages put them beside the languages
(`/usr/share/tesseract-ocr/5/tessdata/Fraktur.traineddata`). `resolve` accepts either spelling
under either layout, so a `folder.toml` that says `script/Fraktur` works wherever the model is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCRIPT_PREFIX = "script/"
SCRIPT_PACKAGES: dict[str, str] = {
    "Arabic": "arab", "Armenian": "armn", "Bengali": "beng", "Canadian_Aboriginal": "cans",
    "Cherokee": "cher", "Cyrillic": "cyrl", "Devanagari": "deva", "Ethiopic": "ethi",
    "Fraktur": "frak", "Georgian": "geor", "Greek": "grek", "Gujarati": "gujr",
    "Gurmukhi": "guru", "HanS": "hans", "HanS_vert": "hans-vert", "HanT": "hant",
    "HanT_vert": "hant-vert", "Hangul": "hang", "Hangul_vert": "hang-vert", "Hebrew": "hebr",
    "Japanese": "jpan", "Japanese_vert": "jpan-vert", "Kannada": "knda", "Khmer": "khmr",
    "Lao": "laoo", "Latin": "latn", "Malayalam": "mlym", "Myanmar": "mymr", "Oriya": "orya",
    "Sinhala": "sinh", "Syriac": "syrc", "Tamil": "taml", "Telugu": "telu", "Thaana": "thaa",
    "Thai": "thai", "Tibetan": "tibt", "Vietnamese": "viet",
}
"""Script model -> the suffix of its Debian package (`tesseract-ocr-script-<suffix>`)."""


def model_names(lang: str) -> list[str]:
    """The models of a language spec such as `deu+script/Fraktur`."""
    return lang.split("+")


def debian_package(model: str) -> str:
    """The Debian/Ubuntu package that installs `model`: `tesseract-ocr-frk` for `frk`,
    `tesseract-ocr-script-frak` for `script/Fraktur` (or Debian's own name for it, `Fraktur`)."""
    script = model.removeprefix(SCRIPT_PREFIX)
    if script in SCRIPT_PACKAGES:
        return f"tesseract-ocr-script-{SCRIPT_PACKAGES[script]}"
    return f"tesseract-ocr-{model.lower().replace('_', '-').replace('/', '-')}"


def missing_models_message(missing: list[str], lang: str) -> str:
    """One message for all the models of `lang` that are not installed: what to install."""
    packages = " ".join(dict.fromkeys(debian_package(model) for model in missing))
    named = ", ".join(f"'{model}'" for model in missing)
    spec = f" (of '{lang}')" if missing != [lang] else ""
    return (f"Tesseract has no traineddata for language{'s' if len(missing) > 1 else ''} "
            f"{named}{spec}; install it (Debian/Ubuntu: sudo apt-get install {packages}; "
            "elsewhere put <model>.traineddata from github.com/tesseract-ocr/tessdata into the "
            "tessdata directory) or set TESSDATA_PREFIX")


@dataclass(frozen=True)
class Resolution:
    """A language spec as the installed models let Tesseract load it."""

    lang: str
    """The spec to hand Tesseract, each model spelt as it is installed."""
    missing: tuple[str, ...]
    """Models of the spec that are not installed, as the spec spells them."""


def resolve(lang: str, installed: set[str]) -> Resolution:
    """`lang` with each model spelt as `installed` has it (Tesseract's `--list-langs` names, or
    `tessdata_models`): `script/Fraktur` becomes `Fraktur` under Debian's layout, `Fraktur`
    becomes `script/Fraktur` under upstream's."""
    spelt: list[str] = []
    missing: list[str] = []
    for model in model_names(lang):
        script = model.removeprefix(SCRIPT_PREFIX)
        found = next((name for name in (model, script, SCRIPT_PREFIX + script)
                      if name in installed), None)
        if found is None:
            missing.append(model)
        spelt.append(found or model)
    return Resolution("+".join(spelt), tuple(missing))


def tessdata_models(tessdata: Path) -> set[str]:
    """The models in a tessdata directory, named as Tesseract's `--list-langs` names them
    (`deu`, `Fraktur`, `script/Fraktur`)."""
    return ({path.stem for path in tessdata.glob("*.traineddata")}
            | {SCRIPT_PREFIX + path.stem
               for path in (tessdata / "script").glob("*.traineddata")})


SCRIPT_MODELS: dict[str, str] = {
    "Fraktur": "script/Fraktur", "Cyrillic": "rus", "Greek": "ell", "Arabic": "ara",
    "Hebrew": "heb", "Han": "chi_sim", "Japanese": "jpn", "Katakana": "jpn", "Hiragana": "jpn",
    "Hangul": "kor", "Devanagari": "hin", "Thai": "tha", "Armenian": "hye",
    "Georgian": "kat", "Bengali": "ben", "Tamil": "tam", "Telugu": "tel", "Kannada": "kan",
    "Malayalam": "mal", "Gujarati": "guj", "Gurmukhi": "pan", "Ethiopic": "amh",
}
"""With `lang = "auto"`: the script orientation detection names -> the model that reads it.
Latin script, and a script not listed here, is read with the folder's Latin model
(`latin_lang`). Fraktur goes to the script model, which reads German and other Fraktur alike
(on the shared set's German Fraktur pages 9.3 % CER, `frk` 9.6 %, `deu` 14.6 %:
docs/quality.md)."""


def script_model(script: str | None, latin_lang: str) -> str:
    """The model for a page of `script` (None: orientation detection could not tell)."""
    return SCRIPT_MODELS.get(script or "", latin_lang)
