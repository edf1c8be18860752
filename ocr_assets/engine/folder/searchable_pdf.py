"""A folder's searchable PDF: the page PDFs of its done pages, merged in page order with
pikepdf into `<output root>/pdf/<partition>.pdf`, optionally PDF/A-2b; and its verification.

The merge copies each page as it is (no image is decoded or re-encoded), so it costs little
next to the OCR; it is still skipped when nothing it is made of changed: the PDF's sidecar
(`<partition>.pdf.json`) keeps the signature of its done pages (id, file fingerprint, recipe,
when the row was written) and of the PDF/A choice, and a run whose signature matches and whose
PDF is there leaves it alone. A failed page has no page PDF and is left out; the verification
names it.

The verification reads the written PDF back, as a reader would, with PDFium (`pypdfium2`): its
page count must equal the done pages, and every page's extracted words must be the page's text
words, so an empty or misplaced text layer fails it.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pikepdf
import pypdfium2 as pdfium
from natsort import natsorted, ns

from ocr_assets.engine.manifest import DONE, FAILED, PageRecord
from ocr_assets.engine.page.worker import archival_key, output_keys
from ocr_assets.engine.store.outputs import read_json, read_text, write_json

if TYPE_CHECKING:
    from ocr_assets.engine.project import ScanFolder

PDFA_FLAVOUR = "2b"
"""PDF/A-2b: what OCRmyPDF writes by default, and what archives ask for of scans."""
MIN_PAGE_WORD_MATCH = 0.9
"""A page whose extracted words hold less of its text than this has a broken text layer. Not
1.0: PDFium orders the words by its own line grouping, which puts a few words of 3 of the
shared set's 28 pages elsewhere (99.8 % of the words in order), where poppler's `pdftotext
-raw` extracts every page word for word (docs/searchable-pdf.md). A page PDF made before the
text layer kept every word apart may also lose a lone character or two."""
SOFT_HYPHEN_MARK = "\x02"
"""What PDFium puts for a hyphen at a line's end when it joins the word across the lines."""


class FolderPdfError(RuntimeError):
    """The folder's PDF could not be made; the message names the folder, the page and the fix."""


def pdf_key(folder: ScanFolder) -> str:
    return f"{folder.key}.pdf"


def _sidecar_key(folder: ScanFolder) -> str:
    return f"{folder.key}.pdf.json"


def _done_pages(folder: ScanFolder) -> list[PageRecord]:
    rows = folder.manifest.pages(folder.key, DONE)
    return [rows[page] for page in natsorted(rows, alg=ns.PATH | ns.IGNORECASE)]


def _signature(pages: list[PageRecord], pdfa: bool) -> str:
    facts = [(r.page_id, r.fingerprint, r.recipe, r.output_name, r.updated_at) for r in pages]
    canonical = json.dumps({"pages": facts, "pdfa": pdfa}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FolderPdf:
    """What the folder's PDF holds after a run, and whether this run wrote it."""

    uri: str
    pages: int
    bytes: int
    pdfa: bool
    rebuilt: bool
    left_out: tuple[str, ...] = ()
    """Failed pages, which have no page PDF."""


def build_folder_pdf(folder: ScanFolder, *, pdfa: bool = False) -> FolderPdf:
    """Merge the done pages' PDFs into the folder's PDF (atomically), unless it already holds
    exactly them; raise `FolderPdfError` when a done page has no page PDF or PDF/A fails."""
    store = folder.project.pdf_store
    pages = _done_pages(folder)
    failed = tuple(natsorted(folder.manifest.pages(folder.key, FAILED),
                             alg=ns.PATH | ns.IGNORECASE))
    signature = _signature(pages, pdfa)
    key = pdf_key(folder)
    if store.exists(key) and store.exists(_sidecar_key(folder)):
        kept = read_json(store, _sidecar_key(folder))
        if isinstance(kept, dict) and kept.get("signature") == signature:
            return FolderPdf(store.uri(key), len(pages), int(kept.get("bytes", 0)), pdfa,
                             rebuilt=False, left_out=failed)
    data = _merge(folder, pages, pdfa)
    store.write_bytes(key, data)
    write_json(store, _sidecar_key(folder), {"signature": signature, "pages": len(pages),
                                             "bytes": len(data), "pdfa": pdfa})
    return FolderPdf(store.uri(key), len(pages), len(data), pdfa, rebuilt=True,
                     left_out=failed)


def _merge(folder: ScanFolder, pages: list[PageRecord], pdfa: bool) -> bytes:
    merged = pikepdf.new()
    opened: list[pikepdf.Pdf] = []
    try:
        for row in pages:
            key = archival_key(row.output_name or row.page_id, "pdf")
            try:
                data = folder.outputs.read_bytes(key)
            except FileNotFoundError:
                raise FolderPdfError(
                    f"folder {folder.name!r}: page {row.page_id} is done but has no page PDF "
                    f"({folder.outputs.uri(key)}): it was read before searchable PDFs were on "
                    "for this folder, or the file was removed; `ocr-assets forget` the page, "
                    "or remove its text, and run the folder again") from None
            page_pdf = pikepdf.open(io.BytesIO(data))
            opened.append(page_pdf)
            merged.pages.extend(page_pdf.pages)
        merged.docinfo[pikepdf.Name.Title] = folder.name
        merged.docinfo[pikepdf.Name.Creator] = "ocr-assets"
        out = io.BytesIO()
        if pdfa:
            _save_pdfa(folder, merged, out)
        else:
            merged.save(out)
        return out.getvalue()
    finally:
        for page_pdf in opened:
            page_pdf.close()
        merged.close()


def _save_pdfa(folder: ScanFolder, merged: pikepdf.Pdf, out: io.BytesIO) -> None:
    """Save as PDF/A with pikepdf's own preparation and validation (it writes nothing that
    does not pass); a failure names the first findings."""
    from pikepdf.pdfa import PdfaError, save

    try:
        save(merged, out, PDFA_FLAVOUR)
    except PdfaError as exc:
        findings = "; ".join(str(finding) for finding in exc.report.findings[:5])
        raise FolderPdfError(f"folder {folder.name!r}: its PDF does not pass PDF/A-"
                             f"{PDFA_FLAVOUR} validation ({findings}); set OCR_ASSETS_PDFA=0 "
                             "for a plain PDF") from exc


def extracted_words(text: str) -> list[str]:
    """The words of text a reader extracted, with a hyphenated word that PDFium joined across
    a line's end split back into its two parts, as the page's text has them."""
    return text.replace(SOFT_HYPHEN_MARK, "- ").split()


@dataclass
class PdfVerification:
    """The folder's PDF against its done pages."""

    pages_in_pdf: int
    done_pages: int
    failed_pages: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    """Done pages whose extracted words are not exactly their text's."""
    broken: list[str] = field(default_factory=list)
    """Done pages whose extracted words hold less than `MIN_PAGE_WORD_MATCH` of their text."""
    words: int = 0
    words_matched: int = 0
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return (self.problem is None and self.pages_in_pdf == self.done_pages
                and not self.broken)

    @property
    def word_match(self) -> float:
        return self.words_matched / self.words if self.words else 1.0


def verify_folder_pdf(folder: ScanFolder) -> PdfVerification:
    """Read the folder's PDF back and compare it with its done pages, page by page."""
    pages = _done_pages(folder)
    failed = natsorted(folder.manifest.pages(folder.key, FAILED), alg=ns.PATH | ns.IGNORECASE)
    result = PdfVerification(0, len(pages), failed)
    store = folder.project.pdf_store
    try:
        document = pdfium.PdfDocument(store.read_bytes(pdf_key(folder)))
    except (FileNotFoundError, pdfium.PdfiumError) as exc:
        result.problem = f"the folder's PDF {store.uri(pdf_key(folder))} cannot be read: {exc}"
        return result
    try:
        result.pages_in_pdf = len(document)
        for index, row in enumerate(pages[:result.pages_in_pdf]):
            expected = read_text(folder.outputs,
                                 output_keys(row.output_name or row.page_id)[0]).split()
            text_page = document[index].get_textpage()
            found = extracted_words(text_page.get_text_bounded())
            matched = matched_words(expected, found)
            result.words += len(expected)
            result.words_matched += matched
            if found != expected:
                result.mismatched.append(row.page_id)
            if expected and matched < MIN_PAGE_WORD_MATCH * len(expected):
                result.broken.append(row.page_id)
    finally:
        document.close()
    return result


def matched_words(expected: list[str], found: list[str]) -> int:
    """How many of the expected words the extraction has, in order (longest common
    subsequence, by difflib's matcher)."""
    matcher = difflib.SequenceMatcher(None, expected, found, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())
