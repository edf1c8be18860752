"""The results of one benchmark run as Markdown tables (`results.md`), from `results.json`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_results(out: Path, results: dict, markdown: str) -> None:
    """`results.json` (every repetition) and `results.md` (the tables) in `out`, said on
    stderr: every benchmark leaves the same pair."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(markdown, encoding="utf-8")
    print(f"results: {out / 'results.md'} and results.json", file=sys.stderr)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |"
              for row in rows]
    return "\n".join(lines)


def _mib(observation: dict[str, object], role: str) -> object:
    return observation.get("peak_rss_mib", {}).get(role, "-")


def _spread(stats: dict[str, float]) -> str:
    return f"{stats['median']:.2f} / {stats['max']:.2f}" if stats else "-"


def render_markdown(results: dict) -> str:
    machine = results["machine"]
    parts = [
        f"# Benchmark results ({results['started_at']})",
        f"Command: `{results['command']}`; took {results['elapsed_s']} s.",
        table(("machine", ""), [
            ("cores", machine["cores"]), ("CPU", machine["cpu_model"]),
            ("memory", f"{machine['memory_gib']} GiB"), ("OS", machine["os"]),
            ("Tesseract CLI", machine["tesseract_cli"]),
            ("Tesseract in tesserocr", machine["tesseract_in_tesserocr"]),
            ("load average at start / end",
             f"{results['load_at_start'][0]:.2f} / {results['load_at_end'][0]:.2f}"),
        ]),
    ]
    if "comparison" in results:
        parts += _comparison_sections(results)
    parts += _synthetic_sections(results)
    return "\n\n".join(parts) + "\n"


def _comparison_sections(results: dict) -> list[str]:
    settings, batch = results["settings"], results["batch"]
    comparison = results["comparison"]
    engines = settings["engines"]
    pipelines = [name for name in comparison["runs"] if name != "cli"]
    parts = [
        f"Batch: {batch['folders']} folders x {batch['pages_per_folder']} pages = "
        f"**{batch['pages']} pages** ({batch['megapixels_per_folder']} MP and "
        f"{batch['mib_per_folder']} MiB per folder; {batch['with_ground_truth']} source pages "
        f"with ground truth). {settings['workers']} workers, lang `{settings['lang']}`, psm "
        f"{settings['psm']}, {settings['reps']} interleaved repetitions (the `+rotate` "
        f"contenders, with orientation detection on as by default, in the first "
        f"{settings['rotate_reps']}).",
        "## Throughput (medians over the repetitions)",
        table(("", "wall s", "pages/s", "ratio to CLI (pages/s)", "CPU s/page",
               "load (1 min)", "CPU s used by other processes"),
              [(name, m["wall_s"], m["pages_per_s"],
                "1" if name == "cli" else
                f"**{comparison['ratio_pages_per_s'][name]['median']:.3f}** (per rep: "
                + ", ".join(f"{v:.3f}" for v in comparison["ratio_pages_per_s"][name]["per_rep"])
                + ")", m["cpu_s_per_page"], m["load_1min_mean"], m["other_cpu_s"])
               for name, m in comparison["medians"].items()]),
        "CPU ratio (CLI CPU s / engine CPU s, medians): "
        + ", ".join(f"{name} {value:.3f}" for name, value in comparison["cpu_ratio"].items()),
        "## Accuracy (character error rate on the pages with ground truth)",
        table(("", "CER", *comparison["accuracy"][engines[0]]["by_source"],
               "pages identical to the CLI's text"),
              [(name, f"{acc['cer']:.2%}", *(f"{v:.2%}" for v in acc["by_source"].values()),
                "-" if name == "cli" else
                f"{comparison['identical_to_cli'][name]} of {acc['pages']}")
               for name, acc in comparison["accuracy"].items()]),
        "## Orchestration overhead per run (first repetition; seconds)",
        table(("engine", "folder runs", "command start to first folder run",
               "run launch to first page (median / max)",
               "last page to run end (median / max)", "corpus run",
               "corpus run end to exit", "pages' own time (sum)", "workers busy"),
              [(name, o.get("folder_runs", "-"), o["startup_s"],
                _spread(o["launch_to_first_page_s"]),
                _spread(o["last_page_to_end_s"]), o["corpus_run_s"], o["exit_s"], o["ocr_s"],
                f"{run['workers_busy']:.1%}")
               for name in pipelines
               for run in [comparison["runs"][name][0]] for o in [run["overheads"]]]),
    ]
    memory_rows = []
    cli_run = comparison["runs"]["cli"][0]
    memory_rows.append(("cli", batch["pages"], "-", "-", _mib(cli_run, "tesseract")))
    small = results.get("small_batch")
    for name in engines:
        for pages, run in [(batch["pages"], comparison["runs"][name][0]),
                           *([(small["pages"], small[name])] if small else [])]:
            memory_rows.append((name, pages, _mib(run, "orchestrator"), _mib(run, "worker"),
                                _mib(run, "tesseract")))
    rerun = results.get("rerun")
    if rerun:
        memory_rows.append(("re-run, no OCR", rerun["pages"],
                            _mib(rerun["rerun"], "orchestrator"), "-", "-"))
    parts += ["## Peak memory (largest peak RSS of one process, MiB)",
              table(("", "pages", "orchestrator", "worker", "tesseract CLI"), memory_rows)]
    scaling = results.get("scaling")
    if scaling:
        parts += ["## Scaling (one repetition per row; pages/s)", table(
            ("workers", "cli", *engines, *(f"{name} / cli" for name in engines)),
            [(row["workers"], row["cli"]["pages_per_s"],
              *(row[name]["pages_per_s"] for name in engines),
              *(f"{row[name]['pages_per_s'] / row['cli']['pages_per_s']:.3f}"
                for name in engines)) for row in scaling])]
    return parts


def _synthetic_sections(results: dict) -> list[str]:
    parts = []
    rerun = results.get("rerun")
    if rerun:
        parts += ["## Re-run of an all-done batch", table(
            ("pages", "folders", "first run (materializes, no OCR) s", "re-run s",
             "planning every folder in process s", "OCR calls", "attempts changed",
             "pages left to OCR", "orchestrator peak MiB", "load (1 min)"),
            [(rerun["pages"], rerun["folders"], rerun["first_run"]["wall_s"],
              rerun["rerun"]["wall_s"], rerun["plan_s"], rerun["ocr_calls"],
              rerun["attempts_changed"], rerun["todo_after"],
              _mib(rerun["rerun"], "orchestrator"), rerun["rerun"]["load_1min_mean"])])]
    corpus = results.get("corpus")
    if corpus:
        parts += ["## Corpus build (synthetic page texts)", table(
            ("pages", "folders", "text MiB", "full build s",
             "after one folder changed s", "pages changed", "rows", "Parquet MiB",
             "JSON Lines MiB"),
            [(corpus["pages"], corpus["folders"], corpus["text_mib"], corpus["full_s"],
              corpus["incremental_s"], corpus["changed_pages"], corpus["rows_incremental"],
              corpus["parquet_mib"], corpus["jsonl_mib"])])]
    return parts
