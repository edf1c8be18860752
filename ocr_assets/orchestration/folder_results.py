"""What one folder's run records in Dagster: the metadata of its assets (`page_texts`,
`failed_pages`, `page_accuracy`, `searchable_pdf`: made where the folder asks for it) and the
results of their checks, from the engine's report and the manifest after the run, with the
folder's reports (and searchable PDF) written on the way.

The checks recompute from the folder, the files and the manifest; they never trust the numbers
the run reported, so a tampered or stale manifest makes them fail. Each check is declared once
(`CHECKS`), where its asset, severity and description live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from ocr_assets.engine.folder.accuracy import (
    NORMALISATION,
    FolderAccuracy,
    accuracy_frame,
    evaluate_folder,
)
from ocr_assets.engine.folder.invariants import FailureRatio, check_counts
from ocr_assets.engine.folder.reports import (
    failed_pages_frame,
    write_failed_pages_report,
    write_frame_report,
)
from ocr_assets.engine.folder.retry import load_record
from ocr_assets.engine.folder.run import FolderRun
from ocr_assets.engine.folder.searchable_pdf import (
    MIN_PAGE_WORD_MATCH,
    FolderPdf,
    FolderPdfError,
    build_folder_pdf,
    verify_folder_pdf,
)
from ocr_assets.engine.manifest import DONE, FAILED, PageRecord
from ocr_assets.engine.project import ScanFolder
from ocr_assets.orchestration.metadata import (
    TABLE_ROWS,
    failures_table,
    flagged_table,
    folder_metadata,
    markdown_table,
)
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.run_state import (
    FAILED_PAGES,
    PAGE_ACCURACY,
    PAGE_TEXTS,
    SEARCHABLE_PDF,
)

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Check:
    asset: dg.AssetKey
    blocking: bool
    description: str

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return ERROR if self.blocking else WARN


CHECKS: dict[str, Check] = {
    "counts_invariant": Check(PAGE_TEXTS, True, "Pages on disk = done + failed, every page "
                              "terminal, every done page has its text file. Blocks the corpus "
                              "when broken."),
    "no_failed_pages": Check(PAGE_TEXTS, False, "Warns while the folder has failed pages, "
                             "naming them with their category; `retry_failed_pages_job` (or "
                             "`ocr-assets retry-failed`) reads them again."),
    "partial_pages": Check(PAGE_TEXTS, False, "Warns about pages read from only part of their "
                           "file (a truncated scan whose readable part the retry pass read), "
                           "naming them: their text is only part of the page's."),
    "empty_pages": Check(PAGE_TEXTS, False, "Warns about pages with (almost) no text, naming "
                         "them: blank pages, or scans Tesseract could not read."),
    "garbage_pages": Check(PAGE_TEXTS, False, "Warns about pages whose text looks like noise "
                           "(low confidence, few plausible words, few letters), naming them."),
    "duplicate_pages": Check(PAGE_TEXTS, False, "Warns about pages that are the same scan "
                             "(the same file bytes) as another page, in this folder or another, "
                             "naming both; a page that took the other's text instead of an OCR "
                             "says so (`reused_from`)."),
    "failure_share": Check(FAILED_PAGES, True, "At most `max_failed_share` of the folder's "
                           "pages failed; above it the folder has a cause to fix and stays out "
                           "of the corpus."),
    "cer_within_limit": Check(PAGE_ACCURACY, False, "Warns when the folder's character error "
                              "rate against its ground truth is above OCR_ASSETS_MAX_CER, naming "
                              "the worst pages."),
    "searchable_pdf_complete": Check(SEARCHABLE_PDF, True, "The folder's searchable PDF, read "
                                     "back as a reader would (PDFium), has one page per done "
                                     "page and each page's text layer extracts to its text "
                                     "(failed pages are left out, and named)."),
}
FLAGS = ("partial", "empty", "garbage")
"""The page flags a check of its own names (`<flag>_pages`)."""


def check_specs() -> list[dg.AssetCheckSpec]:
    """The checks as the folder step declares them: partitioned by folder like their assets,
    so the UI shows each folder's result (a check's Partitions tab) and not only the latest
    of any folder."""
    return [dg.AssetCheckSpec(name, asset=check.asset, blocking=check.blocking,
                              description=check.description, partitions_def=scan_folders)
            for name, check in CHECKS.items()]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str | None = None
    metadata: dict[str, dg.MetadataValue] = field(default_factory=dict)

    @property
    def check(self) -> Check:
        return CHECKS[self.name]

    def result(self) -> dg.AssetCheckResult:
        """As a step of one partition yields it."""
        return dg.AssetCheckResult(asset_key=self.check.asset, check_name=self.name,
                                   passed=self.passed, severity=self.check.severity,
                                   description=self.description, metadata=self.metadata)

    def evaluation(self, partition: str,
                   target: AssetCheckEvaluationTargetMaterializationData | None = None,
                   ) -> dg.AssetCheckEvaluation:
        """As a step over several partitions records it for one of them, about the `target`
        materialization of its asset."""
        return dg.AssetCheckEvaluation(asset_key=self.check.asset, check_name=self.name,
                                       passed=self.passed, severity=self.check.severity,
                                       description=self.description, metadata=self.metadata,
                                       blocking=self.check.blocking, partition=partition,
                                       target_materialization_data=target)


@dataclass
class FolderResults:
    """One folder's run, as Dagster records it."""

    key: str
    metadata: dict[dg.AssetKey, dict[str, dg.MetadataValue]]
    checks: list[CheckOutcome]

    def blocking_failures(self) -> list[str]:
        return [c.name for c in self.checks if c.check.blocking and not c.passed]


def folder_results(run: FolderRun) -> FolderResults:
    """The folder's metadata and check results, its failed-pages and accuracy reports written."""
    folder, report = run.folder, run.report
    rows = folder.manifest.pages(folder.key)
    texts = folder_metadata(report)
    texts["path"] = dg.MetadataValue.path(folder.outputs.uri(""))
    accuracy = evaluate_folder(folder)
    metadata = {PAGE_TEXTS: texts, FAILED_PAGES: _failed_pages_report(run, rows),
                PAGE_ACCURACY: _accuracy_report(run, accuracy)}
    # The report is written: ground truth that differs from what it read gets the folder a
    # run (`planning`, "ground truth changed").
    folder.manifest.store_ground_truth(folder.key, accuracy.ground_truth)
    checks = check_outcomes(folder, accuracy)
    if folder.settings().searchable_pdf:
        metadata[SEARCHABLE_PDF], pdf_check = _searchable_pdf(folder)
        checks.append(pdf_check)
    else:
        # Recorded all the same, saying none was made: a folder job's run that planned it and
        # left it unrecorded would leave every folder "missing" in the job's partition picker,
        # and "Failed and missing" would pick every folder (docs/searchable-pdf.md).
        metadata[SEARCHABLE_PDF] = {
            "made": dg.MetadataValue.bool(False),
            "why": dg.MetadataValue.text("not asked for: OCR_ASSETS_SEARCHABLE_PDF=1, or "
                                         "searchable_pdf = true in the folder's folder.toml")}
    return FolderResults(folder.key, metadata, checks)


def _searchable_pdf(folder: ScanFolder) -> tuple[dict[str, dg.MetadataValue], CheckOutcome]:
    """Build the folder's PDF (unless it already holds its done pages) and verify it."""
    try:
        built: FolderPdf | None = build_folder_pdf(folder, pdfa=folder.project.config.pdfa)
    except FolderPdfError as exc:
        built = None
        error = str(exc)
    if built is None:
        return ({"error": dg.MetadataValue.text(error)},
                CheckOutcome("searchable_pdf_complete", False, error))
    metadata: dict[str, dg.MetadataValue] = {
        "made": dg.MetadataValue.bool(True),
        "path": dg.MetadataValue.path(built.uri),
        "pages": dg.MetadataValue.int(built.pages),
        "bytes": dg.MetadataValue.int(built.bytes),
        "pdfa": dg.MetadataValue.bool(built.pdfa),
        "rebuilt": dg.MetadataValue.bool(built.rebuilt),
        "left_out": dg.MetadataValue.json(list(built.left_out)),
    }
    return metadata, _pdf_check(folder)


def _pdf_check(folder: ScanFolder) -> CheckOutcome:
    found = verify_folder_pdf(folder)
    metadata: dict[str, dg.MetadataValue] = {
        "pages_in_pdf": dg.MetadataValue.int(found.pages_in_pdf),
        "done_pages": dg.MetadataValue.int(found.done_pages),
        "word_match": dg.MetadataValue.float(round(found.word_match, 4)),
        "failed_pages_left_out": dg.MetadataValue.json(found.failed_pages[:TABLE_ROWS]),
        "pages_not_word_for_word": dg.MetadataValue.json(found.mismatched[:TABLE_ROWS]),
    }
    problems = ([found.problem] if found.problem else []) + (
        [f"{found.pages_in_pdf} pages in the PDF, {found.done_pages} done pages; run the "
         "folder again to rebuild it"] if found.pages_in_pdf != found.done_pages else []) + (
        [f"{len(found.broken)} pages whose text layer extracts less than "
         f"{MIN_PAGE_WORD_MATCH:.0%} of their text: " + ", ".join(found.broken[:10])]
        if found.broken else [])
    notes = [f"{len(found.failed_pages)} failed pages are not in it: "
             + ", ".join(found.failed_pages[:10])] if found.failed_pages else []
    return CheckOutcome("searchable_pdf_complete", found.passed,
                        "; ".join(problems + notes) or None, metadata)


def check_outcomes(folder: ScanFolder,
                   accuracy: FolderAccuracy | None = None) -> list[CheckOutcome]:
    """Every check of the folder as it stands now (`accuracy`: its evaluation, when the caller
    has it), against the project's limits."""
    rows = folder.manifest.pages(folder.key)
    config = folder.project.config
    return [_counts_invariant(folder), _no_failed_pages(rows),
            *(_flag_check(rows, flag) for flag in FLAGS), _duplicate_pages(folder, rows),
            _failure_share(rows, config.max_failed_share),
            _cer_within_limit(accuracy or evaluate_folder(folder), config.max_cer)]


def _failed_pages_report(run: FolderRun,
                         rows: dict[str, PageRecord]) -> dict[str, dg.MetadataValue]:
    folder = run.folder
    frame = failed_pages_frame(folder.manifest, folder.key, load_record(folder.reports))
    csv_path, _ = write_failed_pages_report(frame, folder.reports)
    failures = sorted((r for r in rows.values() if r.status == FAILED), key=lambda r: r.page_id)
    still = frame[frame["status"] == FAILED]
    return {
        "failed": dg.MetadataValue.int(len(failures)),
        "recovered": dg.MetadataValue.int(int((frame["retry_outcome"] == "recovered").sum())),
        "by_category": dg.MetadataValue.json(
            still["category"].value_counts().to_dict() if len(still) else {}),
        "by_retry_outcome": dg.MetadataValue.json(
            frame["retry_outcome"].value_counts().to_dict() if len(frame) else {}),
        "report": dg.MetadataValue.path(str(csv_path)),
        "pages": dg.MetadataValue.md(failures_table(failures) if failures
                                     else "No failed pages."),
    }


def _accuracy_report(run: FolderRun, accuracy: FolderAccuracy) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "pages_evaluated": dg.MetadataValue.int(len(accuracy.pages)),
        "pages_without_ground_truth": dg.MetadataValue.int(accuracy.without_ground_truth),
        "normalisation": dg.MetadataValue.text(NORMALISATION),
    }
    if not accuracy.pages:
        return metadata
    csv_uri, _ = write_frame_report(accuracy_frame(accuracy), run.folder.reports, "accuracy")
    worst = sorted(accuracy.pages, key=lambda p: p.cer, reverse=True)
    metadata.update({
        "cer": dg.MetadataValue.float(round(accuracy.cer or 0.0, 6)),
        "wer": dg.MetadataValue.float(round(accuracy.wer or 0.0, 6)),
        "report": dg.MetadataValue.path(csv_uri),
        "pages": dg.MetadataValue.md(markdown_table(
            ("page", "CER", "WER", "reference chars"),
            ((p.page, f"{p.cer:.2%}", f"{p.wer:.2%}", p.reference_chars) for p in worst))),
    })
    return metadata


def _counts_invariant(folder: ScanFolder) -> CheckOutcome:
    result = check_counts(folder)
    problems = result.problems()
    metadata: dict[str, dg.MetadataValue] = {
        "pages_on_disk": dg.MetadataValue.int(result.pages_on_disk),
        "done": dg.MetadataValue.int(result.done),
        "failed": dg.MetadataValue.int(result.failed),
    }
    if problems:
        metadata["problems"] = dg.MetadataValue.md(markdown_table(
            ("what", "pages"), ((what, ", ".join(pages[:20])) for what, pages in problems.items())))
    return CheckOutcome("counts_invariant", result.passed,
                        None if result.passed else
                        "; ".join(f"{len(p)} {what}" for what, p in problems.items()), metadata)


def _no_failed_pages(rows: dict[str, PageRecord]) -> CheckOutcome:
    failed = sorted((r for r in rows.values() if r.status == FAILED), key=lambda r: r.page_id)
    metadata: dict[str, dg.MetadataValue] = {
        "failed": dg.MetadataValue.int(len(failed)),
        "pages": dg.MetadataValue.json([{"page": r.page_id, "category": r.error_category}
                                        for r in failed[:TABLE_ROWS]]),
    }
    if failed:
        metadata["table"] = dg.MetadataValue.md(failures_table(failed))
    return CheckOutcome("no_failed_pages", not failed,
                        (f"{len(failed)} failed pages: "
                         + ", ".join(f"{r.page_id} ({r.error_category})" for r in failed[:10])
                         + "; rerun them with retry_failed_pages_job") if failed else None,
                        metadata)


def _flag_check(rows: dict[str, PageRecord], flag: str) -> CheckOutcome:
    flagged = sorted((r for r in rows.values()
                      if r.status == DONE and flag in r.flags.split(",")),
                     key=lambda r: r.page_id)
    metadata: dict[str, dg.MetadataValue] = {
        "flagged": dg.MetadataValue.int(len(flagged)),
        "pages": dg.MetadataValue.json([{"page": r.page_id, "reason": r.flag_reasons()[flag]}
                                        for r in flagged]),
    }
    if flagged:
        metadata["table"] = dg.MetadataValue.md(flagged_table(flagged))
    return CheckOutcome(f"{flag}_pages", not flagged,
                        (f"{len(flagged)} {flag} pages: "
                         + ", ".join(r.page_id for r in flagged[:10])) if flagged else None,
                        metadata)


def _duplicate_pages(folder: ScanFolder, rows: dict[str, PageRecord]) -> CheckOutcome:
    """The folder's pages whose scan is also another page, each with the other pages."""
    duplicates = folder.manifest.duplicates(folder.key)
    names = {key: record.folder_name if (record := folder.manifest.folder(key)) else key
             for key in {partition for pages in duplicates.values() for partition, _ in pages}}
    found = []
    for pages in duplicates.values():
        for partition, page_id in pages:
            if partition != folder.key:
                continue
            row = rows.get(page_id)
            found.append({
                "page": page_id,
                "same_as": [f"{names[other]}/{other_page}"
                            for other, other_page in pages if (other, other_page) != (
                                partition, page_id)],
                "reused_from": row.reused_from if row else None})
    metadata: dict[str, dg.MetadataValue] = {
        "duplicates": dg.MetadataValue.int(len(found)),
        "pages": dg.MetadataValue.json(found[:TABLE_ROWS]),
    }
    if found:
        metadata["table"] = dg.MetadataValue.md(markdown_table(
            ("page", "same scan as", "text taken from"),
            ((d["page"], ", ".join(d["same_as"][:5]), d["reused_from"] or "its own OCR")
             for d in found[:TABLE_ROWS])))
    return CheckOutcome("duplicate_pages", not found,
                        (f"{len(found)} pages are scans found elsewhere too: "
                         + "; ".join(f"{d['page']} = {', '.join(d['same_as'][:3])}"
                                     for d in found[:10])) if found else None,
                        metadata)


def _failure_share(rows: dict[str, PageRecord], max_failed_share: float) -> CheckOutcome:
    ratio = FailureRatio(len(rows), sum(r.status == FAILED for r in rows.values()),
                         max_failed_share)
    return CheckOutcome("failure_share", ratio.passed, ratio.describe(), {
        "pages": dg.MetadataValue.int(ratio.pages),
        "failed": dg.MetadataValue.int(ratio.failed),
        "failed_share": dg.MetadataValue.float(round(ratio.share, 4)),
        "max_failed_share": dg.MetadataValue.float(ratio.max_failed_share),
    })


def _cer_within_limit(accuracy: FolderAccuracy, max_cer: float) -> CheckOutcome:
    if accuracy.cer is None:
        return CheckOutcome("cer_within_limit", True, "no page has ground truth",
                            {"pages_evaluated": dg.MetadataValue.int(0)})
    over = sorted((p for p in accuracy.pages if p.cer > max_cer),
                  key=lambda p: p.cer, reverse=True)
    passed = accuracy.cer <= max_cer
    return CheckOutcome(
        "cer_within_limit", passed,
        None if passed else (f"CER {accuracy.cer:.2%} > limit {max_cer:.2%}; worst pages: "
                             + ", ".join(f"{p.page} ({p.cer:.1%})" for p in over[:10])),
        {"cer": dg.MetadataValue.float(round(accuracy.cer, 6)),
         "limit": dg.MetadataValue.float(max_cer),
         "pages_evaluated": dg.MetadataValue.int(len(accuracy.pages)),
         "pages_over_limit": dg.MetadataValue.json(
             [{"page": p.page, "cer": round(p.cer, 4)} for p in over[:50]])})
