"""The pipeline against the bare Tesseract CLI on the same pages, page by page.

With the pytesseract engine (the installed CLI itself) an upright page's character error rate
must equal the CLI's (nothing is lost by image handling); with the default engine where
tesserocr is installed (its bundled Tesseract 5.5, which reads some pages better and some worse
than the 5.3 CLI) the upright pages' mean must stay within half a point of it. On a page turned
by 90, 180 or 270 degrees it must be lower (orientation detection turns it upright first).
Both run single-threaded (`OMP_THREAD_LIMIT=1`) with the same language and page segmentation
mode. (Tesseract's layout analysis already reads some
sideways pages by itself; where the CLI is perfect, the pipeline must be perfect too.)

This runs on the shipped pages plus a turned copy, and on every page of the shared set (its
phototest pages upright and turned four ways, eurotext, the German pages read in German), whose
pipeline text comes from the session's one reading of that set (`shared_ocr`): only the bare
CLI runs here (about a minute of CPU).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.helpers import ground_truth, new_run
from ocr_assets_tests.shared_ocr import SharedOcr, shared_pages

SETTINGS = OcrSettings()
SHARED_TURNED = {"phototest-rotated-180.png", "phototest-rotated-L.png",
                 "phototest-rotated-R.png", "phototestrot.tif"}
"""The pages of the shared set that are scanned sideways or upside down."""


def bare_cli_text(page: Path, lang: str) -> str:
    """What `tesseract PAGE stdout -l LANG --psm PSM` prints, single-threaded."""
    result = subprocess.run(
        ["tesseract", str(page), "stdout", "-l", lang, "--psm", str(SETTINGS.psm)],
        capture_output=True, check=True, timeout=600,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return result.stdout.decode("utf-8")


def compare_with_cli(pages: list[Path], pipeline_text: Callable[[Path], str],
                     lang: Callable[[Path], str], turned: set[str], *,
                     same_tesseract: bool) -> dict[str, tuple[float, float]]:
    """page name -> (pipeline CER, bare CLI CER), the CLI run with the language the pipeline
    read the page with; fails on any page that breaks the rule. With `same_tesseract` (the
    pytesseract engine: the installed CLI itself) an upright page's CER must be the CLI's
    exactly; with another Tesseract (tesserocr's bundled 5.5) it differs page by page both
    ways, and the upright pages' mean CER must be within half a point of the CLI's."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        cli_texts = dict(zip([p.name for p in pages],
                             pool.map(lambda page: bare_cli_text(page, lang(page)), pages),
                             strict=True))
    rates = {page.name: (cer(ground_truth(page), pipeline_text(page)),
                         cer(ground_truth(page), cli_texts[page.name])) for page in pages}
    table = "\n".join(f"  {name}: pipeline {ours:.2%}, bare CLI {theirs:.2%}"
                      f"{' (turned)' if name in turned else ''}"
                      for name, (ours, theirs) in sorted(rates.items()))
    upright = {name: rate for name, rate in rates.items() if name not in turned}
    if same_tesseract:
        changed = [name for name, (ours, theirs) in upright.items() if ours != theirs]
    else:
        drift = sum(ours - theirs for ours, theirs in upright.values()) / len(upright)
        changed = [f"mean CER {drift:+.2%} against the CLI's"] if abs(drift) > 0.005 else []
    # Tesseract's own layout analysis reads some sideways pages (phototest-rotated-R): there
    # the CLI is already perfect, and the pipeline must be too.
    not_better = [name for name, (ours, theirs) in rates.items()
                  if name in turned and not (ours < theirs or ours == theirs == 0.0)]
    assert not changed, f"upright pages whose CER differs from the bare CLI's: {changed}\n{table}"
    assert not not_better, f"turned pages not read better than the bare CLI: {not_better}\n{table}"
    return rates


def test_shipped_pages_and_a_turned_copy(tmp_path: Path, fixtures_dir: Path) -> None:
    """With pytesseract, the engine whose Tesseract is the installed CLI: the same text."""
    pages = [fixtures_dir / "pages" / "phototest.tif", fixtures_dir / "pages" / "eurotext.tif"]
    turned = tmp_path / "given" / "phototest-turned.png"
    turned.parent.mkdir()
    with Image.open(pages[0]) as image:
        image.rotate(90, expand=True).save(turned, dpi=image.info["dpi"])
    shutil.copy(fixtures_dir / "pages" / "phototest.gt.txt",
                turned.with_name("phototest-turned.gt.txt"))
    run = new_run(tmp_path / "run")
    for page in [*pages, turned]:
        shutil.copy(page, run.folder / page.name)
    report = run.process(workers=2, lang=SETTINGS.lang, psm=SETTINGS.psm,
                         engine="pytesseract")
    assert (report.done, report.failed) == (3, 0), report.failures
    rates = compare_with_cli([*pages, turned], lambda page: run.text(page.name),
                             lambda page: SETTINGS.lang, {turned.name}, same_tesseract=True)
    assert rates[turned.name][0] < 0.05


def test_every_shared_page_turned_or_upright(shared_testdata: Path,
                                            shared_ocr: SharedOcr) -> None:
    """With the default engine, as the shared set is read for every test that uses it."""
    pages = shared_pages(shared_testdata)
    assert len({p.name for p in pages}) == len(pages), "page names must be unique"
    rates = compare_with_cli(pages, shared_ocr.text, shared_ocr.lang, SHARED_TURNED,
                             same_tesseract=SETTINGS.engine == "pytesseract")
    assert rates.keys() >= SHARED_TURNED | {"phototest.tif", "eurotext.tif"}
    assert {shared_ocr.lang(page) for page in pages} == {"eng", "deu"}
