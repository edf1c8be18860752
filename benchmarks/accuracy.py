"""Character error rate of each engine, and of the bare CLI, on the same pages; and, run as
`python -m benchmarks.accuracy`, of each class of the shared set's pages under each model
(`frk`, `script/Fraktur`, `auto`, an alternative model) and of skewed pages with and without
deskew.

Scored by the engine's own scorer (`ocr_assets.engine.folder.accuracy`: jiwer edit distances after
its stated normalisation), over the pages of the first folder that have ground truth; the
batch's folders hold the same pages, so one folder is all of them. The rate of a set of pages
is their errors over their reference length (a long page weighs more), as the engine's folder
rate is.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from benchmarks.batch import Batch
from ocr_assets.engine.folder.accuracy import FolderAccuracy, score_text


def score(batch: Batch, texts: Mapping[str, str]) -> dict[str, object]:
    """`texts`: source (`<dir>/<file>`) -> the text an engine read from it."""
    every = FolderAccuracy()
    by_source_dir: dict[str, FolderAccuracy] = {}
    for source in batch.sources:
        if source.ground_truth is None:
            continue
        page = score_text(source.ground_truth.read_text(encoding="utf-8"),
                          texts[source.source], source.source)
        every.pages.append(page)
        by_source_dir.setdefault(source.image.parent.name, FolderAccuracy()).pages.append(page)
    return {"pages": len(every.pages),
            "cer": None if every.cer is None else round(every.cer, 4),
            "wer": None if every.wer is None else round(every.wer, 4),
            "by_source": {name: round(result.cer, 4)
                          for name, result in sorted(by_source_dir.items())},
            "per_page": {page.page: round(page.cer, 4) for page in every.pages}}


def identical_pages(left: Mapping[str, str], right: Mapping[str, str]) -> int:
    """How many pages two engines read to exactly the same text (trailing whitespace aside)."""
    return sum(left[name].rstrip() == right[name].rstrip() for name in left)


# Models and deskew: `python -m benchmarks.accuracy [--out DIR]` (docs/quality.md, "Models and
# deskew"). Each recipe reads the pages of a class in a folder of their own, through the engine
# (`process_folder`, two workers); its CPU seconds are those of the workers and their
# Tesseracts (`RUSAGE_CHILDREN`, collected when the pool is stopped after the folder), less
# what starting and stopping a pool costs with no page (`pool_cpu_s`).

MODEL_RECIPES: dict[str, dict[str, object]] = {
    "deu (before)": {"lang": "deu"},
    "frk": {"lang": "frk"},
    "script/Fraktur": {"lang": "script/Fraktur"},
    "deu+frk": {"lang": "deu+frk"},
    "auto (Latin: deu)": {"lang": "auto", "latin_lang": "deu"},
    "deu, alt_lang script/Fraktur below 50 (the old default)": {
        "lang": "deu", "alt_lang": "script/Fraktur", "retry_below_confidence": 50.0},
    "deu, alt_lang script/Fraktur below 75": {"lang": "deu", "alt_lang": "script/Fraktur",
                                              "retry_below_confidence": 75.0},
    "deu, alt_lang script/Fraktur (default: below 85)": {"lang": "deu",
                                                         "alt_lang": "script/Fraktur"},
}
"""Recipes for the German pages; the other classes are read with `eng` and with `auto`."""
SKEW_DEGREES = (2, 4, 7)
SKEW_PAGES = {"clean modern": "eng", "German Antiqua": "deu", "German Fraktur": "script/Fraktur"}
"""Classes whose pages are skewed, with the model that reads them."""
SKEW_PAGES_PER_CLASS = 2
CLEAN_CLASSES = {"clean modern": "eng", "UNLV magazine": "eng",
                 "German Fraktur": "script/Fraktur", "German title pages": "script/Fraktur"}
"""Classes read with and without cleaning (unpaper), with the model that reads them: the
photocopied magazine pages, the old prints (binarised, foxed, bled-through) and the clean
pages, on which cleaning should change nothing."""
POOL_CPU_S = [0.0]
"""`pool_cpu_s()`, measured once per benchmark run (`main`)."""


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pool_cpu_s(rounds: int = 3) -> float:
    """The median CPU seconds of starting a two-worker pool, one empty task, and stopping it."""
    from ocr_assets.engine.folder.pool import shutdown_pool, worker_pool

    costs = []
    for _ in range(rounds):
        before = _children_cpu_s()
        with worker_pool(2, 200) as pool:
            pool.schedule(os.getpid).result()
        shutdown_pool()
        costs.append(_children_cpu_s() - before)
    return statistics.median(costs)


def _read_folder(pages: list[Path], work: Path, name: str,
                 settings: dict[str, object]) -> tuple[dict[str, str], float, dict[str, int]]:
    """The text the engine reads from each page in a fresh folder, the CPU seconds it took, and
    how many pages were read a second time (`read_again`) and kept that reading (`kept`)."""
    from ocr_assets.engine.config import ProjectConfig
    from ocr_assets.engine.folder.pool import shutdown_pool
    from ocr_assets.engine.folder.stream import process_folder
    from ocr_assets.engine.manifest import open_manifest
    from ocr_assets.engine.page.worker import output_keys
    from ocr_assets.engine.project import Project, ScanFolder
    from ocr_assets.engine.settings import OcrSettings
    from ocr_assets.engine.store.outputs import LocalStore, read_json, read_text

    folder = work / "scans" / name
    folder.mkdir(parents=True)
    for page in pages:
        shutil.copy(page, folder / page.name)
    manifest = open_manifest(work / f"{name}.sqlite")
    project = Project(ProjectConfig(data_root=str(work), scans_root=str(work / "scans")),
                      manifest)
    before = _children_cpu_s()
    report = process_folder(ScanFolder(project, name, name, folder),
                            settings=OcrSettings(workers=2, **settings))
    shutdown_pool()
    cpu_s = _children_cpu_s() - before - POOL_CPU_S[0]
    assert report.failed == 0, report.failures
    rows = manifest.pages(name)
    outputs = LocalStore(work / "ocr" / name)
    keys = {page.name: output_keys(rows[page.name].output_name or "") for page in pages}
    seconds = [read_json(outputs, facts).get("second_readings") or []
               for _, facts in keys.values()]
    return ({page: read_text(outputs, text) for page, (text, _) in keys.items()}, cpu_s,
            {"read_again": sum(bool(tries) for tries in seconds),
             "kept": sum(any(t.get("kept") for t in tries) for tries in seconds)})


def _class_result(pages: list[Path], texts: Mapping[str, str], cpu_s: float,
                  truth: Mapping[str, str], again: Mapping[str, int]) -> dict[str, object]:
    result = FolderAccuracy()
    for page in pages:
        result.pages.append(score_text(truth[page.name], texts[page.name], page.name))
    return {"pages": len(pages), "cer": round(result.cer or 0.0, 4),
            "worst": round(max(p.cer for p in result.pages), 4),
            "cpu_s_per_page": round(cpu_s / len(pages), 2), **again}


def measure_models(testdata: Path, work: Path, classes: Mapping[str, tuple[float, list[str]]],
                   only: str = "") -> dict[str, object]:
    """CER and CPU per page of each class under each recipe (German classes: `MODEL_RECIPES`;
    the others: `eng` and `auto`); `only`: the recipes whose name contains it."""
    results: dict[str, dict[str, object]] = {}
    for page_class, (_, names) in classes.items():
        pages = [testdata / "pages" / name for name in names]
        truth = {p.name: p.with_name(p.name.rsplit(".", 1)[0] + ".gt.txt").read_text("utf-8")
                 for p in pages}
        recipes = (MODEL_RECIPES if page_class.startswith("German")
                   else {"eng (before)": {"lang": "eng"},
                         "auto (Latin: eng)": {"lang": "auto"}})
        for recipe, settings in recipes.items():
            if only not in recipe:
                continue
            name = f"m{len(results)}-{len(results.get(page_class, {}))}"
            texts, cpu_s, again = _read_folder(pages, work, name, settings)
            results.setdefault(page_class, {})[recipe] = _class_result(pages, texts, cpu_s,
                                                                       truth, again)
            print(page_class, recipe, results[page_class][recipe], file=sys.stderr)
    return results


def skewed_copy(page: Path, degrees: int, target: Path) -> Path:
    """`page` turned counter-clockwise by `degrees` in greyscale, white brought in, its
    resolution kept: a page laid askew on the scanner."""
    with Image.open(page) as image:
        dpi = image.info.get("dpi", (300, 300))
        image.convert("L").rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                                  fillcolor=255).save(target, dpi=dpi)
    return target


def deskew_cpu_s(pages: list[Path], work: Path) -> float:
    """The median CPU seconds `deskew_image` spends on one of `pages` (three rounds each)."""
    from ocr_assets.engine.page.deskew import deskew_image

    costs = []
    for page in pages:
        for _ in range(3):
            started = time.process_time()
            deskew_image(page, work / "deskew-cost.png")
            costs.append(time.process_time() - started)
    return round(statistics.median(costs), 3)


def measure_skew(testdata: Path, work: Path,
                 classes: Mapping[str, tuple[float, list[str]]]) -> dict[str, object]:
    """CER of skewed copies of pages, read without deskew, deskewed always, and deskewed as a
    second reading of doubtful pages; and deskew's own cost per page."""
    results: dict[str, object] = {}
    every: list[Path] = []
    for page_class, lang in SKEW_PAGES.items():
        originals = [testdata / "pages" / name
                     for name in classes[page_class][1][:SKEW_PAGES_PER_CLASS]]
        truth = {}
        for degrees in (0, *SKEW_DEGREES):
            pages = []
            for page in originals:
                target = work / "skewed" / f"{page.stem}.{degrees}deg.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                pages.append(skewed_copy(page, degrees, target))
                truth[target.name] = page.with_name(page.name.rsplit(".", 1)[0]
                                                    + ".gt.txt").read_text("utf-8")
            every += pages
            for mode in ("off", "always", "retry"):
                name = f"s{len(results)}"
                texts, cpu_s, again = _read_folder(pages, work, name,
                                                   {"lang": lang, "deskew": mode})
                key = f"{page_class} | {degrees} deg | deskew {mode}"
                results[key] = _class_result(pages, texts, cpu_s, truth, again)
                print(key, results[key], file=sys.stderr)
    return {"readings": results, "deskew_cpu_s_per_page": deskew_cpu_s(every, work)}


def clean_cpu_s(pages: list[Path], work: Path) -> float:
    """The median CPU seconds unpaper (a child process) and the conversions around it
    (`clean_image`) spend on one of `pages`."""
    from ocr_assets.engine.page.clean import clean_image

    costs = []
    for page in pages:
        started = time.process_time() + _children_cpu_s()
        clean_image(page, work, timeout_s=300, source_name=page.name)
        costs.append(time.process_time() + _children_cpu_s() - started)
    return round(statistics.median(costs), 3)


def measure_clean(testdata: Path, work: Path,
                  classes: Mapping[str, tuple[float, list[str]]]) -> dict[str, object]:
    """CER of `CLEAN_CLASSES` read without and with `clean`, and cleaning's own cost per
    page."""
    results: dict[str, object] = {}
    every: list[Path] = []
    for page_class, lang in CLEAN_CLASSES.items():
        pages = [testdata / "pages" / name for name in classes[page_class][1]]
        every += pages
        truth = {p.name: p.with_name(p.name.rsplit(".", 1)[0] + ".gt.txt").read_text("utf-8")
                 for p in pages}
        for clean in (False, True):
            name = f"c{len(results)}"
            texts, cpu_s, again = _read_folder(pages, work, name, {"lang": lang, "clean": clean})
            key = f"{page_class} | {lang} | clean {'on' if clean else 'off'}"
            results[key] = _class_result(pages, texts, cpu_s, truth, again)
            results[key]["per_page"] = {page: round(cer, 4) for page, cer in zip(
                truth, (score_text(truth[p], texts[p], p).cer for p in truth), strict=True)}
            print(key, results[key], file=sys.stderr)
    return {"readings": results, "clean_cpu_s_per_page": clean_cpu_s(every, work)}


def clean_markdown(results: Mapping[str, object]) -> str:
    """The report of `measure_clean`'s results."""
    from benchmarks.report import table

    clean = results["clean"]
    assert isinstance(clean, dict)
    return "\n\n".join([
        "# Cleaning with unpaper (`python -m benchmarks.accuracy --clean`)",
        table(("class", "model", "cleaning", "pages", "CER", "worst page", "CPU s/page"),
              [(*key.split(" | "), r["pages"], f"{r['cer']:.2%}", f"{r['worst']:.2%}",
                r["cpu_s_per_page"]) for key, r in clean["readings"].items()]),
        f"unpaper alone (with the PNM and PNG conversions around it): median "
        f"{clean['clean_cpu_s_per_page']} CPU s per page. CPU s/page leave out a pool's start "
        f"and stop ({results['pool_cpu_s']} CPU s, measured with no page)."]) + "\n"


def main(argv: list[str] | None = None) -> None:
    from benchmarks.machine import machine_facts
    from benchmarks.page_classes import SHARED_CLASSES
    from benchmarks.report import table, write_results

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--testdata", type=Path, default=Path(
        os.environ.get("OCR_ASSETS_TESTDATA")
        or Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/models"))
    parser.add_argument("--only", default="", help="only the model recipes whose name holds "
                        "this, and no skewed pages")
    parser.add_argument("--clean", action="store_true", help="only the classes read with and "
                        "without cleaning (unpaper)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    POOL_CPU_S[0] = pool_cpu_s()
    if args.clean:
        with tempfile.TemporaryDirectory(prefix="ocr-assets-clean-") as tmp:
            clean = measure_clean(args.testdata, Path(tmp), SHARED_CLASSES)
        results = {"machine": machine_facts(), "pool_cpu_s": round(POOL_CPU_S[0], 3),
                   "clean": clean, "elapsed_s": round(time.perf_counter() - started, 1)}
        write_results(args.out, results, clean_markdown(results))
        return
    with tempfile.TemporaryDirectory(prefix="ocr-assets-models-") as tmp:
        models = measure_models(args.testdata, Path(tmp) / "models", SHARED_CLASSES, args.only)
        skew = ({"readings": {}, "deskew_cpu_s_per_page": None} if args.only
                else measure_skew(args.testdata, Path(tmp) / "skew", SHARED_CLASSES))
    results = {"machine": machine_facts(), "pool_cpu_s": round(POOL_CPU_S[0], 3),
               "models": models, "skew": skew,
               "elapsed_s": round(time.perf_counter() - started, 1)}
    markdown = "\n\n".join([
        "# Models and deskew (`python -m benchmarks.accuracy`)",
        table(("class", "recipe", "pages", "CER", "worst page", "CPU s/page",
               "read again (kept)"),
              [(page_class, recipe, r["pages"], f"{r['cer']:.2%}", f"{r['worst']:.2%}",
                r["cpu_s_per_page"], f"{r['read_again']} ({r['kept']})")
               for page_class, recipes in models.items() for recipe, r in recipes.items()]),
        table(("skewed pages", "pages", "CER", "worst page", "CPU s/page"),
              [(key, r["pages"], f"{r['cer']:.2%}", f"{r['worst']:.2%}", r["cpu_s_per_page"])
               for key, r in skew["readings"].items()]),
        f"Deskew alone (Leptonica): median {skew['deskew_cpu_s_per_page']} CPU s per page. "
        f"CPU s/page leave out a pool's start and stop ({results['pool_cpu_s']} CPU s, "
        "measured with no page).",
    ]) + "\n"
    write_results(args.out, results, markdown)


if __name__ == "__main__":
    main()
