"""Per-folder settings: a `folder.toml` in a scan folder overrides the language (and page
segmentation mode) for that folder only, so one scans root can hold German, English, Fraktur
and mixed boxes side by side; a folder of PDFs that were OCRed before can keep their text.

```toml
lang = "deu"       # Tesseract model(s) of this folder, e.g. "deu+eng", "frk", "script/Fraktur",
                   # or "auto": per page, from the script orientation detection sees
latin_lang = "deu" # optional, with lang = "auto": the model of Latin-script pages
                   # (default: the project's lang)
alt_lang = "frk"   # optional: doubtful readings are read again with this model, better kept
deskew = "retry"   # optional: "off", "retry" (doubtful readings again, deskewed) or "always"
clean = true       # optional: every page cleaned by unpaper before its OCR
retry_below_confidence = 75  # optional: doubtful below this mean word confidence (default 85)
psm = 4            # optional: Tesseract page segmentation mode
skip_text = true   # optional: PDF pages with a text layer keep it instead of being OCRed
searchable_pdf = true  # optional: page PDFs and one searchable PDF of the folder
reuse_duplicates = false  # optional: OCR every page, also a scan already read elsewhere
```
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from ocr_assets.engine.settings import AUTO_LANG, OcrSettings

FOLDER_CONFIG_NAME = "folder.toml"
FOLDER_KEYS: dict[str, type] = {"lang": str, "psm": int, "skip_text": bool, "latin_lang": str,
                                "alt_lang": str, "deskew": str, "clean": bool,
                                "retry_below_confidence": float,
                                "searchable_pdf": bool, "reuse_duplicates": bool}
LANG_KEYS = ("lang", "latin_lang", "alt_lang")
KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


class FolderConfigError(ValueError):
    """A `folder.toml` that cannot be used; the message names the file and what to fix."""


def folder_settings(folder: Path, settings: OcrSettings) -> OcrSettings:
    """`settings` with the overrides of `folder/folder.toml` applied (unchanged without one)."""
    path = folder / FOLDER_CONFIG_NAME
    if not path.is_file():
        return settings
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FolderConfigError(f"{path}: not valid TOML ({exc}); fix or remove it") from exc
    unknown = sorted(set(values) - FOLDER_KEYS.keys())
    if unknown:
        raise FolderConfigError(f"{path}: unknown keys {unknown}; allowed: "
                                f"{sorted(FOLDER_KEYS)}")
    for key, kind in FOLDER_KEYS.items():
        # A number may be written as an integer (`75`); a boolean is never a number.
        accepted = (int, float) if kind is float else (kind,)
        if key in values and type(values[key]) not in accepted:
            raise FolderConfigError(f"{path}: '{key}' must be {KIND_NAMES[kind]}, not "
                                    f"{values[key]!r}")
    for key in LANG_KEYS:
        lang = values.get(key)
        if lang is not None and (not lang or any(not code for code in lang.split("+"))
                                 or (key != "lang" and lang == AUTO_LANG)):
            raise FolderConfigError(f"{path}: {key} {lang!r} is not a Tesseract language spec "
                                    "such as 'deu', 'deu+eng' or 'script/Fraktur'")
    if values.get("lang") == AUTO_LANG and "latin_lang" not in values \
            and settings.lang != AUTO_LANG:
        values["latin_lang"] = settings.lang
    if "retry_below_confidence" in values:
        values["retry_below_confidence"] = float(values["retry_below_confidence"])
    try:
        return dataclasses.replace(settings, **values)
    except ValueError as exc:
        raise FolderConfigError(f"{path}: {exc}") from exc
