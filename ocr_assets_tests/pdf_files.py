"""PDFs made by the tests: real ones from the fixture pages (img2pdf, as a scanner's software
would make them), and hostile ones written object by object, so no binary is committed."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import img2pdf
import pikepdf

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
LETTER = b"[0 0 612 792]"
"""A US Letter page's media box, in points."""


def pdf_of_pages(pages: Iterable[Path]) -> bytes:
    """A PDF with one page per image, each page the size of its image at the image's own dpi
    (img2pdf embeds the scan as it is, like a scanner's PDF export)."""
    return img2pdf.convert([str(page) for page in pages])


def hand_made_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of `objects` (numbered from 1, the first the catalog) with a correct cross-reference
    table and trailer."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def blank_pages_pdf(pages: int, media_box: bytes = LETTER, count: int | None = None) -> bytes:
    """`pages` blank pages; `count` is the page tree's /Count when it should lie."""
    kids = b" ".join(b"%d 0 R" % (number + 3) for number in range(pages))
    tree = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if count is None else count)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox %s >>" % media_box
    return hand_made_pdf([CATALOG, tree, *[page] * pages])


def javascript_pdf() -> bytes:
    """One page with text, and JavaScript run when the document opens (PDFium, built without
    V8, never runs it)."""
    content = b"BT /F1 24 Tf 72 700 Td (Scripts are never run) Tj ET"
    return hand_made_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /Names << /JavaScript << /Names "
        b"[(init) 5 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> /AA << /O 5 0 R >> >>",
        stream(b"", content),
        b"<< /S /JavaScript /JS (while (true) { app.alert('boom'); }) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def zeros_deflated(size: int) -> bytes:
    """`size` zero bytes, deflated (about 1000:1), without holding them in memory."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.compress(bytes(size % (1 << 20))) + compressor.flush()


def image_bomb_pdf(side: int) -> bytes:
    """A Letter page holding a side x side greyscale image (all of it deflated zeros: tiny on
    disk) drawn into one point square: PDFium would decode every pixel to draw it."""
    content = b"q 1 0 0 1 100 100 cm /Im1 Do Q"
    image = stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace "
                   b"/DeviceGray /BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
                   zeros_deflated(side * side))
    return hand_made_pdf([
        CATALOG,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        stream(b"", content),
        image,
    ])


def content_bomb_pdf(size: int) -> bytes:
    """One page whose content stream is `size` deflated zero bytes (PDF whitespace): PDFium
    inflates all of it when it loads the page, and has no limit of its own."""
    return hand_made_pdf([
        CATALOG,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        stream(b"/Filter /FlateDecode", zeros_deflated(size)),
    ])


def with_text_layer(pdf: Path, text: str) -> None:
    """Give every page of `pdf` an invisible text layer reading `text` (rendering mode 3, as
    OCRmyPDF and scanners write theirs), in place."""
    with pikepdf.open(pdf, allow_overwriting_input=True) as document:
        font = document.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
        for page in document.pages:
            if pikepdf.Name.Resources not in page.obj:
                page.obj.Resources = pikepdf.Dictionary()
            if pikepdf.Name.Font not in page.obj.Resources:
                page.obj.Resources.Font = pikepdf.Dictionary()
            page.obj.Resources.Font.FText = font
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            page.contents_add(pikepdf.Stream(
                document, f"BT 3 Tr /FText 10 Tf 10 10 Td ({escaped}) Tj ET".encode("latin-1")))
        document.save(pdf)


def encrypted(pdf: bytes, target: Path, password: str) -> None:
    """`pdf` written to `target`, encrypted (AES-256) with `password` to open it."""
    source = target.with_name(target.name + ".plain")
    source.write_bytes(pdf)
    with pikepdf.open(source) as document:
        document.save(target, encryption=pikepdf.Encryption(user=password, owner=password + "!"))
    source.unlink()
