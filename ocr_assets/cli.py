"""`ocr-assets`: the headless way in, through the same Dagster assets and the same instance.

`run` executes one Dagster run per folder *in process* against the persistent instance (no
daemon needed; the UI shows these runs later), then rebuilds the corpus. `status` reads the
manifest only, so it is instant and works while runs are going.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr_assets.engine import Manifest

EXIT_OK, EXIT_BLOCKING_CHECK_FAILED, EXIT_RUN_FAILED = 0, 1, 2
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _apply_flags(args: argparse.Namespace) -> Path:
    """Flags override `OCR_ASSETS_*` variables; set them before the definitions load."""
    if getattr(args, "scans", None):
        os.environ["OCR_ASSETS_SCANS"] = str(Path(args.scans).absolute())
    if args.data:
        os.environ["OCR_ASSETS_DATA"] = str(Path(args.data).absolute())
    if getattr(args, "workers", None):
        os.environ["OCR_ASSETS_WORKERS"] = str(args.workers)
    return Path(os.environ.get("OCR_ASSETS_DATA", "data")).absolute()


def folder_statuses(data_root: Path) -> dict[str, object]:
    """The `status --json` document: per folder and in total, from the manifest."""
    from ocr_assets.defs.resources import OcrConfig

    manifest = OcrConfig.from_env().manifest()
    counts = manifest.status_counts()
    folders = []
    totals = {"pages": 0, "done": 0, "failed": 0, "pending": 0}
    for record in manifest.folders():
        by_status = counts.get(record.partition_key, {})
        row = {"folder": record.folder_name, "partition": record.partition_key,
               "done": by_status.get("done", 0), "failed": by_status.get("failed", 0),
               "pending": by_status.get("pending", 0) + by_status.get("running", 0)}
        row["pages"] = row["done"] + row["failed"] + row["pending"]
        folders.append(row)
        for name in totals:
            totals[name] += row[name]
    return {"folders": folders, "totals": totals}


def cmd_status(args: argparse.Namespace) -> int:
    data_root = _apply_flags(args)
    document = folder_statuses(data_root)
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{'folder':40} {'pages':>7} {'done':>7} {'failed':>7} {'pending':>7}")
    for row in [*document["folders"], {"folder": "total", **document["totals"]}]:
        print(f"{row['folder'][:40]:40} {row['pages']:>7} {row['done']:>7} {row['failed']:>7} "
              f"{row['pending']:>7}")
    return EXIT_OK


class _Progress:
    """A progress bar (pages, rate, ETA) fed by polling the manifest, the source of truth."""

    def __init__(self, total: int, manifest: Manifest) -> None:
        from tqdm import tqdm

        self.manifest = manifest
        self.bar = tqdm(total=total, unit="page", disable=total == 0 or None,
                        dynamic_ncols=True)
        self.started = time.time()
        self._stop = threading.Event()
        self._keys: list[str] = []
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def watch(self, key: str) -> None:
        self._keys.append(key)

    def _finished_pages(self) -> int:
        return sum(1 for key in list(self._keys) for row in self.manifest.pages(key).values()
                   if row.status in ("done", "failed") and (row.updated_at or 0) >= self.started)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.n = min(self.bar.total, self._finished_pages())
            self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bar.n = min(self.bar.total, self._finished_pages())
        self.bar.close()


def _failure_reason(result) -> str:
    """The first step failure's message of an in-process run, for the terminal."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            return f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
    return f"run {result.run_id} failed; see its logs in the Dagster UI"


def cmd_run(args: argparse.Namespace) -> int:
    data_root = _apply_flags(args)
    from ocr_assets.instance import (
        fail_dead_in_process_runs,
        in_process_run_tags,
        prepare_dagster_home,
    )

    prepare_dagster_home(data_root)

    import dagster as dg

    # Partitioned asset checks are "preview" in Dagster 1.13; the CLI's users need not see that.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from ocr_assets.definitions import defs
    from ocr_assets.defs.assets import page_texts
    from ocr_assets.defs.partitions import scan_folders
    from ocr_assets.defs.resources import OcrConfig
    from ocr_assets.engine import plan_folder
    from ocr_assets.engine.backends import check_engine_ready
    from ocr_assets.engine.corpus import PARQUET_KEY
    from ocr_assets.engine.registry import list_scan_folders, register_folders

    ocr = OcrConfig.from_env()
    try:
        check_engine_ready(ocr.settings.engine, ocr.settings.lang,
                           orientation=ocr.settings.auto_rotate)
    except (RuntimeError, ValueError) as exc:
        print(f"cannot OCR: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    manifest = ocr.manifest()
    instance = dg.DagsterInstance.get()
    for run_id in fail_dead_in_process_runs(instance):
        print(f"run {run_id} was left unfinished by a process that died: marked failed, its "
              "pool slot freed", file=sys.stderr)
    run_tags = {"ocr_assets/trigger": "cli", **in_process_run_tags()}
    scan = list_scan_folders(ocr.scans_path)
    for name, reason in scan.problems.items():
        print(f"skipped folder {name!r}: {reason}", file=sys.stderr)
    if not scan.folders:
        print(f"no scan folders under {ocr.scans_path}: put each box or volume of page images "
              "in a folder of its own there", file=sys.stderr)
    register_folders(manifest, scan)
    known = set(instance.get_dynamic_partitions(scan_folders.name))
    instance.add_dynamic_partitions(scan_folders.name, sorted(set(scan.folders) - known))
    materialized = instance.get_materialized_partitions(page_texts.key)

    to_run: list[str] = []
    pages_to_do = 0
    for key, name in scan.folders.items():
        plan = plan_folder(ocr.scans_path / name, key, manifest=manifest, out_root=ocr.ocr_store,
                           settings=ocr.settings, scans_root=ocr.scans_path)
        if plan.todo or key not in materialized:
            to_run.append(key)
            pages_to_do += len(plan.todo)
    print(f"{len(scan.folders)} folders, {len(to_run)} to run, {pages_to_do} pages to OCR, "
          f"{ocr.settings.workers} workers; Dagster home {os.environ['DAGSTER_HOME']}",
          file=sys.stderr)

    folder_job = defs.resolve_job_def("ocr_folder_job")
    blocking_failed: list[str] = []
    run_failed: list[str] = []
    with _Progress(pages_to_do, manifest) as progress:
        for key in to_run:
            progress.watch(key)
            result = folder_job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False,
                run_config=QUIET_LOGGING, tags=run_tags)
            failed_checks = [e.check_name for e in result.get_asset_check_evaluations()
                             if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
            if failed_checks:
                blocking_failed.append(f"{key}: {', '.join(failed_checks)}")
            elif not result.success:
                run_failed.append(f"{key}: {_failure_reason(result)}")

    corpus_result = None
    corpus_file = ocr.corpus_store.uri(PARQUET_KEY)
    if to_run or not ocr.corpus_store.exists(PARQUET_KEY):
        corpus_result = defs.resolve_job_def("corpus_job").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET_LOGGING,
            tags=run_tags)
        for evaluation in corpus_result.get_asset_check_evaluations():
            if not evaluation.passed:
                blocking_failed.append(f"corpus: {evaluation.check_name}")
        if not corpus_result.success and not blocking_failed:
            run_failed.append(f"corpus: {_failure_reason(corpus_result)}")

    document = folder_statuses(data_root)
    totals = document["totals"]
    print(f"done: {totals['done']} pages, failed: {totals['failed']}, pending: "
          f"{totals['pending']}, in {len(document['folders'])} folders; corpus: {corpus_file}")
    for line in blocking_failed:
        print(f"blocking check failed: {line}", file=sys.stderr)
    for line in run_failed:
        print(f"run failed: {line}", file=sys.stderr)
    if blocking_failed:
        return EXIT_BLOCKING_CHECK_FAILED
    return EXIT_RUN_FAILED if run_failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocr-assets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="OCR every folder that needs it, then the corpus")
    run.add_argument("--scans", help="scans root (default: $OCR_ASSETS_SCANS or <data>/scans)")
    run.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")
    run.add_argument("--workers", type=int, help="OCR processes (default: one per core)")
    run.set_defaults(func=cmd_run)

    status = commands.add_parser("status", help="pages, done, failed, pending per folder")
    status.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
