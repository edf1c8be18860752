"""Quality flags and scores of a page's text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_assets.engine.quality import is_garbage_token, is_plausible_word, score_page


def test_clean_text_with_confident_words_is_not_flagged(fixtures_dir: Path) -> None:
    for truth in sorted((fixtures_dir / "pages").glob("*.gt.txt")):
        text = truth.read_text(encoding="utf-8")
        quality = score_page(text, tuple(92.0 for _ in text.split()))
        assert quality.flags == (), (truth.name, quality)
        assert quality.garbage_score < 0.2
        assert quality.words == len(text.split())
        assert quality.chars == sum(not ch.isspace() for ch in text)
        assert quality.mean_confidence == pytest.approx(92.0)


@pytest.mark.parametrize("text", ["", "   \n\n  ", ". , ~", "|| 1 ;"])
def test_a_page_with_next_to_no_letters_is_empty(text: str) -> None:
    quality = score_page(text, (20.0,) * len(text.split()))
    assert quality.flags == ("empty",)
    assert "letters/digits" in quality.reason


def test_noise_read_as_symbols_with_low_confidence_is_garbage() -> None:
    text = "~~~ ,;:| %%@ }}{{ ^^ ¬¬¬ ';:| iIlI1 ===- _,._ ~~~\n" * 4 + "xqzkv mmmmm rrrrr"
    quality = score_page(text, (12.0,) * len(text.split()))
    assert quality.flags == ("garbage",)
    assert quality.garbage_score > 0.5
    assert "garbage score" in quality.reason


def test_historical_spelling_is_not_garbage() -> None:
    text = ("Aufklärung i\u017ft der Ausgang des Men\u017fchen aus \u017feiner "
            "\u017felb\u017ft ver\u017fchuldeten Unmündigkeit. Unmündigkeit i\u017ft das "
            "Unvermögen, \u017fich \u017feines Ver\u017ftandes ohne Leitung eines anderen "
            "zu bedienen.")
    assert score_page(text, (80.0,) * len(text.split())).flags == ()


def test_no_confidences_count_as_no_confidence() -> None:
    quality = score_page("a few plain words of text here", ())
    assert quality.mean_confidence is None
    assert quality.garbage_score >= 0.4


@pytest.mark.parametrize(("token", "garbage"), [
    ("hello", False), ("Men\u017fchen", False), ("1784", False), ("(word),", False),
    ("aaaaaaa", True), ("bcdfgh", True), ("xYzAbCd", True), ("%$#@!", True),
    ("a" * 41, True), ("...", True),
])
def test_garbage_tokens(token: str, garbage: bool) -> None:
    assert is_garbage_token(token) is garbage


@pytest.mark.parametrize(("token", "plausible"), [
    ("brown", True), ("dog.", True), ("42", True), ("x", False), ("a1b2", False),
    ("mmmmm", False),
])
def test_plausible_words(token: str, plausible: bool) -> None:
    assert is_plausible_word(token) is plausible
