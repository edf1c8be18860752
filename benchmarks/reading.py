"""CPU of the commands that only read, `ocr-assets status --json` and `ocr-assets search`, on a
10,000-page project: they import no Dagster, so a user (or a script polling every 2 s beside
the UI) can ask as often as they like.

`python -m benchmarks.reading [--folders 100] [--pages 100] [--reps 7]` builds a synthetic
project (manifest rows, page texts, a corpus; 5 % of the pages flagged and 2 % copies of 50
scans, so `status` lists both; no image and no OCR, see `corpus_build`), runs each
command `--reps` times as a user would (a new process each), and prints the median user+system
CPU seconds of the process and its wall time, beside the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus_build import _write_folder
from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.build import build_corpus
from ocr_assets.engine.project import Project

COMMANDS = {"status --json": ["status", "--json"], "search": ["search", "kate"]}
FLAGGED_SHARE = 0.05
"""Pages marked empty or garbage, so `status` has flagged pages to list."""
DUPLICATE_SHARE = 0.02
DUPLICATE_SCANS = 50
"""Pages made copies of one of `DUPLICATE_SCANS` scans, so `status` has duplicates to list."""


def build_project(data: Path, *, folders: int, pages: int) -> None:
    """`folders` x `pages` done pages with texts, 5 % of them flagged, and their corpus."""
    rng = random.Random(19)
    project = Project(ProjectConfig(data_root=str(data)))
    manifest = project.manifest
    for number in range(folders):
        key = f"box_{number + 1:04d}"
        manifest.register_folder(key, key, key.encode())
        _write_folder(manifest, project.scans_root, project.ocr_store.root, key, pages, rng)
    with manifest._tx() as db:  # set-up only: mark a share of the pages flagged
        db.execute("UPDATE pages SET flags = 'empty', flag_reason = 'near-blank' "
                   "WHERE abs(random()) % 1000 < ?", (int(FLAGGED_SHARE * 1000),))
        db.execute("UPDATE pages SET content_key = 'sha256:copy-' || (abs(random()) % ?) "
                   "WHERE abs(random()) % 1000 < ?",
                   (DUPLICATE_SCANS, int(DUPLICATE_SHARE * 1000)))
    build_corpus(project)
    project.close()


def measure(data: Path, arguments: list[str], reps: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of `ocr-assets <arguments>` run `reps` times."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_ASSETS_")}
    cpu, wall = [], []
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ocr_assets.cli", *arguments, "--data", str(data)],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reading",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--pages", type=int, default=100, help="pages per folder")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="reading-") as work:
        data = Path(work) / "data"
        build_project(data, folders=args.folders, pages=args.pages)
        rows = [(name, *measure(data, arguments, args.reps))
                for name, arguments in COMMANDS.items()]
    print(f"\n{args.folders} folders x {args.pages} pages; {platform.processor() or ''} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; medians of "
          f"{args.reps} runs; load average {' '.join(f'{x:.2f}' for x in load_before)} at the "
          f"start, {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end\n")
    print("| command | CPU s (user + system) | wall s |\n|---|---:|---:|")
    for name, cpu, wall in rows:
        print(f"| `ocr-assets {name}` | {cpu:.3f} | {wall:.3f} |")


if __name__ == "__main__":
    main()
