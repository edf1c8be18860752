"""Quality flags and scores of a page's text, and the word lists behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_assets.engine.page import wordlists
from ocr_assets.engine.page.quality import (
    QualityThresholds,
    is_garbage_token,
    is_plausible_word,
    score_page,
)
from ocr_assets.engine.page.wordlists import load_words, missing_word_lists, word_key

ENGLISH = load_words("eng")
GERMAN = load_words("deu")


def confident(text: str, confidence: float = 92.0) -> tuple[float, ...]:
    return (confidence,) * len(text.split())


def test_the_system_word_lists_are_installed() -> None:
    assert ENGLISH is not None and GERMAN is not None, (
        f"no word lists in {wordlists.dict_dir()}: run scripts/setup.sh (apt-get install "
        f"{' '.join(missing_word_lists('eng+deu'))})")
    assert {"house", "running", "lately"} <= ENGLISH
    assert {"geschichte", "menschheit", "über"} <= GERMAN


def test_word_keys_fold_case_ligatures_and_long_s() -> None:
    assert word_key("Ge\u017fchichte") == "geschichte"
    assert word_key("\ufb01nd") == "find"
    assert word_key("Über") == "über"


def test_a_language_without_a_list_has_none(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_words("xyz") is None
    monkeypatch.setenv("OCR_ASSETS_DICT_DIR", str(tmp_path))
    assert missing_word_lists("deu+eng+xyz") == ["wngerman", "wamerican"]


def test_clean_text_with_confident_words_is_not_flagged(fixtures_dir: Path) -> None:
    for truth in sorted((fixtures_dir / "pages").glob("*.gt.txt")):
        text = truth.read_text(encoding="utf-8")
        quality = score_page(text, confident(text), ENGLISH)
        assert quality.flags == (), (truth.name, quality)
        assert quality.garbage_score < 0.5
        assert quality.words == len(text.split())
        assert quality.chars == sum(not ch.isspace() for ch in text)
        assert quality.mean_confidence == pytest.approx(92.0)


@pytest.mark.parametrize("text", ["", "   \n\n  ", ". , ~", "|| 1 ;"])
def test_a_page_with_next_to_no_letters_is_empty(text: str) -> None:
    quality = score_page(text, confident(text, 20.0), ENGLISH)
    assert quality.flags == ("empty",)
    assert "letters/digits" in quality.reason


@pytest.mark.parametrize("text", [
    "Osterreichische Nationalbibliothek +Z161326002",  # an endpaper's library label
    "KODAK Gray Scale c@m",                             # a colour chart
])
def test_a_page_with_a_label_and_nothing_else_is_near_blank(text: str) -> None:
    quality = score_page(text, confident(text, 90.0), GERMAN)
    assert quality.flags == ("empty",)
    assert "near-blank" in quality.reason and "dictionary words" in quality.reason


def test_one_line_of_real_text_is_text() -> None:
    text = "To simple burn running of goods lately."
    assert score_page(text, confident(text, 80.0), ENGLISH).flags == ()


def test_mirror_image_text_read_with_middling_confidence_is_garbage() -> None:
    text = ("orit tzst of txet iniog St to fol 6 ai 2idT 2eqvt Ils no axhow ti ti s92 bné "
            "sboo 190 snmiot slit to ert 19vo beqmu| pob nwoid Aoiup sAT bsqmuj| pob nword")
    quality = score_page(text, confident(text, 55.0), ENGLISH)
    assert quality.flags == ("garbage",)
    assert quality.garbage_score > QualityThresholds().garbage_score
    assert "garbage score" in quality.reason and "dictionary words" in quality.reason


def test_noise_read_as_symbols_is_garbage() -> None:
    text = "~~~ ,;:| %%@ }}{{ ^^ ¬¬¬ ';:| iIlI1 ===- _,._ ~~~\n" * 4 + "xqzkv mmmmm rrrrr"
    quality = score_page(text, confident(text, 12.0), ENGLISH)
    assert quality.flags == ("garbage",), quality
    assert quality.garbage_token_share > 0.5


def test_a_short_page_of_symbol_soup_is_garbage_not_near_blank() -> None:
    text = ("%><<A#A|<||=}<@A|~>}h<<~_|#_<@:A{~\n~~=/~}=@}_~1@<||;@{@=@<|#~bj=4%=_>#\n"
            "A_{__k>=@##:|>;k>~|@_<H}=%b_<=_{\nA= A <%>H|_~|~#_>t}=%%@~<@>;@}\n"
            "bil] #sn_~}<>>_3<%<@}-|>L@}|>\nHari<ifli~ <@=%%>A <i<>>#e>aAN>~|\n")
    quality = score_page(text, confident(text, 18.0), ENGLISH)
    assert quality.flags == ("garbage",), quality


def test_scribbles_read_as_short_capitals_are_garbage() -> None:
    text = ("IPT PN AS WAS WA PRR Sd Nee OWN HN Te NAVA, EQ A SNE APS Le Q\\ TAN MET NR LT Ue "
            "ok Se PT NA ALY MT \\NE ON dase dt pt hts ONIN NZ PS WE Ae ARTA vey ast He STR")
    quality = score_page(text, confident(text, 26.0), ENGLISH)
    assert quality.flags == ("garbage",), quality


def test_historical_spelling_read_with_fair_confidence_is_text() -> None:
    text = ("Aufklärung i\u017ft der Ausgang des Men\u017fchen aus \u017feiner "
            "\u017felb\u017ft ver\u017fchuldeten Unmündigkeit. Unmündigkeit i\u017ft das "
            "Unvermögen, \u017fich \u017feines Ver\u017ftandes ohne Leitung eines anderen "
            "zu bedienen.")
    quality = score_page(text, confident(text, 65.0), GERMAN)
    assert quality.flags == (), quality
    assert quality.dictionary_word_share is not None and quality.dictionary_word_share > 0.5


def test_without_a_word_list_confidence_decides() -> None:
    text = "a few plain words of text here"
    assert score_page(text, confident(text, 90.0), None).flags == ()
    quality = score_page(text, confident(text, 20.0), None)
    assert quality.dictionary_word_share is None
    assert quality.flags == ("garbage",) and "no word list" in quality.reason


def test_no_confidences_count_as_no_confidence() -> None:
    quality = score_page("a few plain words of text here", (), ENGLISH)
    assert quality.mean_confidence is None
    assert quality.garbage_score >= 0.5


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
