"""Quality facts of one page's OCR: is it empty, is it garbage, and how sure are we.

All scoring lives here so it can be calibrated in one place. The garbage score combines three
signals that fail in different ways: Tesseract's own word confidence (low on noise and photos),
the share of tokens that look like words (rmgarbage-style rules after Taghva et al., 2001), and
the share of letters among the printed characters (noise OCRs as punctuation and symbols).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

# Quotes and dashes of several typographic traditions, spelled as escapes for unambiguity.
TOKEN_EDGE_PUNCTUATION = ("\"'\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb"
                          "()[]{}<>.,;:!?-\u2013\u2014/\\*")
VOWELS = frozenset("aeiouyäöüàáâèéêìíîòóôùúûåæøœAEIOUYÄÖÜÀÁÂÈÉÊÌÍÎÒÓÔÙÚÛÅÆØŒ")
REPEATED_CHAR = re.compile(r"(.)\1{3,}")


@dataclass(frozen=True)
class QualityThresholds:
    """Limits above or below which a page is flagged; see README "Quality flags"."""

    min_alnum_chars: int = 10
    """Fewer letters and digits than this is an empty page (blank pages OCR to a few specks)."""
    garbage_score: float = 0.5
    """A page whose garbage score is above this is flagged as garbage."""


@dataclass(frozen=True)
class PageQuality:
    chars: int
    words: int
    mean_confidence: float | None
    plausible_word_share: float
    letter_share: float
    garbage_score: float
    """0 = reads like text, 1 = noise."""
    flags: tuple[str, ...]
    """`empty` and/or `garbage`, with nothing for a good page."""
    reason: str
    """Why the page was flagged, in words an operator can check against the image."""


def is_garbage_token(token: str) -> bool:
    """rmgarbage's token rules (Taghva, Nartker, Condit, Borsack 2001), kept to those that hold
    for historical spelling too (no dictionary here: Fraktur-era words are not in one)."""
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
    core = token.strip(TOKEN_EDGE_PUNCTUATION)
    if core.isdigit():
        return True
    return len(core) >= 2 and core.isalpha() and not is_garbage_token(core)


def score_page(text: str, confidences: tuple[float, ...],
               thresholds: QualityThresholds = QualityThresholds()) -> PageQuality:
    """Flags and scores for one page's text and its per-word confidences (0..100)."""
    tokens = text.split()
    printed = [ch for ch in text if not ch.isspace()]
    alnum = sum(ch.isalnum() for ch in printed)
    letter_share = sum(ch.isalpha() for ch in printed) / len(printed) if printed else 0.0
    plausible = sum(is_plausible_word(t) for t in tokens) / len(tokens) if tokens else 0.0
    mean_conf = statistics.fmean(confidences) if confidences else None

    confidence_badness = 1.0 - (mean_conf / 100.0) if mean_conf is not None else 1.0
    garbage_score = round(
        0.4 * confidence_badness + 0.4 * (1.0 - plausible) + 0.2 * (1.0 - letter_share), 4)

    flags: list[str] = []
    reasons: list[str] = []
    if alnum < thresholds.min_alnum_chars:
        flags.append("empty")
        reasons.append(f"{alnum} letters/digits (< {thresholds.min_alnum_chars})")
    elif garbage_score > thresholds.garbage_score:
        flags.append("garbage")
        conf_text = f"{mean_conf:.0f}" if mean_conf is not None else "n/a"
        reasons.append(f"garbage score {garbage_score:.2f} > {thresholds.garbage_score:g} "
                       f"(confidence {conf_text}, {plausible:.0%} plausible words, "
                       f"{letter_share:.0%} letters)")
    return PageQuality(chars=len(printed), words=len(tokens), mean_confidence=mean_conf,
                       plausible_word_share=round(plausible, 4),
                       letter_share=round(letter_share, 4), garbage_score=garbage_score,
                       flags=tuple(flags), reason="; ".join(reasons))
