"""The `ocr-assets` command line: its parser, and the dispatch to the commands' modules, each
imported only when its command runs (`status` and `search` never load Dagster)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from ocr_assets.cli.exits import EXIT_RUN_FAILED, Refused
from ocr_assets.cli.options import add_data_flag, add_scans_flag
from ocr_assets.engine.manifest.base import ManifestOpenError
from ocr_assets.orchestration.allocators import with_allocators
from ocr_assets.orchestration.instance import InstanceOpenError

DESCRIPTION = "the headless way in, through the same Dagster assets and the same instance"


def _command(parser: argparse.ArgumentParser, target: str) -> None:
    """Run `module:function` of `ocr_assets.cli` for this subcommand."""
    parser.set_defaults(command_target=target)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocr-assets", description=f"ocr-assets: {DESCRIPTION}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="OCR every folder that needs it, then the corpus")
    add_scans_flag(run)
    add_data_flag(run)
    run.add_argument("--workers", type=int, help="OCR processes (default: one per core)")
    _command(run, "commands:cmd_run")

    status = commands.add_parser("status", help="pages, done, failed, pending per folder")
    add_data_flag(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _command(status, "reading:cmd_status")

    retry = commands.add_parser(
        "retry-failed", help="run exactly the partitions whose last run failed or that have "
                             "failed pages (plain retries, then the retry pass), then the corpus")
    add_scans_flag(retry)
    add_data_flag(retry)
    retry.add_argument("--workers", type=int, help="OCR processes (default: cores / OCR pool "
                                                   "limit)")
    retry.add_argument("--dry-run", action="store_true",
                       help="list the partitions and why, launch nothing")
    _command(retry, "commands:cmd_retry_failed")

    forget = commands.add_parser(
        "forget", help="delete the partitions of removed folders with their outputs, reports "
                       "and manifest rows, then rebuild the corpus without them")
    forget.add_argument("folders", nargs="+", metavar="FOLDER",
                        help="partition key or folder name")
    add_scans_flag(forget)
    add_data_flag(forget)
    forget.add_argument("--keep-scans", action="store_true",
                        help="forget a folder that is still in the scans root (the sensor "
                             "will register it again: stop it first)")
    forget.add_argument("--no-corpus", action="store_true",
                        help="do not rebuild the corpus now (its next build drops the pages)")
    _command(forget, "commands:cmd_forget")

    search = commands.add_parser("search", help="full-text search in the corpus: folder, page "
                                                "and a snippet per matching page")
    search.add_argument("query", help='words, "an exact phrase", prefix*, AND/OR/NOT (FTS5)')
    add_data_flag(search)
    search.add_argument("--limit", type=int, default=20, help="at most this many pages (20)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    _command(search, "reading:cmd_search")
    return parser


def _resolve(target: str) -> Callable[[argparse.Namespace], int]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"ocr_assets.cli.{module}"), function)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _resolve(args.command_target)(args)
    except Refused as exc:
        print(exc, file=sys.stderr)
        return exc.code
    except (ManifestOpenError, InstanceOpenError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_RUN_FAILED


def console_main() -> NoReturn:
    """The `ocr-assets` command (and `python -m ocr_assets.cli`): `main`, in a process started
    with the allocators' environment (`orchestration/allocators.py`), which Arrow reads only when
    a process starts; the command is executed again with it, once, before anything is loaded."""
    environment = with_allocators(os.environ)
    if environment != dict(os.environ):
        os.execve(sys.executable, [sys.executable, "-m", "ocr_assets.cli", *sys.argv[1:]],
                  environment)
    sys.exit(main())
