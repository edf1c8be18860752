"""One page of a PDF: opened with clear reasons when it cannot be, rendered as the scan it holds,
or its text layer read.

PDFium through pypdfium2, not Debian's poppler (`pdftoppm`): it comes as a pip wheel with PDFium
inside, so no worker needs a system package; it renders one page in the worker's own process,
where the page's timeout and the worker's memory limit already hold (no process per page); the
same library gives the page's image objects (the scan's own resolution, and the pixels a page
would make PDFium decode, checked before it does) and its text layer. PDFium is Chrome's PDF
engine, fuzzed continuously, and the wheels are built without V8 and XFA: a PDF's JavaScript is
never run. Rendering happens only here, in a pool worker; the orchestrating process only counts
a document's pages (`page_count`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError, too_large
from ocr_assets.engine.page.decode import PreparedImage, save_png

PDF_EXTENSION = ".pdf"
PDF_SIGNATURE = b"%PDF-"
POINTS_PER_INCH = 72.0
DEFAULT_DPI = 300.0
"""The resolution of a page without a scanned image (text and drawings only): what OCRmyPDF
and Tesseract's documentation recommend for OCR."""
IMAGE_DEPTH = 15
"""How deep into form XObjects the image objects of a page are looked for (pypdfium2's own
default): an image nested deeper is still drawn, but neither sized nor checked."""
RENDER_FLAGS = (pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_GRAYSCALE
                | pdfium_c.FPDF_RENDER_LIMITEDIMAGECACHE)
"""Annotations drawn (a stamp or a note is on the page), grey pixels, images not kept cached
after the page (a worker renders one page of many documents)."""
WHY_UNREADABLE = {
    pdfium_c.FPDF_ERR_PASSWORD: "the PDF is encrypted with a password; decrypt it (qpdf "
                                "--decrypt) or scan the pages again",
    pdfium_c.FPDF_ERR_SECURITY: "the PDF is encrypted with a security handler PDFium does not "
                                "know; decrypt it or scan the pages again",
    pdfium_c.FPDF_ERR_FORMAT: "cannot be read as a PDF (truncated, or its structure damaged "
                              "beyond repair); re-export or rescan it",
}


def is_pdf(path: Path) -> bool:
    """A PDF by its extension (believed, like any extension), or by its first bytes."""
    if path.suffix.lower() == PDF_EXTENSION:
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(len(PDF_SIGNATURE)) == PDF_SIGNATURE
    except OSError:
        return False


def open_pdf(path: Path) -> pdfium.PdfDocument:
    """The document at `path`, or `PageError` saying why it cannot be read and what to do.

    PDFium is called directly: pypdfium2 reports a document without pages with PDFium's last
    error, which is that of an earlier document in the same worker (an empty PDF after an
    encrypted one would read "incorrect password")."""
    handle = pdfium_c.FPDF_LoadDocument(os.fsencode(path), None)
    if not handle:
        code = pdfium_c.FPDF_GetLastError()
        if code == pdfium_c.FPDF_ERR_FILE:
            raise PageError(FailureCategory.IO_ERROR,
                            f"{path.name}: cannot read the file; check its permissions and "
                            "the disk")
        why = WHY_UNREADABLE.get(code, "PDFium cannot open the PDF; re-export or rescan it")
        raise PageError(FailureCategory.UNREADABLE_DOCUMENT, f"{path.name}: {why}")
    document = pdfium.PdfDocument(handle)
    if len(document) < 1:
        document.close()
        raise PageError(FailureCategory.UNREADABLE_DOCUMENT,
                        f"{path.name}: the PDF has no pages; remove it or export it again")
    return document


def page_count(path: Path) -> int | None:
    """How many pages the PDF has (its page tree's count, no page loaded), or None when it
    cannot be opened: it is then one page, whose worker says why it fails."""
    try:
        document = open_pdf(path)
    except PageError:
        return None
    with document:
        return len(document)


def _label(path: Path, frame: int | None) -> str:
    return path.name if frame is None else f"{path.name} page {frame + 1}"


@contextmanager
def pdf_page(path: Path, frame: int | None, max_pages: int) -> Iterator[pdfium.PdfPage]:
    """Page `frame` (0-based; None: the only page) of the PDF, loaded, with the document's page
    limit applied again here (the folder was listed with the same one)."""
    document = open_pdf(path)
    try:
        pages = len(document)
        if pages > max_pages:
            raise PageError(FailureCategory.TOO_LARGE,
                            f"{path.name}: {pages} pages, above the limit of {max_pages} pages "
                            "per file; raise max_pdf_pages if the document is real")
        index = frame or 0
        if index >= pages:
            raise PageError(FailureCategory.UNREADABLE_DOCUMENT,
                            f"{_label(path, frame)}: the PDF now has {pages} pages; it changed "
                            "since the folder was listed: run the folder again")
        try:
            page = document[index]
        except pdfium.PdfiumError as exc:
            raise PageError(FailureCategory.UNREADABLE_DOCUMENT,
                            f"{_label(path, frame)}: PDFium cannot load the page ({exc}); the "
                            "document is damaged there: re-export or rescan it") from exc
        try:
            yield page
        finally:
            page.close()
    finally:
        document.close()


def scan_dpi(page: pdfium.PdfPage) -> float | None:
    """The resolution of the page's scan: that of its image object drawn over the largest area
    (its pixels over the inches it covers, along its longer axis), or None without one."""
    best: tuple[float, float] | None = None
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=1):
        a, b, c, d, _, _ = image.get_matrix().get()
        width_in, height_in = math.hypot(a, b) / POINTS_PER_INCH, math.hypot(c, d) / POINTS_PER_INCH
        if width_in <= 0 or height_in <= 0:
            continue
        px_width, px_height = image.get_px_size()
        dpi = max(px_width / width_in, px_height / height_in)
        area = width_in * height_in
        if best is None or area > best[0]:
            best = (area, dpi)
    return best[1] if best else None


def _refuse_image_bombs(page: pdfium.PdfPage, label: str, max_megapixels: float) -> None:
    """Refuse a page holding an image above the megapixel limit, however small it is drawn:
    PDFium would decode all its pixels (a decompression bomb), before any is."""
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=IMAGE_DEPTH):
        width, height = image.get_px_size()
        megapixels = width * height / 1_000_000
        if megapixels > max_megapixels:
            raise too_large(label, f"holds a {width}x{height} image of {megapixels:.4g} MP",
                            max_megapixels)


def render_page(page: pdfium.PdfPage, path: Path, frame: int | None, work_dir: Path, *,
                max_megapixels: float, max_side_px: int) -> PreparedImage:
    """Render the page at its scan's resolution (300 dpi without a scan) as a greyscale PNG
    for Tesseract, refusing it first when an image it holds, or its own pixels at that
    resolution, are above the megapixel limit; a longer side than `max_side_px` is rendered
    smaller instead of resized afterwards."""
    label = _label(path, frame)
    _refuse_image_bombs(page, label, max_megapixels)
    dpi = scan_dpi(page)
    steps = [f"pdf_page_{(frame or 0) + 1}"]
    if dpi is None:
        dpi = DEFAULT_DPI
        steps.append("no_scanned_image")
    scale = dpi / POINTS_PER_INCH
    width, height = round(page.get_width() * scale), round(page.get_height() * scale)
    megapixels = width * height / 1_000_000
    if megapixels > max_megapixels:
        raise too_large(label, f"{width}x{height} at {dpi:.0f} dpi is {megapixels:.4g} MP",
                        max_megapixels)
    if width < 1 or height < 1:
        raise PageError(FailureCategory.UNREADABLE_DOCUMENT,
                        f"{label}: the page has no area ({page.get_width():g}x"
                        f"{page.get_height():g} pt); re-export or rescan it")
    steps.append(f"rendered_{dpi:.0f}dpi")
    if max(width, height) > max_side_px:
        factor = max_side_px / max(width, height)
        steps.append(f"downscale_{factor:.3f}")
        dpi = dpi * factor
        width, height = max(1, round(width * factor)), max(1, round(height * factor))
    image = _render(page, width, height)
    target = save_png(image, work_dir / "page.png", (dpi, dpi),
                      f"{label}: cannot write the rendered page")
    return PreparedImage(target, True, image.width, image.height, tuple(steps))


def pdfium_version() -> str:
    """What reads a kept text layer, for the page's facts: PDFium's build."""
    return f"pdfium {pdfium.PDFIUM_INFO}"


def _render(page: pdfium.PdfPage, width: int, height: int) -> Image.Image:
    """The page drawn into exactly width x height grey pixels on white, with its annotations.

    Drawn through PDFium's own call: pypdfium2's `render` rounds the size up from the page's
    32-bit float points, so a 480 px scan came out 481 px high."""
    bitmap = pdfium.PdfBitmap.new_native(width, height, format=pdfium_c.FPDFBitmap_Gray)
    bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
    pdfium_c.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0, RENDER_FLAGS)
    return bitmap.to_pil()


def text_layer(page: pdfium.PdfPage) -> str:
    """The page's existing text (a text layer from an earlier OCR, or born-digital text), ""
    when it has none but whitespace."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    text = text.replace("\r\n", "\n")
    return text if text.strip() else ""
