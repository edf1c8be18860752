"""Per-folder settings: a `folder.toml` in a scan folder overrides the language (and page
segmentation mode) for that folder only, so one scans root can hold German, English and
mixed boxes side by side; a folder of PDFs that were OCRed before can keep their text.

```toml
lang = "deu"       # Tesseract language(s) of this folder, e.g. "deu+eng"
psm = 4            # optional: Tesseract page segmentation mode
skip_text = true   # optional: PDF pages with a text layer keep it instead of being OCRed
reuse_duplicates = false  # optional: OCR every page, also a scan already read elsewhere
```
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from ocr_assets.engine.settings import OcrSettings

FOLDER_CONFIG_NAME = "folder.toml"
FOLDER_KEYS: dict[str, type] = {"lang": str, "psm": int, "skip_text": bool,
                                 "reuse_duplicates": bool}
KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


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
        if key in values and (type(values[key]) is not kind):
            raise FolderConfigError(f"{path}: '{key}' must be {KIND_NAMES[kind]}, not "
                                    f"{values[key]!r}")
    lang = values.get("lang")
    if lang is not None and (not lang or any(not code for code in lang.split("+"))):
        raise FolderConfigError(f"{path}: lang {lang!r} is not a Tesseract language spec "
                                "such as 'deu' or 'deu+eng'")
    return dataclasses.replace(settings, **values)
