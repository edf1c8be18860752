"""Many small folders against the bare CLI: `.venv/bin/python -m benchmarks.small_folders`.

Collections of letters, deeds or case files come as thousands of folders of a few pages, where
what a folder costs besides its pages decides the speed. In one run, on light real pages (the
shared test set's clean modern English pages, or the shipped fixtures without it):

1. shapes (default: 100 folders of 1 to 3 pages, 4 folders of 6): the bare Tesseract CLI
   (`xargs -P <cores>`, `OMP_THREAD_LIMIT=1`) and `ocr-assets run`, cold, default settings and
   default engine, interleaved repetition by repetition; medians, their ratio in pages per
   second, CPU per page beyond the CLI's, and the orchestration time per folder amortised:
   (pipeline wall - CLI wall) / folders;
2. the daemon's path: `dagster-daemon` already running with the project's sensors (1 s
   ticks), the folders of the first shape dropped into the scans root at once; from the drop
   to every page done and the corpus rebuilt with them, against `ocr-assets run` on the same
   folders in the same repetition;
3. the orchestrating process's peak memory at 1, 100 and 1,000 one-page folders (tiny blank
   pages, so the runs are short and the orchestration is what grows).

Results go to `<out>/results.json` and `<out>/results.md` (default
`benchmarks/results/small_folders/`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from benchmarks.baseline import run_baseline
from benchmarks.machine import Timed, machine_facts, run_measured
from benchmarks.report import table, write_results
from ocr_assets.engine.settings import OcrSettings, default_workers

REPO = Path(__file__).resolve().parents[1]
SHARED_PAGES = Path(os.environ.get("OCR_ASSETS_TESTDATA")
                    or REPO.parent / "shared" / "testdata") / "pages"
LIGHT_PAGES = ("tesseract-ocr_test/phototest.tif", "tesseract-ocr_test/eurotext.tif",
               "ocrmypdf_OCRmyPDF/linn.png")
"""The shared test set's clean modern English pages: light pages of letters and forms."""
FIXTURE_PAGES = REPO / "ocr_assets_tests" / "fixtures" / "pages"


@dataclass(frozen=True)
class Shape:
    """`folders` scan folders, the n-th with `sizes[n % len(sizes)]` pages."""

    name: str
    folders: int
    sizes: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Shape:
        """`100x1-3` (1 to 3 pages a folder, in turn) or `4x6`."""
        folders, _, pages = text.partition("x")
        low, _, high = pages.partition("-")
        return cls(text, int(folders), tuple(range(int(low), int(high or low) + 1)))


def light_sources(pages_root: Path) -> list[Path]:
    found = [pages_root / rel for rel in LIGHT_PAGES if (pages_root / rel).is_file()]
    return found or sorted(FIXTURE_PAGES.glob("*.tif"))


def build(shape: Shape, sources: list[Path], root: Path) -> list[Path]:
    """The shape's folders under `root`, pages hard-linked from `sources` in turn; the images
    in the order the pipeline reads them."""
    images, turn = [], 0
    for number in range(shape.folders):
        folder = root / f"folder_{number + 1:04d}"
        folder.mkdir(parents=True)
        for page in range(shape.sizes[number % len(shape.sizes)]):
            source = sources[turn % len(sources)]
            turn += 1
            target = folder / f"page_{page + 1}{source.suffix}"
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            images.append(target)
    return images


def blank_folders(count: int, root: Path) -> list[Path]:
    """`count` folders of one tiny blank page each (distinct sizes: distinct files)."""
    images = []
    for number in range(count):
        folder = root / f"folder_{number + 1:04d}"
        folder.mkdir(parents=True)
        image = folder / "page_1.png"
        Image.new("L", (200 + number % 97, 100 + number // 97), 255).save(image)
        images.append(image)
    return images


def project_env(scans: Path, data: Path, workers: int) -> dict[str, str]:
    """The project's defaults but for where its scans and data are, how many workers, and
    every page OCRed (no reuse of duplicate scans)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_ASSETS_")}
    env.pop("DAGSTER_HOME", None)
    # The folders repeat the source pages: each must be OCRed, not taken as a copy.
    env.update(OCR_ASSETS_SCANS=str(scans), OCR_ASSETS_DATA=str(data),
               OCR_ASSETS_WORKERS=str(workers), OCR_ASSETS_REUSE_DUPLICATES="0",
               OMP_THREAD_LIMIT="1")
    return env


def run_cli(scans: Path, data: Path, workers: int, pages: int) -> Timed:
    """`ocr-assets run`, cold, verified: every page done."""
    if data.exists():
        shutil.rmtree(data)
    timed = run_measured([sys.executable, "-m", "ocr_assets.cli", "run"],
                         env=project_env(scans, data, workers))
    done = pages_done(data)
    if timed.returncode != 0 or done != pages:
        raise SystemExit(f"`ocr-assets run` exited {timed.returncode} with {done} of {pages} "
                         f"pages done: {timed.stderr[-2000:]}")
    return timed


def pages_done(data: Path) -> int:
    from ocr_assets.engine.manifest import open_manifest

    path = data / "manifest.sqlite"
    if not path.exists():
        return 0
    manifest = open_manifest(path)
    try:
        return sum(c["done"] for c in manifest.status_counts().values())
    finally:
        manifest.close()


def corpus_rows(data: Path) -> int:
    import pyarrow.parquet as pq

    path = data / "corpus" / "pages.parquet"
    return pq.read_metadata(path).num_rows if path.exists() else 0


def summary(timed: Timed, pages: int) -> dict[str, object]:
    return {"wall_s": round(timed.wall_s, 2), "cpu_s": round(timed.cpu_s, 1),
            "pages_per_s": round(pages / timed.wall_s, 3),
            "peak_rss_mib": timed.observation.as_dict()["peak_rss_mib"],
            "load_1min_mean": timed.observation.as_dict()["load_1min_mean"]}


def compare_shape(shape: Shape, sources: list[Path], work: Path, reps: int,
                  workers: int) -> dict[str, object]:
    scans = work / f"scans-{shape.name}"
    images = build(shape, sources, scans)
    settings = OcrSettings()
    runs: dict[str, list[dict[str, object]]] = {"cli": [], "pipeline": []}
    for rep in range(reps):
        order = ["cli", "pipeline"] if rep % 2 == 0 else ["pipeline", "cli"]
        for name in order:
            print(f"{shape.name} rep {rep + 1}/{reps}: {name} on {len(images)} pages (load "
                  f"{os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
            if name == "cli":
                timed = run_baseline(images, work / "cli-out", workers=workers,
                                     lang=settings.lang, psm=settings.psm)
            else:
                timed = run_cli(scans, work / "data", workers, len(images))
            runs[name].append(summary(timed, len(images)))
    shutil.rmtree(scans)
    return {"folders": shape.folders, "pages": len(images), **ratios(runs, shape.folders)}


def ratios(runs: dict[str, list[dict[str, object]]], folders: int) -> dict[str, object]:
    """Medians, and the pipeline against the CLI, repetition by repetition."""
    def median(name: str, key: str) -> float:
        return statistics.median(float(run[key]) for run in runs[name])

    pairs = list(zip(runs["cli"], runs["pipeline"], strict=True))
    per_rep = [round(float(cli["wall_s"]) / float(ours["wall_s"]), 3) for cli, ours in pairs]
    overhead = [(float(ours["wall_s"]) - float(cli["wall_s"])) / folders for cli, ours in pairs]
    return {
        "runs": runs,
        "median_wall_s": {name: round(median(name, "wall_s"), 2) for name in runs},
        "ratio_pages_per_s": {"per_rep": per_rep, "median": statistics.median(per_rep)},
        "extra_cpu_per_page": round(median("pipeline", "cpu_s") / median("cli", "cpu_s") - 1, 3),
        "overhead_per_folder_s": round(statistics.median(overhead), 3),
    }


class Daemon:
    """`dagster-daemon run` on the project's workspace, with a fresh Dagster home."""

    def __init__(self, scans: Path, data: Path, workers: int, log: Path) -> None:
        home = data / "dagster_home"
        home.mkdir(parents=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        env = project_env(scans, data, workers)
        env.update(DAGSTER_HOME=str(home), OCR_ASSETS_SENSOR_INTERVAL_S="1",
                   OCR_ASSETS_CORPUS_INTERVAL_S="1")
        self.data = data
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
             str(REPO / "workspace.yaml")], cwd=REPO, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(self, what: str, condition, timeout_s: float = 1800) -> float:
        """Seconds until `condition()` holds, polled every 0.2 s."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            if self.process.poll() is not None:
                raise SystemExit(f"dagster-daemon exited while waiting for {what}; see "
                                 f"{self.log.name}")
            if condition():
                return time.perf_counter() - started
            time.sleep(0.2)
        raise SystemExit(f"not within {timeout_s} s: {what}; see {self.log.name}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def folder_runs(data: Path) -> int:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        return len(instance.get_runs(dg.RunsFilter(job_name="ocr_folder_job")))


def daemon_burst(shape: Shape, sources: list[Path], work: Path, reps: int,
                 workers: int) -> dict[str, object]:
    """The sensor's path against `ocr-assets run`, interleaved."""
    staging = work / "staging"
    images = build(shape, sources, staging)
    runs: dict[str, list[dict[str, object]]] = {"cli": [], "pipeline": []}
    launched: list[int] = []
    scans, data = work / "burst-scans", work / "burst-data"
    for rep in range(reps):
        for name in (["cli", "pipeline"] if rep % 2 == 0 else ["pipeline", "cli"]):
            print(f"daemon burst rep {rep + 1}/{reps}: {name} (load "
                  f"{os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
            for old in (scans, data):
                shutil.rmtree(old, ignore_errors=True)
            scans.mkdir()
            if name == "cli":
                shutil.copytree(staging, scans, dirs_exist_ok=True, copy_function=os.link)
                timed = run_cli(scans, data, workers, len(images))
                runs["cli"].append({"wall_s": round(timed.wall_s, 2)})
                continue
            drop = work / "drop"
            shutil.rmtree(drop, ignore_errors=True)
            shutil.copytree(staging, drop, copy_function=os.link)
            daemon = Daemon(scans, data, workers, work / f"daemon-{rep}.log")
            try:
                daemon.wait_for("the daemon's first sensor tick",
                                lambda: (data / "manifest.sqlite").exists(), timeout_s=300)
                # Each folder moved in whole, as a careful scanner does: a tick never sees half.
                for folder in sorted(drop.iterdir()):
                    folder.rename(scans / folder.name)
                wall = daemon.wait_for(
                    "every page done and in the corpus",
                    lambda: pages_done(data) == len(images) == corpus_rows(data))
            finally:
                daemon.stop()
            launched.append(folder_runs(data))
            runs["pipeline"].append({"wall_s": round(wall, 2)})
    shutil.rmtree(staging)
    walls = {name: statistics.median(float(r["wall_s"]) for r in reps_) for name, reps_ in
             runs.items()}
    return {"folders": shape.folders, "pages": len(images), "runs": runs,
            "median_wall_s": {k: round(v, 2) for k, v in walls.items()},
            "daemon_over_cli": round(walls["pipeline"] / walls["cli"], 3),
            "per_rep": [round(float(ours["wall_s"]) / float(cli["wall_s"]), 3)
                        for cli, ours in zip(runs["cli"], runs["pipeline"], strict=True)],
            "folder_runs": launched}


def memory(counts: list[int], work: Path, workers: int) -> list[dict[str, object]]:
    """The orchestrating process's peak RSS at each folder count (one run each)."""
    rows = []
    settings = OcrSettings()
    for count in counts:
        print(f"memory: {count} one-page folders", file=sys.stderr, flush=True)
        scans = work / f"memory-{count}"
        images = blank_folders(count, scans)
        cli = run_baseline(images, work / "cli-out", workers=workers, lang=settings.lang,
                           psm=settings.psm)
        timed = run_cli(scans, work / "data", workers, count)
        peaks = timed.observation.as_dict()["peak_rss_mib"]
        rows.append({"folders": count, "wall_s": round(timed.wall_s, 2),
                     "cli_wall_s": round(cli.wall_s, 2),
                     "overhead_per_folder_s": round((timed.wall_s - cli.wall_s) / count, 3),
                     "orchestrator_mib": peaks.get("orchestrator"),
                     "worker_mib": peaks.get("worker")})
        shutil.rmtree(scans)
        shutil.rmtree(work / "data")
    return rows


def render(results: dict[str, object]) -> str:
    machine = results["machine"]
    lines = [
        "# Many small folders against the bare CLI", "",
        f"`{results['command']}`, {results['started_at']}, {machine['cores']} cores "
        f"({machine['cpu_model']}), {results['reps']} repetitions (medians), "
        f"{results['workers']} workers, default settings and engine; light pages: "
        f"{', '.join(results['sources'])}.", "",
    ]
    if results["shapes"]:
        lines += ["## Throughput", table(("batch", "pages", "bare CLI (s)", "`ocr-assets run` (s)",
               "ratio (pages/s, per repetition)", "median ratio", "CPU beyond the CLI's",
               "orchestration per folder (s)"),
              [(name, shape["pages"], shape["median_wall_s"]["cli"],
                shape["median_wall_s"]["pipeline"],
                " / ".join(str(v) for v in shape["ratio_pages_per_s"]["per_rep"]),
                shape["ratio_pages_per_s"]["median"], f"{shape['extra_cpu_per_page']:+.1%}",
                shape["overhead_per_folder_s"])
               for name, shape in results["shapes"].items()])]
    burst = results.get("daemon_burst")
    if burst:
        lines += ["## The daemon's path (sensor burst)",
                  table(("folders", "pages", "`ocr-assets run` (s)",
                         "drop to corpus through the daemon (s)", "daemon / CLI",
                         "per repetition", "folder runs launched"),
                        [(burst["folders"], burst["pages"], burst["median_wall_s"]["cli"],
                          burst["median_wall_s"]["pipeline"], burst["daemon_over_cli"],
                          " / ".join(str(v) for v in burst["per_rep"]),
                          " / ".join(str(n) for n in burst["folder_runs"]))])]
    if results.get("memory"):
        lines += ["## Peak memory of the orchestrating process",
                  table(("one-page folders", "`ocr-assets run` (s)", "bare CLI (s)",
                         "orchestration per folder (s)", "orchestrator peak RSS (MiB)",
                         "worker peak RSS (MiB)"),
                        [(row["folders"], row["wall_s"], row["cli_wall_s"],
                          row["overhead_per_folder_s"], row["orchestrator_mib"],
                          row["worker_mib"]) for row in results["memory"]])]
    return "\n\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_folders",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, default=SHARED_PAGES,
                        help="the shared test set's pages/ (its light English pages are used; "
                             "the shipped fixtures when it is absent)")
    parser.add_argument("--shapes", default="100x1-3,4x6",
                        help="comma-separated batches, FOLDERSxPAGES or FOLDERSxLOW-HIGH")
    parser.add_argument("--reps", type=int, default=3,
                        help="repetitions of each shape against the CLI (0: skip the shapes)")
    parser.add_argument("--daemon-reps", type=int, default=3,
                        help="repetitions of the daemon's path on the first shape (0: skip)")
    parser.add_argument("--memory", default="1,100,1000",
                        help="comma-separated folder counts for the memory table ('': skip)")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "small_folders")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sources = light_sources(args.pages)
    shapes = [Shape.parse(text.strip()) for text in args.shapes.split(",") if text.strip()]
    results: dict[str, object] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.small_folders",
                             *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_facts(), "reps": args.reps, "workers": args.workers,
        "sources": [source.name for source in sources], "shapes": {},
    }
    work = Path(tempfile.mkdtemp(prefix="ocr-assets-small-"))
    try:
        for shape in shapes if args.reps else ():
            results["shapes"][shape.name] = compare_shape(shape, sources, work, args.reps,
                                                          args.workers)
        if args.daemon_reps and shapes:
            results["daemon_burst"] = daemon_burst(shapes[0], sources, work, args.daemon_reps,
                                                   args.workers)
        counts = [int(n) for n in args.memory.split(",") if n.strip()]
        if counts:
            results["memory"] = memory(counts, work, args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.out, results, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
