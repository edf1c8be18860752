"""Word lists of the configured OCR language, from the system's dictionaries.

The garbage detector asks what share of a page's words are real words of its language. The
lists are Debian's maintained word lists (`wamerican`, `wngerman`, ... from SCOWL and the
igerman98 project), installed by `scripts/setup.sh` into `/usr/share/dict`: plain UTF-8 files,
one word a line, no network and no model download at run time. A language with no list
installed is scored without this signal (`load_words` returns None), never refused.
"""

from __future__ import annotations

import os
import unicodedata
from functools import cache
from pathlib import Path

SYSTEM_DICT_DIR = Path("/usr/share/dict")


def dict_dir() -> Path:
    """Where the word lists are: `/usr/share/dict`, or where `OCR_ASSETS_DICT_DIR` points (one
    word a line, UTF-8); read when a list is looked up, in the process that looks."""
    return Path(os.environ.get("OCR_ASSETS_DICT_DIR") or SYSTEM_DICT_DIR)

WORD_LISTS: dict[str, tuple[tuple[str, str], ...]] = {
    # Tesseract language code -> (file under DICT_DIR, Debian package that installs it), ...
    "eng": (("american-english", "wamerican"), ("british-english", "wbritish")),
    "deu": (("ngerman", "wngerman"), ("ogerman", "wogerman"), ("swiss", "wswiss")),
    # German Fraktur, and the Fraktur script model (trained mostly on German): the German lists.
    "frk": (("ngerman", "wngerman"), ("ogerman", "wogerman"), ("swiss", "wswiss")),
    "script/Fraktur": (("ngerman", "wngerman"), ("ogerman", "wogerman"), ("swiss", "wswiss")),
    "Fraktur": (("ngerman", "wngerman"), ("ogerman", "wogerman"), ("swiss", "wswiss")),
    "fra": (("french", "wfrench"),),
    "spa": (("spanish", "wspanish"),),
    "ita": (("italian", "witalian"),),
    "nld": (("dutch", "wdutch"),),
    "por": (("portuguese", "wportuguese"),),
    "swe": (("swedish", "wswedish"),),
    "dan": (("danish", "wdanish"),),
    "nor": (("bokmaal", "wnorwegian"),),
    "pol": (("polish", "wpolish"),),
}

# Historical and typographic letter forms that the word lists spell in the modern way.
HISTORICAL_FORMS = str.maketrans({"\u017f": "s", "\u00e6": "ae", "\u0153": "oe"})


def word_key(word: str) -> str:
    """The form in which words are compared: compatibility-decomposed ligatures (NFKC turns
    U+FB01 into "fi"), long s as s, lower case."""
    return unicodedata.normalize("NFKC", word).translate(HISTORICAL_FORMS).casefold()


def word_list_files(lang: str) -> list[Path]:
    """The installed list files for a Tesseract language spec such as `deu+eng`."""
    folder = dict_dir()
    return [folder / name for code in lang.split("+") for name, _ in WORD_LISTS.get(code, ())
            if (folder / name).is_file()]


def missing_word_lists(lang: str) -> list[str]:
    """Debian packages that would give `lang` a word list where it has none installed."""
    missing = []
    for code in lang.split("+"):
        options = WORD_LISTS.get(code, ())
        if options and not any((dict_dir() / name).is_file() for name, _ in options):
            missing.append(options[0][1])
    return missing


@cache
def load_words(lang: str) -> frozenset[str] | None:
    """Every word of the installed lists of `lang` (in `word_key` form, possessive `'s`
    dropped), or None when no list is installed for any of its languages. Loaded once per
    process (a pool worker keeps it)."""
    files = word_list_files(lang)
    if not files:
        return None
    words: set[str] = set()
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            word = line.strip().removesuffix("'s")
            if word:
                words.add(word_key(word))
    return frozenset(words)
