"""The commands that only read: `status` from the manifest, `search` from the corpus's index.

Neither imports Dagster nor the page machinery, so both answer at once, also while runs go on.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ocr_assets.cli.exits import EXIT_OK, EXIT_RUN_FAILED
from ocr_assets.cli.options import project_config
from ocr_assets.engine.manifest import Manifest
from ocr_assets.engine.project import Project

TOTALS = ("pages", "done", "failed", "pending")


def flagged_pages(manifest: Manifest, partition_key: str) -> list[dict[str, str]]:
    """The folder's done pages with a flag, and why: `{"page", "reason"}` once per flag, the
    reason starting with the flag (`partial: ...`, `empty: ...`, `garbage: ...`)."""
    return [{"page": row.page_id, "reason": f"{flag}: {reason}"}
            for page_id, row in sorted(manifest.pages(partition_key).items())
            if row.status == "done" for flag, reason in row.flag_reasons().items()]


def duplicate_scans(manifest: Manifest, names: dict[str, str]) -> list[dict[str, Any]]:
    """Every scan found on more than one page (in two folders, or twice in one), with those
    pages: `{"fingerprint", "pages": [{"folder", "partition", "page"}]}`. `fingerprint` is the
    page's content key: the file's SHA-256, with `#<n>` for page n of a multi-page file."""
    return [{"fingerprint": key,
             "pages": [{"folder": names.get(partition, partition), "partition": partition,
                        "page": page} for partition, page in pages]}
            for key, pages in manifest.duplicates().items()]


def folder_statuses(project: Project) -> dict[str, Any]:
    """The `status --json` document: per folder and in total, and the duplicate scans, from
    the manifest."""
    manifest = project.manifest
    counts = manifest.status_counts()
    folders: list[dict[str, Any]] = []
    totals = dict.fromkeys(TOTALS, 0)
    records = manifest.folders()
    for record in records:
        by_status = counts.get(record.partition_key, {})
        done, failed = by_status.get("done", 0), by_status.get("failed", 0)
        pending = by_status.get("pending", 0) + by_status.get("running", 0)
        row = {"folder": record.folder_name, "partition": record.partition_key,
               "done": done, "failed": failed, "pending": pending,
               "pages": done + failed + pending,
               "flagged": flagged_pages(manifest, record.partition_key)}
        folders.append(row)
        for name in TOTALS:
            totals[name] += row[name]
    names = {record.partition_key: record.folder_name for record in records}
    return {"folders": folders, "totals": totals,
            "duplicates": duplicate_scans(manifest, names)}


def cmd_status(args: argparse.Namespace) -> int:
    document = folder_statuses(Project(project_config(args)))
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
    duplicates = document["duplicates"]
    if duplicates:
        copies = sum(len(scan["pages"]) for scan in duplicates)
        print(f"{len(duplicates)} scans found on more than one page ({copies} pages): "
              "`ocr-assets status --json` lists them")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from ocr_assets.engine.corpus.search import CorpusNotBuiltError, search_corpus

    try:
        hits = search_corpus(Project(project_config(args)).corpus_store, args.query,
                             limit=args.limit)
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
