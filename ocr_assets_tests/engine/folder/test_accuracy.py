"""Character error rate of the engine's text against ground truth, on real pages.

The shipped pages always run; every page of the shared test set's `pages/` runs when the set is
there, read from the session's one reading of that set (`shared_ocr`, German sources with a
`folder.toml` saying `deu`). Every page goes through `process_folder`, as in production.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.page_classes import SHARED_CLASSES
from ocr_assets.engine.folder.accuracy import (
    NORMALISATION,
    accuracy_frame,
    cer,
    evaluate_folder,
    ground_truth_file,
    score_text,
)
from ocr_assets_tests.helpers import Run, ground_truth, new_run
from ocr_assets_tests.shared_ocr import SharedOcr, shared_pages

MAX_CER = 0.05
SHIPPED = ["phototest.tif", "eurotext.tif"]


def run_pages(tmp_path: Path, pages: list[Path]) -> tuple[Run, dict[str, float]]:
    run = new_run(tmp_path)
    for page in pages:
        shutil.copy(page, run.folder / page.name)
    report = run.process(workers=2)
    assert (report.done, report.failed) == (len(pages), 0), report.failures
    rates = {page.name: cer(ground_truth(page), run.text(page.name)) for page in pages}
    return run, rates


def describe(rates: dict[str, float]) -> str:
    return ", ".join(f"{name}: {rate:.2%}" for name, rate in sorted(rates.items()))


@pytest.fixture(scope="module")
def shipped_rates(tmp_path_factory: pytest.TempPathFactory,
                  fixtures_dir: Path) -> dict[str, float]:
    _, rates = run_pages(tmp_path_factory.mktemp("accuracy"),
                         [fixtures_dir / "pages" / name for name in SHIPPED])
    return rates


@pytest.mark.parametrize("page", SHIPPED)
def test_shipped_clean_page_is_read_almost_perfectly(shipped_rates: dict[str, float],
                                                     page: str) -> None:
    assert shipped_rates[page] < MAX_CER, f"CER per page: {describe(shipped_rates)}"


def test_every_page_of_the_shared_set_has_a_class(shared_testdata: Path) -> None:
    classified = [name for _, names in SHARED_CLASSES.values() for name in names]
    assert len(classified) == len(set(classified)), "a page is in two classes"
    assert sorted(classified) == sorted(
        page.relative_to(shared_testdata / "pages").as_posix()
        for page in shared_pages(shared_testdata))


@pytest.mark.parametrize("page_class", SHARED_CLASSES)
def test_each_class_of_shared_pages_stays_below_its_ceiling(
        page_class: str, shared_testdata: Path, shared_ocr: SharedOcr) -> None:
    ceiling, names = SHARED_CLASSES[page_class]
    pages = [shared_testdata / "pages" / name for name in names]
    rates = {page.name: cer(ground_truth(page), shared_ocr.text(page)) for page in pages}
    assert max(rates.values()) < ceiling, (
        f"{page_class}: CER per page (ceiling {ceiling:.1%}): {describe(rates)}")


def test_cer_helper() -> None:
    assert cer("The quick\n brown  fox", "The quick brown fox\n") == 0.0
    assert cer("abcd", "abed") == 0.25
    assert cer("Cafe\u0301", "Caf\u00e9") == 0.0  # NFC before comparing
    assert cer("", "") == 0.0
    assert cer("", "noise") == 1.0


def test_word_and_character_errors_come_from_jiwer_after_the_stated_normalisation() -> None:
    page = score_text("The quick brown\nfox", "The quick  brwn fox")
    assert (page.reference_chars, page.char_errors) == (19, 1)
    assert (page.reference_words, page.word_errors) == (4, 1)
    assert page.wer == 0.25
    assert score_text("", "").cer == 0.0


def test_ground_truth_is_found_beside_the_page_or_under_a_parallel_root(
        tmp_path: Path) -> None:
    folder, gt_root = tmp_path / "scans" / "box", tmp_path / "truth"
    (folder / "sub").mkdir(parents=True)
    (folder / "p1.gt.txt").write_text("one", encoding="utf-8")
    (gt_root / "box" / "sub").mkdir(parents=True)
    (gt_root / "box" / "sub" / "p2.gt.txt").write_text("two", encoding="utf-8")
    (folder / "scan#3.gt.txt").write_text("three", encoding="utf-8")

    def find(page_id: str, root: Path | None = gt_root) -> Path | None:
        return ground_truth_file(folder, page_id, folder_name="box", gt_root=root)

    assert find("p1.tif") == folder / "p1.gt.txt"
    assert find("sub/p2.png") == gt_root / "box" / "sub" / "p2.gt.txt"
    assert find("sub/p2.png", None) is None
    assert find("scan.tif#3") == folder / "scan#3.gt.txt"
    assert find("scan.tif#4") is None


def test_a_folder_is_scored_over_its_pages_with_ground_truth(
        tmp_path: Path, fixtures_dir: Path) -> None:
    run = new_run(tmp_path)
    for name in ("phototest.tif", "phototest.gt.txt", "eurotext.tif"):
        shutil.copy(fixtures_dir / "pages" / name, run.folder / name)
    run.process(workers=2)
    result = evaluate_folder(run.scan_folder)
    assert [p.page for p in result.pages] == ["phototest.tif"]
    assert result.without_ground_truth == 1
    assert result.cer == result.pages[0].cer < MAX_CER
    frame = accuracy_frame(result)
    assert list(frame["page"]) == ["phototest.tif"]
    assert {"cer", "wer", "char_errors", "reference_chars"} <= set(frame.columns)
    assert "NFC" in NORMALISATION
