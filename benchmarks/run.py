"""One command for every benchmark: `.venv/bin/python -m benchmarks.run` (see docs/benchmarks.md).

In one run, on one batch built from the shared test set's pages:
1. the bare Tesseract CLI (`xargs -P <workers>`, `OMP_THREAD_LIMIT=1`), and
2. `ocr-assets run`, cold, once per engine,
   interleaved repetition by repetition (the order rotates), so drifting load from other
   processes hits every contender alike; medians over the repetitions;
3. their ratio in pages per second, and each engine's character error rate;
4. a re-run of an all-done batch (10,000 pages by default);
5. per-folder orchestration overhead, from the Dagster instance's run records;
6. peak memory per process role, at the full batch and at a small one;
7. the corpus build for 100,000 synthetic page texts, full and after one folder changed.
Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.accuracy import identical_pages, score
from benchmarks.baseline import baseline_text, run_baseline
from benchmarks.batch import Batch, build_batch, find_source_pages
from benchmarks.corpus_build import measure_corpus
from benchmarks.machine import Timed, machine_facts
from benchmarks.pipeline import PipelineRun, page_texts, run_pipeline
from benchmarks.report import render_markdown, write_results
from benchmarks.rerun import measure_rerun
from ocr_assets.engine.settings import default_workers

CLI = "cli"
ROTATE_SUFFIX = "+rotate"
SHARED_PAGES = Path(os.environ.get("OCR_ASSETS_TESTDATA")
                    or Path(__file__).resolve().parents[2] / "shared" / "testdata") / "pages"
"""The shared test set's pages (`../shared/testdata` beside the repository, or
`$OCR_ASSETS_TESTDATA`), the default source pages."""


@dataclass(frozen=True)
class Contender:
    """One way of OCRing the batch: the CLI, or the pipeline with an engine, with or without
    orientation detection (`+rotate`: the project's default, an OSD pass and a second reading
    for each page whose first reading is doubtful, which the bare CLI does not make)."""

    name: str
    engine: str | None = None
    auto_rotate: bool = False


def contenders(engines: list[str], rotate_reps: int,
               rotate_engines: list[str]) -> list[Contender]:
    like_for_like = [Contender(engine, engine) for engine in engines]
    rotating = [Contender(engine + ROTATE_SUFFIX, engine, True) for engine in rotate_engines]
    return [Contender(CLI), *like_for_like, *(rotating if rotate_reps else [])]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, default=SHARED_PAGES,
                        help="folder of source pages (default: the shared test set's pages/)")
    parser.add_argument("--folders", type=int, default=8,
                        help="scan folders in the batch, each with every source page once")
    parser.add_argument("--reps", type=int, default=3,
                        help="repetitions of 1 and 2 (0: only the re-run and corpus figures)")
    parser.add_argument("--rotate-reps", type=int, default=1,
                        help="of those, how many also run each engine with orientation "
                             "detection on (the project's default; 0: never)")
    parser.add_argument("--rotate-engines", default="pytesseract",
                        help="comma-separated engines to run with orientation detection on")
    parser.add_argument("--engines", default="pytesseract,tesserocr",
                        help="comma-separated OCR engines to run the pipeline with")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="OCR processes, for the CLI and the pipeline (default: cores)")
    parser.add_argument("--lang", default="eng")
    parser.add_argument("--psm", type=int, default=3)
    parser.add_argument("--small-folders", type=int, default=1,
                        help="folders of the second, small batch for memory (0: skip)")
    parser.add_argument("--scaling", default="",
                        help="comma-separated worker counts for a scaling table (e.g. 1,2,4)")
    parser.add_argument("--rerun-pages", type=int, default=10_000)
    parser.add_argument("--rerun-folders", type=int, default=20)
    parser.add_argument("--corpus-pages", type=int, default=100_000)
    parser.add_argument("--corpus-folders", type=int, default=100)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                        help="where results.json and results.md go")
    return parser.parse_args(argv)


def timed_summary(timed: Timed, pages: int) -> dict[str, object]:
    return {"wall_s": round(timed.wall_s, 2), "cpu_s": round(timed.cpu_s, 1),
            "pages_per_s": round(pages / timed.wall_s, 3),
            "cpu_s_per_page": round(timed.cpu_s / pages, 3), **timed.observation.as_dict()}


def pipeline_summary(run: PipelineRun, pages: int, workers: int) -> dict[str, object]:
    """The run's figures; `workers_busy` is the share of the workers' time spent on pages."""
    return {**timed_summary(run.timed, pages), "overheads": run.overheads.as_dict(),
            "workers_busy": round(run.overheads.ocr_s / (workers * run.timed.wall_s), 3)}


def medians(reps: list[dict[str, object]]) -> dict[str, float]:
    keys = ("wall_s", "cpu_s", "pages_per_s", "cpu_s_per_page", "load_1min_mean",
            "other_cpu_s")
    return {key: round(statistics.median(float(rep[key]) for rep in reps), 3) for key in keys}


def texts_by_source(batch: Batch, texts: dict[str, str]) -> dict[str, str]:
    """page id (copy name) -> text, re-keyed by the source page."""
    return {source.source: texts[Batch.copy_name(source)] for source in batch.sources}


def compare(args: argparse.Namespace, batch: Batch, engines: list[str],
            work: Path) -> dict[str, object]:
    """Items 1-3 and 5: interleaved repetitions of the CLI and every pipeline contender."""
    everyone = contenders(engines, args.rotate_reps,
                          [name.strip() for name in args.rotate_engines.split(",")
                           if name.strip()])
    runs: dict[str, list[dict[str, object]]] = {c.name: [] for c in everyone}
    ratios: dict[str, list[float]] = {c.name: [] for c in everyone if c.engine}
    texts: dict[str, dict[str, str]] = {}
    images = batch.images()
    for rep in range(args.reps):
        this_rep = [c for c in everyone if not c.auto_rotate or rep < args.rotate_reps]
        shift = rep % len(this_rep)
        cli_wall = None
        for contender in this_rep[shift:] + this_rep[:shift]:
            print(f"rep {rep + 1}/{args.reps}: {contender.name} on {batch.pages} pages "
                  f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
            if contender.engine is None:
                out_dir = work / "cli-out"
                timed = run_baseline(images, out_dir, workers=args.workers, lang=args.lang,
                                     psm=args.psm)
                runs[CLI].append(timed_summary(timed, batch.pages))
                cli_wall = timed.wall_s
                if rep == 0:
                    texts[CLI] = {source.source: baseline_text(out_dir, index)
                                  for index, source in enumerate(batch.sources)}
                continue
            run = run_pipeline(batch, work / "data", engine=contender.engine,
                               auto_rotate=contender.auto_rotate, workers=args.workers,
                               lang=args.lang, psm=args.psm)
            runs[contender.name].append(pipeline_summary(run, batch.pages, args.workers))
            if rep == 0:
                texts[contender.name] = texts_by_source(
                    batch, page_texts(run.data_root, batch.folders[0]))
        for name in ratios:
            if len(runs[name]) == rep + 1:
                ratios[name].append(round(cli_wall / float(runs[name][rep]["wall_s"]), 3))
    cli_cpu = statistics.median(float(r["cpu_s"]) for r in runs[CLI])
    return {
        "runs": runs,
        "medians": {name: medians(reps) for name, reps in runs.items()},
        "ratio_pages_per_s": {name: {"per_rep": values, "median": statistics.median(values)}
                              for name, values in ratios.items()},
        "cpu_ratio": {name: round(cli_cpu / statistics.median(float(r["cpu_s"])
                                                              for r in runs[name]), 3)
                      for name in ratios},
        "accuracy": {name: score(batch, found) for name, found in texts.items()},
        "identical_to_cli": {name: identical_pages(texts[CLI], found)
                             for name, found in texts.items() if name != CLI},
    }


def small_batch_memory(args: argparse.Namespace, sources, engines: list[str],
                       work: Path) -> dict[str, object]:
    """Item 6's second batch size: the same runs on a batch of `--small-folders` folders."""
    batch = build_batch(sources, work / "small-scans", args.small_folders)
    result: dict[str, object] = {"pages": batch.pages}
    for name in engines:
        print(f"small batch: {name} on {batch.pages} pages", file=sys.stderr, flush=True)
        run = run_pipeline(batch, work / "small-data", engine=name, auto_rotate=False,
                           workers=args.workers, lang=args.lang, psm=args.psm)
        result[name] = pipeline_summary(run, batch.pages, args.workers)
    return result


def scaling(args: argparse.Namespace, batch: Batch, engines: list[str],
            work: Path) -> list[dict[str, object]]:
    """Pages/s of the CLI and each engine at several worker counts (one repetition each)."""
    rows = []
    for workers in (int(value) for value in args.scaling.split(",") if value.strip()):
        print(f"scaling: {workers} workers", file=sys.stderr, flush=True)
        row: dict[str, object] = {"workers": workers}
        cli = run_baseline(batch.images(), work / "cli-out", workers=workers, lang=args.lang,
                           psm=args.psm)
        row[CLI] = timed_summary(cli, batch.pages)
        for name in engines:
            run = run_pipeline(batch, work / "data", engine=name, auto_rotate=False,
                               workers=workers, lang=args.lang, psm=args.psm)
            row[name] = timed_summary(run.timed, batch.pages)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="ocr-assets-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None
                                                           else sys.argv[1:])]),
        "machine": machine_facts(),
        "settings": {"workers": args.workers, "lang": args.lang, "psm": args.psm,
                     "reps": args.reps, "rotate_reps": min(args.rotate_reps, args.reps),
                     "engines": engines},
        "load_at_start": os.getloadavg(),
    }
    try:
        if args.reps:
            sources = find_source_pages(args.pages)
            batch = build_batch(sources, work / "scans", args.folders)
            results["batch"] = batch.describe()
            results["comparison"] = compare(args, batch, engines, work)
            if args.small_folders and args.small_folders != args.folders:
                results["small_batch"] = small_batch_memory(args, sources, engines, work)
            if args.scaling:
                results["scaling"] = scaling(args, batch, engines, work)
        if args.rerun_pages:
            print(f"re-run of {args.rerun_pages} done pages", file=sys.stderr, flush=True)
            rerun = measure_rerun(work / "rerun", pages=args.rerun_pages,
                                  folders=args.rerun_folders)
            results["rerun"] = {
                "pages": rerun.pages, "folders": rerun.folders,
                "first_run": timed_summary(rerun.first, rerun.pages),
                "rerun": timed_summary(rerun.rerun, rerun.pages),
                "plan_s": round(rerun.plan_s, 3), "ocr_calls": rerun.ocr_calls,
                "attempts_changed": rerun.attempts_changed, "todo_after": rerun.todo_after}
        if args.corpus_pages:
            print(f"corpus of {args.corpus_pages} synthetic pages", file=sys.stderr, flush=True)
            corpus = measure_corpus(work / "corpus", pages=args.corpus_pages,
                                    folders=args.corpus_folders)
            results["corpus"] = {key: round(value, 3) if isinstance(value, float) else value
                                 for key, value in vars(corpus).items()}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["load_at_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    write_results(args.out, results, render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
