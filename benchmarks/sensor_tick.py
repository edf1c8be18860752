"""How long one tick of the scan-folder sensor takes with 10,000 folders, and the nightly
reconciliation over the same folders, against the 60 s evaluation timeout of Dagster.

    .venv/bin/python benchmarks/sensor_tick.py [--folders 10000] [--pages 10]

It builds a scans root of `--folders` folders with `--pages` small files each (the sensor only
`stat`s files, so their content does not matter), a SQLite Dagster instance with the project's
dagster.yaml and a manifest, then times, in this process, the code the daemon runs:

1. the first tick (every folder new: registered, added as partitions, a run requested each);
2. applying its 10,000 partition additions, as the daemon does after the tick;
3. a tick with nothing changed; 4. a tick after 1 % of the folders got a page more;
5. the manifest's summary query alone, then the nightly reconciliation (`folders_to_run`)
   with every folder's pages recorded done and its listing signature stored, as a run leaves
   them: that one aggregate query and one `stat` per file, no page row read; 6. the same after
   1 % of the folders got a page more (their rows are read and compared).

The daemon evaluates the sensor in the code server and ships the result over gRPC, which this
leaves out. Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import dagster as dg

from ocr_assets.defs.automation.sensors import evaluate_scan_folders
from ocr_assets.engine.folder.planning import RUN_NEEDS, RunState, folders_to_run
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML
from ocr_assets.orchestration.resources import OcrConfig

SENSOR_TIMEOUT_S = 60


def build_scans(root: Path, folders: int, pages: int) -> None:
    payload = b"II*\x00" + b"\0" * 60
    for n in range(folders):
        folder = root / f"box-{n:05d}"
        folder.mkdir(parents=True)
        for p in range(1, pages + 1):
            (folder / f"page_{p:04d}.tif").write_bytes(payload)


def tick(instance: dg.DagsterInstance, ocr: OcrConfig, cursor: str | None
         ) -> tuple[float, dg.SensorResult]:
    started = time.perf_counter()
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"ocr": ocr}) as context:
        result = evaluate_scan_folders(context, ocr, AutomationConfig())
    return time.perf_counter() - started, result


def record_done(ocr: OcrConfig, scans: Path) -> None:
    """Every page of every folder done in the manifest, as after a full OCR: each folder's rows
    synced with its listing signature (what a run's plan stores), then every row marked done
    with its file's stat and the recipe in force, in one transaction (a run commits page by
    page, which would only make the set-up of 900,000 pages slow)."""
    manifest = ocr.project().manifest
    recipe = ocr.project().settings.recipe_key()
    done = []
    for folder in sorted(scans.iterdir()):
        files = sorted(folder.iterdir())
        manifest.sync_pages(folder.name, [f.name for f in files],
                            listing_signature=folder_signature(folder))
        for f in files:
            stat = f.stat()
            done.append((stat.st_size, stat.st_mtime_ns, f.name, recipe, folder.name, f.name))
    with sqlite3.connect(Path(ocr.data_root) / "manifest.sqlite") as db:
        db.executemany("UPDATE pages SET status = 'done', fingerprint = 'x', size = ?, "
                       "mtime_ns = ?, ms = 1, output_name = ?, recipe = ? "
                       "WHERE partition_key = ? AND page_id = ?", done)
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folders", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=10, help="files per folder")
    parser.add_argument("--work", type=Path, help="where to build (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sensor-tick-", dir=args.work))
    scans, data = work / "scans", work / "data"
    load_before = os.getloadavg()
    try:
        started = time.perf_counter()
        build_scans(scans, args.folders, args.pages)
        print(f"built {args.folders} folders x {args.pages} files in "
              f"{time.perf_counter() - started:.1f} s under {work}")
        ocr = OcrConfig(scans_root=str(scans), data_root=str(data))
        rows: list[tuple[str, float, str]] = []
        home = work / "dagster_home"
        home.mkdir()
        shutil.copy(PROJECT_INSTANCE_YAML, home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            seconds, first = tick(instance, ocr, None)
            rows.append(("first tick: all folders new", seconds,
                         f"{len(first.run_requests)} run requests, "
                         f"{len(first.dynamic_partitions_requests[0].partition_keys)} "
                         "partitions to add"))
            started = time.perf_counter()
            for request in first.dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name,
                                                list(request.partition_keys))
            rows.append(("adding the partitions (daemon, after the tick)",
                         time.perf_counter() - started, ""))
            seconds, same = tick(instance, ocr, first.cursor)
            rows.append(("tick, nothing changed", seconds,
                         f"{len(same.run_requests)} run requests"))
            changed = sorted(scans.iterdir())[:: 100]
            for folder in changed:
                (folder / "page_extra.tif").write_bytes(b"II*\x00" + b"\0" * 60)
            seconds, moved = tick(instance, ocr, same.cursor)
            rows.append(("tick, 1 % of folders got a page", seconds,
                         f"{len(moved.run_requests)} run requests"))
            for folder in changed:
                (folder / "page_extra.tif").unlink()
            started = time.perf_counter()
            record_done(ocr, scans)
            print(f"recorded every page done in {time.perf_counter() - started:.1f} s")
            folders = {p.name: p.name for p in scans.iterdir()}
            started = time.perf_counter()
            summaries = ocr.project().manifest.folder_summaries()
            rows.append(("the manifest's summary query alone (one of its parts)",
                         time.perf_counter() - started, f"{len(summaries)} folders, "
                         f"{sum(sum(s.counts.values()) for s in summaries.values())} pages"))
            started = time.perf_counter()
            reasons = folders_to_run(ocr.project(), folders,
                                     RunState(materialized=frozenset(folders)), RUN_NEEDS)
            rows.append(("nightly reconciliation, every page done",
                         time.perf_counter() - started, f"{len(reasons)} folders need a run"))
            for folder in changed:
                (folder / "page_extra.tif").write_bytes(b"II*\x00" + b"\0" * 60)
            started = time.perf_counter()
            reasons = folders_to_run(ocr.project(), folders,
                                     RunState(materialized=frozenset(folders)), RUN_NEEDS)
            rows.append(("nightly reconciliation, 1 % of the folders got a page",
                         time.perf_counter() - started, f"{len(reasons)} folders need a run"))
            cursor_kib = len(moved.cursor) / 1024
        print(f"\n{args.folders} folders x {args.pages} files, {platform.processor() or ''} "
              f"{os.cpu_count()} cores, Python {platform.python_version()}, "
              f"Dagster {dg.__version__}; cursor {cursor_kib:.0f} KiB; "
              f"sensor timeout {SENSOR_TIMEOUT_S} s; load average (1, 5, 15 min) "
              f"{' '.join(f'{x:.2f}' for x in load_before)} at the start, "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end\n")
        print("| step | seconds | result |\n|---|---:|---|")
        for name, seconds, what in rows:
            print(f"| {name} | {seconds:.2f} | {what} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
