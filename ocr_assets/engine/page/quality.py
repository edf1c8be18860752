"""Quality facts of one page's OCR: is it empty, is it garbage, and how sure are we.

All scoring lives here so it is calibrated in one place. Three signals that fail in different
ways are combined:

- Tesseract's own mean word confidence (low on noise, photos and show-through);
- the share of the page's tokens that are real words of the configured language: a word of at
  least three letters found in the system's word list (`wordlists`). Two-letter tokens are
  left out because noise reads as `AS`, `NE`, `Te`, which a word list of abbreviations has;
- the share of garbage tokens by the rules of rmgarbage (Taghva, Nartker, Condit, Borsack 2001).

`garbage_score = (1 - confidence) / 2 + (1 - dictionary share) / 2 + garbage-token share / 4`,
clipped to 0..1. A page is `empty` when it has fewer than `min_alnum_chars` letters and digits,
or fewer than `min_real_words` real words in fewer than `near_blank_max_chars` printed
characters (blank and near-blank pages: a cover, an endpaper with a library label), else
`garbage` when its score is above `garbage_score`. The weights and
both limits were calibrated on labelled pages (docs/quality.md; recomputed by
`ocr_assets_tests/quality_calibration.py`).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from ocr_assets.engine.page.wordlists import word_key

# Quotes and dashes of several typographic traditions, spelled as escapes for unambiguity.
TOKEN_EDGE_PUNCTUATION = ("\"'\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb"
                          "()[]{}<>.,;:!?-\u2013\u2014/\\*")
VOWELS = frozenset("aeiouyäöüàáâèéêìíîòóôùúûåæøœAEIOUYÄÖÜÀÁÂÈÉÊÌÍÎÒÓÔÙÚÛÅÆØŒ")
REPEATED_CHAR = re.compile(r"(.)\1{3,}")
MIN_DICTIONARY_WORD_LETTERS = 3


@dataclass(frozen=True)
class QualityThresholds:
    """Limits above or below which a page is flagged; calibrated, see docs/quality.md."""

    min_alnum_chars: int = 10
    """Fewer letters and digits than this is an empty page (blank pages OCR to a few specks)."""
    min_real_words: int = 4
    """Fewer real words than this is an empty (near-blank) page: the labelled near-blank pages
    had at most 3 (a library label, a colour chart's "KODAK Gray Scale"), the sparsest text
    page 5 ("To simple burn running of goods lately.")."""
    near_blank_max_chars: int = 100
    """A page with few real words is near-blank only when little is printed on it at all (the
    labelled near-blank pages had at most 40 characters); one with more is judged by its
    garbage score (symbol soup, mirror-image text, scribbles)."""
    garbage_score: float = 0.675
    """A page whose garbage score is above this is garbage."""


@dataclass(frozen=True)
class PageQuality:
    chars: int
    words: int
    mean_confidence: float | None
    dictionary_word_share: float | None
    """Share of tokens that are words of the word list; None when no list is installed."""
    garbage_token_share: float
    real_words: int
    """Dictionary words (or, with no word list, rule-plausible words) on the page."""
    garbage_score: float
    """0 = reads like text, 1 = noise."""
    flags: tuple[str, ...]
    """`empty` or `garbage`, nothing for a good page."""
    reason: str
    """Why the page was flagged, in words an operator can check against the image."""


def is_garbage_token(token: str) -> bool:
    """rmgarbage's token rules (Taghva, Nartker, Condit, Borsack 2001), kept to those that hold
    for historical spelling too."""
    core = token.strip(TOKEN_EDGE_PUNCTUATION)
    if not core:
        return True
    if len(core) > 40 or REPEATED_CHAR.search(core):
        return True
    alnum = sum(ch.isalnum() for ch in core)
    if alnum * 2 < len(core):
        return True
    letters = [ch for ch in core if ch.isalpha()]
    if len(letters) >= 4 and not any(ch in VOWELS for ch in letters):
        return True
    inner = core[1:]
    case_switches = sum(1 for a, b in itertools.pairwise(inner)
                        if a.islower() and b.isupper())
    return case_switches >= 2


def is_plausible_word(token: str) -> bool:
    """A token that looks like a word by the rules alone (used where no word list exists)."""
    core = token.strip(TOKEN_EDGE_PUNCTUATION)
    if core.isdigit():
        return True
    return len(core) >= 2 and core.isalpha() and not is_garbage_token(core)


def is_dictionary_word(token: str, words: frozenset[str]) -> bool:
    core = token.strip(TOKEN_EDGE_PUNCTUATION)
    return (len(core) >= MIN_DICTIONARY_WORD_LETTERS and core.isalpha()
            and word_key(core) in words)


def score_page(text: str, confidences: tuple[float, ...], words: frozenset[str] | None = None,
               thresholds: QualityThresholds = QualityThresholds()) -> PageQuality:
    """Flags and scores for one page's text, its per-word confidences (0..100) and the word
    list of its language (`wordlists.load_words`; None: score without one)."""
    tokens = text.split()
    printed = sum(not ch.isspace() for ch in text)
    alnum = sum(ch.isalnum() for ch in text)
    mean_conf = statistics.fmean(confidences) if confidences else None
    garbage_share = sum(map(is_garbage_token, tokens)) / len(tokens) if tokens else 1.0
    if words is not None:
        real_words = sum(is_dictionary_word(t, words) for t in tokens)
        dictionary_share: float | None = real_words / len(tokens) if tokens else 0.0
    else:
        real_words = sum(map(is_plausible_word, tokens))
        dictionary_share = None
    confidence = mean_conf / 100.0 if mean_conf is not None else 0.0
    # Without a word list the dictionary term is left out and the confidence counts double.
    word_term = dictionary_share if dictionary_share is not None else confidence
    garbage_score = round(min(1.0, max(0.0, (1.0 - confidence) / 2 + (1.0 - word_term) / 2
                                       + garbage_share / 4)), 4)

    flags: tuple[str, ...] = ()
    reason = ""
    if alnum < thresholds.min_alnum_chars:
        flags, reason = ("empty",), f"{alnum} letters/digits (< {thresholds.min_alnum_chars})"
    elif (real_words < thresholds.min_real_words
          and printed < thresholds.near_blank_max_chars):
        kind = "dictionary" if words is not None else "plausible"
        flags, reason = ("empty",), (f"near-blank: {real_words} {kind} words "
                                     f"(< {thresholds.min_real_words}) in {printed} characters")
    elif garbage_score > thresholds.garbage_score:
        conf_text = f"{mean_conf:.0f}" if mean_conf is not None else "n/a"
        words_text = (f"{dictionary_share:.0%} dictionary words"
                      if dictionary_share is not None else "no word list")
        flags, reason = ("garbage",), (
            f"garbage score {garbage_score:.2f} > {thresholds.garbage_score:g} (confidence "
            f"{conf_text}, {words_text}, {garbage_share:.0%} garbage tokens)")
    return PageQuality(chars=printed, words=len(tokens), mean_confidence=mean_conf,
                       dictionary_word_share=(round(dictionary_share, 4)
                                              if dictionary_share is not None else None),
                       garbage_token_share=round(garbage_share, 4), real_words=real_words,
                       garbage_score=garbage_score, flags=flags, reason=reason)
