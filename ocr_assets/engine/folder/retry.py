"""The retry pass: only the failed pages of one folder, again, with other settings.

A plain re-run repeats the same settings, so it only helps with transient failures. The retry
pass tries, per failure category, an ordered list of strategies (each a few settings changed)
until one reads the page: re-decoding with Pillow, accepting the readable part of a truncated
file, downscaling, another Tesseract page segmentation mode. A recovered page becomes `done`
with its text and facts (the facts name the settings that worked); a page that still fails
keeps its row `failed`, with the last strategy's category and message.

What the pass did to each page is kept in `retry_pass.json` beside the failed-pages report: a
page is not tried again with the same strategies on the same input and recipe (the folder's
language, psm, ...: a page that fails again once the recipe changed is tried again), and the
report can say
which pages were recovered, by which strategy, and why the others still fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ocr_assets.engine.errors import FailureCategory
from ocr_assets.engine.folder.batch import POOL_GRACE_S, pool_failure
from ocr_assets.engine.folder.discovery import Page, discover_pages
from ocr_assets.engine.folder.pool import keep_in_flight, worker_pool
from ocr_assets.engine.manifest import DONE, FAILED, Manifest, PageOutcome, PageRecord
from ocr_assets.engine.manifest.leases import run_owner
from ocr_assets.engine.naming import output_name_for
from ocr_assets.engine.page.decode import MAY_BE_TRUNCATED
from ocr_assets.engine.page.engines.registry import check_settings_ready
from ocr_assets.engine.page.worker import PageTask, all_output_keys, ocr_page
from ocr_assets.engine.settings import DEFAULT_MIN_CONFIDENCE, OcrSettings
from ocr_assets.engine.store.outputs import OutputStore, read_json, write_json

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder

RECORD_NAME = "retry_pass.json"
RECOVERED, STILL_FAILING, NOT_RETRIED = "recovered", "still_failing", "not_retried"
DOWNSCALED_SIDE_PX = 3500
"""About an A4 page at 300 dpi: plenty for Tesseract, a fraction of a huge plate's pixels."""


@dataclass(frozen=True)
class Strategy:
    """One way to read a page differently: settings that replace the run's own."""

    name: str
    overrides: tuple[tuple[str, object], ...]
    why: str
    needs_text: bool = False
    """A page this strategy reads without any text is not recovered (a truncated file's
    readable part can be just its blank top)."""
    needs_truncated_file: bool = False
    """Only for a page whose failure says its file may be truncated (it opened, then failed to
    decode) and which has bytes: an empty file or one that is not an image has no readable
    part, and trying would only bury its own message under the strategy's."""

    def settings(self, base: OcrSettings) -> OcrSettings:
        return replace(base, **dict(self.overrides))


REDECODE = Strategy("redecode", (("decode", "pillow"),),
                    "Pillow decodes the page and hands Tesseract a plain PNG")
REDECODE_TRUNCATED = Strategy("redecode_truncated", (("decode", "pillow_truncated"),),
                              "the readable part of a truncated file is decoded (the rest is "
                              "grey): its text covers only that part", needs_text=True,
                              needs_truncated_file=True)
DOWNSCALE = Strategy("downscale", (("decode", "pillow"), ("max_side_px", DOWNSCALED_SIDE_PX)),
                     f"the page is downscaled to at most {DOWNSCALED_SIDE_PX} px on its long side")
SINGLE_BLOCK = Strategy("psm_6", (("psm", 6),),
                        "Tesseract reads the page as one uniform block of text, without "
                        "layout analysis")
SPARSE_TEXT = Strategy("psm_11", (("psm", 11),),
                       "Tesseract looks for as much sparse text as it can, in no order")
ROTATE_BY_OSD = Strategy("rotate_osd", (("auto_rotate", True), ("rotate_every_page", True),
                                        ("rotate_min_confidence", DEFAULT_MIN_CONFIDENCE / 2)),
                         "Tesseract's orientation detection turns the page upright, trusting "
                         "it at half the usual confidence")
DOWNSCALE_SINGLE_BLOCK = Strategy("downscale+psm_6", DOWNSCALE.overrides + SINGLE_BLOCK.overrides,
                                  "both: a smaller page, read as one block (the fastest read)")

STRATEGIES: dict[str, tuple[Strategy, ...]] = {
    FailureCategory.EMPTY_OUTPUT_FROM_UNREADABLE_IMAGE: (REDECODE,),
    FailureCategory.UNREADABLE_IMAGE: (REDECODE_TRUNCATED,),
    FailureCategory.TIMEOUT: (DOWNSCALE, DOWNSCALE_SINGLE_BLOCK),
    FailureCategory.ENGINE_ERROR: (REDECODE, ROTATE_BY_OSD, SINGLE_BLOCK, SPARSE_TEXT),
    FailureCategory.WORKER_CRASHED: (DOWNSCALE, SINGLE_BLOCK),
    FailureCategory.OUT_OF_MEMORY: (DOWNSCALE,),
    FailureCategory.IO_ERROR: (REDECODE,),
}
"""Failure category -> strategies, tried in this order until one reads the page."""

NOT_RETRIED_BECAUSE: dict[str, str] = {
    FailureCategory.TOO_LARGE: "refused before decoding to protect memory; raise max_megapixels "
                               "(OCR_ASSETS_MAX_MEGAPIXELS) if the scan is real, or downscale "
                               "the scan, and a plain run redoes it",
    FailureCategory.MISSING_LANGUAGE: "the language's traineddata is missing; install it, and a "
                                      "plain run redoes the page",
    FailureCategory.UNREADABLE_DOCUMENT: "the PDF reads the same with any setting (broken, "
                                         "encrypted or without pages); replace the file, and a "
                                         "plain run reads it",
}


NOT_AN_IMAGE_BECAUSE = ("Pillow cannot open the file (empty, or not an image): no setting reads "
                        "it; replace it with the page's scan, and a plain run reads it")
"""Why an `unreadable_image` page that is not a truncated file is not retried."""


def may_be_truncated(row: PageRecord) -> bool:
    """Whether the page's file has bytes and its failure says it may be truncated."""
    return bool(row.size) and MAY_BE_TRUNCATED in (row.error_message or "")


def strategies_for(row: PageRecord) -> tuple[Strategy, ...]:
    """The strategies that may read the failed page, in order; none when no setting can."""
    return tuple(s for s in STRATEGIES.get(row.error_category or "", ())
                 if not s.needs_truncated_file or may_be_truncated(row))


def why_not_retried(row: PageRecord) -> str:
    """Why no strategy applies to the failed page, for the report."""
    if row.error_category in NOT_RETRIED_BECAUSE:
        return NOT_RETRIED_BECAUSE[row.error_category]
    if row.error_category == FailureCategory.UNREADABLE_IMAGE:
        return NOT_AN_IMAGE_BECAUSE
    return f"no retry strategy for '{row.error_category}'"


@dataclass
class PageRetry:
    """What the retry pass did to one page, as kept in `retry_pass.json`."""

    input: str
    """`size:mtime_ns` of the scan the pass worked on: a changed scan is a new input."""
    first_category: str | None
    first_message: str | None
    strategies: list[str]
    outcome: str
    recovered_by: str | None = None
    category: str | None = None
    message: str | None = None
    tried: list[dict[str, str | None]] = field(default_factory=list)
    at: str = ""
    recipe: str | None = None
    """`OcrSettings.recipe_key` of the folder's settings the pass worked with; None in a record
    written before recipes were kept (taken as the page's own)."""


@dataclass
class RetryPassReport:
    partition_key: str
    tried: int = 0
    recovered: int = 0
    still_failing: int = 0
    already_tried: int = 0
    """Failed pages left alone: the same strategies already failed on the same input."""
    not_retried: dict[str, str] = field(default_factory=dict)
    """page id -> why no strategy applies."""
    elapsed_s: float = 0.0


def input_id(row: PageRecord) -> str:
    return f"{row.size}:{row.mtime_ns}"


def entry_applies(entry: PageRetry, row: PageRecord) -> bool:
    """Whether what the pass did (`entry`) is about the page as its row now stands: the same
    input, read with the same recipe (an entry or a row from before recipes were kept matches
    any)."""
    return entry.input == input_id(row) and (
        entry.recipe is None or row.recipe is None or entry.recipe == row.recipe)


def load_record(reports: OutputStore) -> dict[str, PageRetry]:
    """The pass's record of a folder, from its report store; empty when there is none yet."""
    try:
        document = read_json(reports, RECORD_NAME)
        return {page_id: PageRetry(**entry) for page_id, entry in document["pages"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"cannot read the retry-pass record {reports.uri(RECORD_NAME)}: {exc};"
                           " delete it to start the record afresh (its pages are then retried "
                           "once more)") from exc


def save_record(reports: OutputStore, record: dict[str, PageRetry]) -> str:
    write_json(reports, RECORD_NAME,
               {"pages": {k: asdict(v) for k, v in sorted(record.items())}})
    return reports.uri(RECORD_NAME)


@dataclass(frozen=True)
class RetryAttempt:
    outcome: PageOutcome
    tried: tuple[tuple[str, str, str | None, str | None], ...]
    """(strategy, status, category, message) per strategy tried, in order."""


def retry_page(task: PageTask, strategies: tuple[Strategy, ...]) -> RetryAttempt:
    """Run in a pool worker: each strategy in turn until one reads the page."""
    tried: list[tuple[str, str, str | None, str | None]] = []
    outcome: PageOutcome | None = None
    for strategy in strategies:
        outcome = ocr_page(replace(task, settings=strategy.settings(task.settings)))
        # The page belongs to the folder's recipe, not the strategy's: a recovered page is
        # done for the recipe in force, and a plain run does not read it again.
        outcome = replace(outcome, recipe=task.settings.recipe_key())
        if outcome.status == DONE and strategy.needs_text and not outcome.words:
            for key in all_output_keys(task.output_name):
                task.outputs.delete(key)
            outcome = replace(outcome, status=FAILED, output_name=None, mean_confidence=None,
                              words=None, chars=None, garbage_score=None, flags="",
                              flag_reason="", error_category=str(FailureCategory.UNREADABLE_IMAGE),
                              error_message=f"{Path(task.path).name}: {MAY_BE_TRUNCATED}, and "
                                            "its readable part holds no text: rescan or "
                                            "re-export it")
        tried.append((strategy.name, outcome.status, outcome.error_category,
                      outcome.error_message))
        if outcome.status == DONE:
            break
    assert outcome is not None, "retry_page needs at least one strategy"
    return RetryAttempt(outcome, tuple(tried))


def _select(rows: dict[str, PageRecord], record: dict[str, PageRetry],
            report: RetryPassReport, again: bool) -> dict[str, tuple[Strategy, ...]]:
    """Failed pages that a strategy applies to and that were not tried with it on this input
    (or were, when `again`)."""
    todo: dict[str, tuple[Strategy, ...]] = {}
    for page_id, row in sorted(rows.items()):
        if row.status != FAILED:
            continue
        strategies = strategies_for(row)
        if not strategies:
            report.not_retried[page_id] = why_not_retried(row)
            continue
        previous = record.get(page_id)
        if (not again and previous is not None and entry_applies(previous, row)
                and previous.strategies == [s.name for s in strategies]):
            report.already_tried += 1
            continue
        todo[page_id] = strategies
    return todo


def retry_failed_pages(folder: ScanFolder, *, settings: OcrSettings | None = None,
                       again: bool = False,
                       on_page: Callable[[str, PageRetry], None] | None = None
                       ) -> RetryPassReport:
    """Retry the failed pages of one folder with other settings, and record the outcome.

    Only pages whose row is `failed` are touched; each attempt is claimed under a lease and
    counted in the row's attempts, like any other attempt. `settings` are the run's (the
    project's by default); the folder's `folder.toml` applies, as in the main pass. What was
    tried is kept beside the folder's reports, and not tried again on the same input and
    recipe unless `again` (an operator asked for it)."""
    started = time.perf_counter()
    manifest, partition_key = folder.manifest, folder.key
    settings = folder.settings(settings)
    report = RetryPassReport(partition_key)
    rows = manifest.pages(partition_key)
    record = {k: v for k, v in load_record(folder.reports).items() if k in rows}
    todo = _select(rows, record, report, again)
    pages = {p.page_id: p for p in discover_pages(folder.path,
                                                  root=folder.project.scans_root,
                                                  max_pdf_pages=settings.max_pdf_pages).pages
             if p.page_id in todo}
    if pages:
        rotates = {s.settings(settings).auto_rotate for ss in todo.values() for s in ss}
        check_settings_ready(settings, orientation=True in rotates)
        _run_retries(pages, todo, rows, folder, settings, record, report, on_page)
    save_record(folder.reports, record)
    report.elapsed_s = time.perf_counter() - started
    return report


def _run_retries(pages: dict[str, Page], todo: dict[str, tuple[Strategy, ...]],
                 rows: dict[str, PageRecord], folder: ScanFolder, settings: OcrSettings,
                 record: dict[str, PageRetry], report: RetryPassReport,
                 on_page: Callable[[str, PageRetry], None] | None) -> None:
    """Like the main pass: at most two pages per worker in flight, each claimed only when it is
    submitted, so a page waiting its turn never outlives its lease."""
    manifest, partition_key, outputs = folder.manifest, folder.key, folder.outputs
    owner = run_owner()
    per_strategy_s = settings.page_timeout_s + POOL_GRACE_S
    queue = iter(pages.items())
    with worker_pool(settings.workers, settings.recycle_after,
                     settings.worker_memory_mb) as pool:

        def submit() -> tuple[Future[RetryAttempt], tuple[PageTask, tuple[Strategy, ...]]] | None:
            for page_id, page in queue:
                strategies = todo[page_id]
                if not manifest.claim(partition_key, page_id, owner,
                                      lease_s=2 * per_strategy_s * len(strategies)):
                    continue
                task = PageTask(partition_key, folder.name, page_id, str(page.path), page.frame,
                                page.size, page.mtime_ns, outputs, output_name_for(page_id),
                                settings)
                return pool.schedule(retry_page, args=(task, strategies),
                                     timeout=per_strategy_s * len(strategies)), (task, strategies)
            return None

        def settle(item: tuple[PageTask, tuple[Strategy, ...]],
                   future: Future[RetryAttempt]) -> None:
            task, strategies = item
            try:
                attempt = future.result()
            except BaseException as exc:  # noqa: BLE001 - recorded as the page's failure
                failure = pool_failure(task, exc, settings)
                attempt = RetryAttempt(failure, (("+".join(s.name for s in strategies),
                                                  FAILED, failure.error_category,
                                                  failure.error_message),))
            entry = _record_attempt(manifest, rows[task.page_id], attempt, strategies, owner)
            if entry is None:
                return  # its lease ran out and another run took the page
            record[task.page_id] = entry
            report.tried += 1
            if entry.outcome == RECOVERED:
                report.recovered += 1
            else:
                report.still_failing += 1
            if on_page is not None:
                on_page(task.page_id, entry)

        keep_in_flight(2 * max(1, settings.workers), submit, settle)


def _record_attempt(manifest: Manifest, row: PageRecord, attempt: RetryAttempt,
                    strategies: tuple[Strategy, ...], owner: str) -> PageRetry | None:
    """Record the attempt while `owner` still holds the page's lease (as the main pass does);
    None when another run took the page meanwhile, which then records it."""
    outcome = attempt.outcome
    names = [s.name for s in strategies]
    if outcome.status != DONE:
        outcome = replace(outcome, error_message=(
            f"still failing after the retry pass ({', '.join(names)}): {outcome.error_message}"))
    if not manifest.record(row.partition_key, row.page_id, outcome, owner=owner):
        return None
    return PageRetry(
        input=f"{outcome.size}:{outcome.mtime_ns}", recipe=outcome.recipe,
        first_category=row.error_category,
        first_message=row.error_message, strategies=names,
        outcome=RECOVERED if outcome.status == DONE else STILL_FAILING,
        recovered_by=attempt.tried[-1][0] if outcome.status == DONE else None,
        category=outcome.error_category, message=outcome.error_message,
        tried=[{"strategy": s, "status": st, "category": c, "message": m}
               for s, st, c, m in attempt.tried],
        at=datetime.now(UTC).isoformat(timespec="seconds"))
