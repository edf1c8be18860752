"""`ocr-assets`: the headless way in, through the same Dagster assets and the same instance.

`run` executes one Dagster run per folder *in process* against the persistent instance (no
daemon needed; the UI shows these runs later), then rebuilds the corpus. `retry-failed` does
the same for exactly the partitions whose last run failed or that have failed pages, and
`forget` deletes the partitions of removed folders with their outputs. `status` reads the
manifest only, so it is instant and works while runs are going. `search` queries the corpus's
full-text index.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr_assets.engine.manifest import Manifest

EXIT_OK, EXIT_BLOCKING_CHECK_FAILED, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2, 64
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PAGE_TEXTS_ASSET = "page_texts"
"""The per-folder OCR asset's name, so that deciding which folders to run does not import the
asset definitions (and with them pandas); a test holds it equal to `defs.assets.page_texts`."""


def _apply_flags(args: argparse.Namespace) -> Path:
    """Flags override `OCR_ASSETS_*` variables; set them before the definitions load."""
    if getattr(args, "scans", None):
        os.environ["OCR_ASSETS_SCANS"] = str(Path(args.scans).absolute())
    if args.data:
        os.environ["OCR_ASSETS_DATA"] = str(Path(args.data).absolute())
    if getattr(args, "workers", None):
        os.environ["OCR_ASSETS_WORKERS"] = str(args.workers)
    return Path(os.environ.get("OCR_ASSETS_DATA", "data")).absolute()


def flagged_pages(manifest: Manifest, partition_key: str) -> list[dict[str, str]]:
    """The folder's done pages with a quality flag, and why: `{"page", "reason"}`, the reason
    starting with the flag (`empty: ...`, `garbage: ...`)."""
    return [{"page": row.page_id, "reason": f"{row.flags}: {row.flag_reason}"}
            for page_id, row in sorted(manifest.pages(partition_key).items())
            if row.status == "done" and row.flags]


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
        row["flagged"] = flagged_pages(manifest, record.partition_key)
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
    print(f"{'folder':40} {'pages':>7} {'done':>7} {'failed':>7} {'pending':>7} "
          f"{'flagged':>7}")
    folders = document["folders"]
    totals = {"folder": "total", **document["totals"],
              "flagged": [page for row in folders for page in row["flagged"]]}
    for row in [*folders, totals]:
        print(f"{row['folder'][:40]:40} {row['pages']:>7} {row['done']:>7} {row['failed']:>7} "
              f"{row['pending']:>7} {len(row['flagged']):>7}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    _apply_flags(args)
    from ocr_assets.defs.resources import OcrConfig
    from ocr_assets.engine.corpus.search import CorpusNotBuiltError, search_corpus

    try:
        hits = search_corpus(OcrConfig.from_env().corpus_store, args.query, limit=args.limit)
    except (CorpusNotBuiltError, ValueError) as exc:
        print(f"cannot search: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if args.json:
        print(json.dumps([{"folder": h.folder, "partition": h.partition, "page": h.page,
                           "snippet": h.snippet} for h in hits], ensure_ascii=False, indent=2))
    else:
        for hit in hits:
            print(f"{hit.folder}\t{hit.page}\t{hit.snippet}")
        print(f"{len(hits)} pages", file=sys.stderr)
    return EXIT_OK


class _Progress:
    """A progress bar (pages, rate, ETA) fed by polling the manifest, the source of truth.

    Folders run one after the other, so a poll counts only the folder being run (one count
    query over its rows) and adds the pages the folders before it finished, counted once when
    the next one started: a poll costs the same with the hundredth folder as with the first.
    A page counts when it became done or failed after the bar started: in this command."""

    def __init__(self, total: int, manifest: Manifest) -> None:
        from tqdm import tqdm

        self.manifest = manifest
        self.bar = tqdm(total=total, unit="page", disable=total == 0 or None,
                        dynamic_ncols=True)
        self.started = time.time()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: str | None = None
        self._finished_before = 0
        """Pages finished in this command in the folders watched before the current one."""
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def watch(self, key: str) -> None:
        """Count `key`'s pages from now on; the folder watched until now is finished (each
        folder is watched once)."""
        with self._lock:
            if self._current is not None:
                self._finished_before += self.manifest.finished_since(self._current,
                                                                      self.started)
            self._current = key

    def finished_pages(self) -> int:
        with self._lock:
            current = (self.manifest.finished_since(self._current, self.started)
                       if self._current is not None else 0)
            return self._finished_before + current

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.n = min(self.bar.total, self.finished_pages())
            self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bar.n = min(self.bar.total, self.finished_pages())
        self.bar.close()


def _failure_reason(result) -> str:
    """The first step failure's message of an in-process run, for the terminal."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            return f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
    return f"run {result.run_id} failed; see its logs in the Dagster UI"


class _Refused(Exception):
    """A command that cannot go on: its message for the terminal, and its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _open_instance(args: argparse.Namespace):
    """Flags applied, the persistent instance opened, the OCR pool's limit in force."""
    data_root = _apply_flags(args)
    from ocr_assets.instance import fail_dead_in_process_runs, prepare_dagster_home

    prepare_dagster_home(data_root)

    import dagster as dg

    # Partitioned asset checks are "preview" in Dagster 1.13; the CLI's users need not see that.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from ocr_assets.defs.concurrency import ensure_pool_limit

    instance = dg.DagsterInstance.get()
    for run_id in fail_dead_in_process_runs(instance):
        print(f"run {run_id} was left unfinished by a process that died: marked failed, its "
              "pool slot freed", file=sys.stderr)
    try:
        ensure_pool_limit(instance)
    except ValueError as exc:
        raise _Refused(f"cannot run: {exc}", EXIT_RUN_FAILED) from exc
    return data_root, instance


def _engine_ready(ocr) -> bool:
    from ocr_assets.engine.page.engines.registry import check_engine_ready

    try:
        check_engine_ready(ocr.settings.engine, ocr.settings.lang,
                           orientation=ocr.settings.auto_rotate)
    except (RuntimeError, ValueError) as exc:
        print(f"cannot OCR: {exc}", file=sys.stderr)
        return False
    return True


def cmd_run(args: argparse.Namespace) -> int:
    data_root, instance = _open_instance(args)
    import dagster as dg

    from ocr_assets.defs.partitions import scan_folders
    from ocr_assets.defs.resources import OcrConfig
    from ocr_assets.engine.corpus.layout import PARQUET_KEY
    from ocr_assets.engine.folder.batch import plan_folder
    from ocr_assets.engine.folder.config import FolderConfigError, folder_settings
    from ocr_assets.engine.folder.registry import list_scan_folders, register_folders

    ocr = OcrConfig.from_env()
    manifest = ocr.manifest()
    scan = list_scan_folders(ocr.scans_path)
    for name, reason in scan.problems.items():
        print(f"skipped folder {name!r}: {reason}", file=sys.stderr)
    if not scan.folders:
        print(f"no scan folders under {ocr.scans_path}: put each box or volume of page images "
              "in a folder of its own there", file=sys.stderr)
    register_folders(manifest, scan)
    known = set(instance.get_dynamic_partitions(scan_folders.name))
    instance.add_dynamic_partitions(scan_folders.name, sorted(set(scan.folders) - known))
    materialized = instance.get_materialized_partitions(dg.AssetKey(PAGE_TEXTS_ASSET))

    to_run: list[str] = []
    pages_to_do = 0
    for key, name in scan.folders.items():
        folder = ocr.scans_path / name
        try:
            settings = folder_settings(folder, ocr.settings)
        except FolderConfigError:
            to_run.append(key)  # its run fails, saying what to fix in the file
            continue
        plan = plan_folder(folder, key, manifest=manifest, out_root=ocr.ocr_store,
                           settings=settings, scans_root=ocr.scans_path)
        if plan.todo or key not in materialized:
            to_run.append(key)
            pages_to_do += len(plan.todo)
    print(f"{len(scan.folders)} folders, {len(to_run)} to run, {pages_to_do} pages to OCR, "
          f"{ocr.settings.workers} workers; Dagster home {os.environ['DAGSTER_HOME']}",
          file=sys.stderr)
    # Only now, so that a re-run with nothing to OCR never loads the engine (pytesseract
    # imports pandas): the check is for pages that are about to be read.
    if pages_to_do and not _engine_ready(ocr):
        return EXIT_RUN_FAILED

    outcome = _execute_folders(instance, manifest, to_run, pages_to_do, trigger="cli")
    if to_run or not ocr.corpus_store.exists(PARQUET_KEY):
        _execute_corpus(instance, outcome, trigger="cli")
    return _summarise(data_root, ocr.corpus_store.uri(PARQUET_KEY), outcome)


@dataclass
class _Outcome:
    """What went wrong in the runs of one command, for its summary and exit code."""

    blocking_failed: list[str] = field(default_factory=list)
    run_failed: list[str] = field(default_factory=list)


def _execute_folders(instance, manifest: Manifest, keys: Sequence[str], pages_to_do: int, *,
                     trigger: str) -> _Outcome:
    """One in-process run of `ocr_folder_job` per partition, with the progress bar. With no
    partition to run, the definitions (and pandas, which the corpus asset imports) are not
    even loaded."""
    outcome = _Outcome()
    if not keys:
        return outcome
    import dagster as dg

    from ocr_assets.definitions import defs
    from ocr_assets.instance import in_process_run_tags

    folder_job = defs.resolve_job_def("ocr_folder_job")
    with _Progress(pages_to_do, manifest) as progress:
        for key in keys:
            progress.watch(key)
            result = folder_job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False,
                run_config=QUIET_LOGGING,
                tags={"ocr_assets/trigger": trigger, **in_process_run_tags()})
            failed_checks = [e.check_name for e in result.get_asset_check_evaluations()
                             if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
            if failed_checks:
                outcome.blocking_failed.append(f"{key}: {', '.join(failed_checks)}")
            elif not result.success:
                outcome.run_failed.append(f"{key}: {_failure_reason(result)}")
    return outcome


def _execute_corpus(instance, outcome: _Outcome, *, trigger: str) -> None:
    from ocr_assets.definitions import defs
    from ocr_assets.instance import in_process_run_tags

    corpus_result = defs.resolve_job_def("corpus_job").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET_LOGGING,
        tags={"ocr_assets/trigger": trigger, **in_process_run_tags()})
    for evaluation in corpus_result.get_asset_check_evaluations():
        if not evaluation.passed:
            outcome.blocking_failed.append(f"corpus: {evaluation.check_name}")
    if not corpus_result.success and not outcome.blocking_failed:
        outcome.run_failed.append(f"corpus: {_failure_reason(corpus_result)}")


def _summarise(data_root: Path, corpus_file: str, outcome: _Outcome) -> int:
    blocking_failed, run_failed = outcome.blocking_failed, outcome.run_failed
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


def cmd_retry_failed(args: argparse.Namespace) -> int:
    """Run exactly the partitions whose last run failed or that have failed pages."""
    data_root, instance = _open_instance(args)
    from ocr_assets.defs.resources import OcrConfig
    from ocr_assets.defs.selection import retry_selection
    from ocr_assets.engine.corpus.layout import PARQUET_KEY

    ocr = OcrConfig.from_env()
    reasons = retry_selection(instance, ocr)
    for key, why in reasons.items():
        print(f"{key}: {why}", file=sys.stderr)
    if not reasons:
        print("nothing to retry: no partition's last run failed, and no page failed",
              file=sys.stderr)
        return EXIT_OK
    if args.dry_run:
        print(f"{len(reasons)} partitions would be run (--dry-run: nothing was launched)",
              file=sys.stderr)
        return EXIT_OK
    if not _engine_ready(ocr):
        return EXIT_RUN_FAILED
    manifest = ocr.manifest()
    counts = manifest.status_counts()
    failed_pages = sum(counts.get(key, {}).get("failed", 0) for key in reasons)
    print(f"retrying {len(reasons)} partitions ({failed_pages} failed pages)", file=sys.stderr)
    outcome = _execute_folders(instance, manifest, list(reasons), failed_pages,
                               trigger="retry-failed")
    _execute_corpus(instance, outcome, trigger="retry-failed")
    return _summarise(data_root, ocr.corpus_store.uri(PARQUET_KEY), outcome)


def _resolve_partition(name: str, manifest: Manifest, partitions: set[str]) -> str | None:
    """A partition key given as itself or as its folder's name."""
    if name in partitions or manifest.folder(name) is not None:
        return name
    matches = [r.partition_key for r in manifest.folders() if r.folder_name == name]
    return matches[0] if len(matches) == 1 else None


def cmd_forget(args: argparse.Namespace) -> int:
    """Delete partitions whose folders were removed: the partition, its outputs, its reports
    and its manifest rows; then rebuild the corpus without their pages."""
    data_root, instance = _open_instance(args)
    import dagster as dg

    from ocr_assets.defs.partitions import scan_folders
    from ocr_assets.defs.resources import OcrConfig
    from ocr_assets.engine.corpus.layout import PARQUET_KEY
    from ocr_assets.engine.folder.forget import forget_folder_data
    from ocr_assets.engine.folder.registry import list_scan_folders

    ocr = OcrConfig.from_env()
    manifest = ocr.manifest()
    partitions = set(instance.get_dynamic_partitions(scan_folders.name))
    on_disk = list_scan_folders(ocr.scans_path).folders
    keys: list[str] = []
    for name in args.folders:
        key = _resolve_partition(name, manifest, partitions)
        if key is None:
            raise _Refused(f"{name!r} is neither a partition nor a registered folder; "
                           "`ocr-assets status` lists them", EXIT_USAGE)
        if key in on_disk and not args.keep_scans:
            raise _Refused(f"the folder of '{key}' ({ocr.scans_path / on_disk[key]}) is still "
                           "in the scans root, and the sensor would add it again: move it away "
                           "first, or pass --keep-scans to forget its results anyway", EXIT_USAGE)
        active = instance.get_run_ids(dg.RunsFilter(
            tags={"dagster/partition": key}, statuses=[
                dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1)
        if active:
            raise _Refused(f"partition '{key}' has a run queued or in progress ({active[0]}); "
                           "wait for it or terminate it in the UI, then forget it", EXIT_USAGE)
        keys.append(key)
    for key in keys:
        if key in partitions:
            instance.delete_dynamic_partition(scan_folders.name, key)
        forgotten = forget_folder_data(manifest, key, out_root=ocr.ocr_store,
                                       reports_root=ocr.reports_store)
        print(f"forgot '{key}': partition deleted, {forgotten.pages} manifest rows and "
              f"{forgotten.files} output and report files removed", file=sys.stderr)
    outcome = _Outcome()
    if not args.no_corpus:
        _execute_corpus(instance, outcome, trigger="forget")
    return _summarise(data_root, ocr.corpus_store.uri(PARQUET_KEY), outcome)


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

    retry = commands.add_parser(
        "retry-failed", help="run exactly the partitions whose last run failed or that have "
                             "failed pages (plain retries, then the retry pass), then the corpus")
    retry.add_argument("--scans", help="scans root (default: $OCR_ASSETS_SCANS or <data>/scans)")
    retry.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")
    retry.add_argument("--workers", type=int, help="OCR processes (default: cores / OCR pool "
                                                   "limit)")
    retry.add_argument("--dry-run", action="store_true",
                       help="list the partitions and why, launch nothing")
    retry.set_defaults(func=cmd_retry_failed)

    forget = commands.add_parser(
        "forget", help="delete the partitions of removed folders with their outputs, reports "
                       "and manifest rows, then rebuild the corpus without them")
    forget.add_argument("folders", nargs="+", metavar="FOLDER",
                        help="partition key or folder name")
    forget.add_argument("--scans", help="scans root (default: $OCR_ASSETS_SCANS or <data>/scans)")
    forget.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")
    forget.add_argument("--keep-scans", action="store_true",
                        help="forget a folder that is still in the scans root (the sensor "
                             "will register it again: stop it first)")
    forget.add_argument("--no-corpus", action="store_true",
                        help="do not rebuild the corpus now (its next build drops the pages)")
    forget.set_defaults(func=cmd_forget)

    search = commands.add_parser("search", help="full-text search in the corpus: folder, page "
                                                "and a snippet per matching page")
    search.add_argument("query", help='words, "an exact phrase", prefix*, AND/OR/NOT (FTS5)')
    search.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")
    search.add_argument("--limit", type=int, default=20, help="at most this many pages (20)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(func=cmd_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _Refused as exc:
        print(exc, file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
