"""A page's searchable PDF: the image Tesseract read, with the words of that same pass laid over
it as invisible text, so a reader shows the scan and finds, selects and copies its words.

Why not Tesseract's own PDF renderer: it runs only where Tesseract drives the whole page (the
CLI, or tesserocr's `ProcessPages`, a second recognition), and the default engine keeps
Tesseract loaded through tesserocr. So the text layer is built here, the way OCRmyPDF's hOCR
renderer and Tesseract's `textonly_pdf` do it, from the word boxes (TSV) that every pass already
returns: no second OCR, and the same words, in the same order, as the page's text.

- The image is embedded by img2pdf: losslessly, JPEG and CCITT G4 without re-encoding, the page
  sized by the image's resolution (300 dpi where it records none, Tesseract's own assumption).
- The words are drawn in text rendering mode 3 (invisible) with a glyphless font (one empty
  glyph, half an em wide, for every character code: Tesseract's `GlyphLessFont` idea), built
  once per process with fontTools; each word is stretched (`Tz`) to its box. Character codes
  are UTF-16 and the font's ToUnicode map is the identity, so extraction gives the words back
  exactly, whatever the script (long s, ligatures, Greek).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError

ASSUMED_DPI = 300.0
"""The resolution of an image that records none (Tesseract assumes the same)."""
MIN_DPI = 10.0
"""Below this a recorded resolution is junk (a screen grab's 1 dpi), not a scan's."""
FONT_NAME = "GlyphLessFont"
FONT_RESOURCE = "/FGlyphless"
GLYPH_ADVANCE = 500
"""The one glyph's width in 1/1000 em: a character is half as wide as the type is tall."""
DESCENT_SHARE = 0.2
"""How far below a line's box the baseline sits not: the share of its height that descenders
take, so the invisible words cover the printed ones."""
TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""
"""Code -> Unicode: the identity, as the codes are the text's UTF-16 units."""


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Word:
    text: str
    box: Box


@dataclass(frozen=True)
class Line:
    box: Box
    words: tuple[Word, ...]


TSV_LINE_LEVEL = "4"
TSV_WORD_LEVEL = "5"


def tsv_lines(tsv: str) -> list[Line]:
    """The pass's lines in reading order, each with its words and their boxes (pixels of the
    image read); the words are those of the page's text (rows with a confidence and text)."""
    lines: list[Line] = []
    box: Box | None = None
    words: list[Word] = []
    for row in csv.reader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        if len(row) < 11 or row[0] not in (TSV_LINE_LEVEL, TSV_WORD_LEVEL):
            continue
        row_box = Box(*(float(value) for value in row[6:10]))
        if row[0] == TSV_LINE_LEVEL:
            if box is not None and words:
                lines.append(Line(box, tuple(words)))
            box, words = row_box, []
        elif len(row) > 11 and row[11].strip() and float(row[10]) >= 0 and box is not None:
            words.append(Word(row[11], row_box))
    if box is not None and words:
        lines.append(Line(box, tuple(words)))
    return lines


@cache
def glyphless_font() -> bytes:
    """A TrueType font with one empty glyph (and `.notdef`), `GLYPH_ADVANCE` wide."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "glyph"])
    builder.setupCharacterMap({})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({".notdef": empty, "glyph": empty})
    builder.setupHorizontalMetrics({".notdef": (GLYPH_ADVANCE, 0), "glyph": (GLYPH_ADVANCE, 0)})
    builder.setupHorizontalHeader(ascent=1000, descent=0)
    builder.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=1000, sTypoDescender=0, usWinAscent=1000, usWinDescent=0)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _font(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    """The glyphless Type 0 font: every CID drawn with glyph 1 (`CIDToGIDMap`)."""
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name(f"/{FONT_NAME}"), Flags=5,
        FontBBox=[0, 0, GLYPH_ADVANCE, 1000], ItalicAngle=0, Ascent=1000, Descent=0,
        CapHeight=1000, StemV=80, FontFile2=pikepdf.Stream(pdf, glyphless_font()))
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"),
                                         Ordering=pikepdf.String("Identity"), Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor), DW=GLYPH_ADVANCE,
        CIDToGIDMap=pikepdf.Stream(pdf, b"\x00\x01" * 65536))
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[pdf.make_indirect(cid_font)],
        ToUnicode=pikepdf.Stream(pdf, TO_UNICODE)))


def _text_operators(lines: list[Line], scale_x: float, scale_y: float,
                    page_height: float) -> Iterator[str]:
    """The content stream of the invisible words. Every word but a line's last is followed by
    a space, and word and space are stretched (`Tz`) to end where the next word starts (as
    Tesseract's renderer does): extraction keeps the words apart, and no glyph overlaps the
    next word (PDFium drops a character drawn over the one before it)."""
    yield "BT 3 Tr"
    for line in lines:
        size = max(line.box.height * scale_y, 1.0)
        baseline = page_height - (line.box.top + line.box.height * (1 - DESCENT_SHARE)) * scale_y
        yield f"{FONT_RESOURCE} {size:.2f} Tf"
        for index, word in enumerate(line.words):
            text, span = word.text, word.box.width
            if index < len(line.words) - 1:
                text += " "
                span = max(line.words[index + 1].box.left - word.box.left, word.box.width)
            natural = len(text) * size * GLYPH_ADVANCE / 1000
            yield (f"1 0 0 1 {word.box.left * scale_x:.2f} {baseline:.2f} Tm "
                   f"{100 * span * scale_x / natural:.2f} Tz <{text.encode('utf-16-be').hex()}> Tj")
    yield "ET"


def _resolution(image_path: Path) -> float:
    with Image.open(image_path) as image:
        dpi = image.info.get("dpi")
    return float(dpi[0]) if dpi and float(dpi[0]) >= MIN_DPI else ASSUMED_DPI


def _image_pdf(image_path: Path, source_name: str) -> bytes:
    dpi = _resolution(image_path)
    try:
        return img2pdf.convert(str(image_path),
                               layout_fun=img2pdf.get_fixed_dpi_layout_fun((dpi, dpi)))
    except (img2pdf.ImageOpenError, img2pdf.AlphaChannelError, ValueError) as exc:
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"{source_name}: its searchable PDF could not embed the image "
                        f"Tesseract read ({exc}); set decode = \"pillow\" for this folder "
                        "(OCR_ASSETS_DECODE) or turn searchable PDFs off") from exc


def page_pdf(image_path: Path, tsv: str, source_name: str) -> bytes:
    """The one-page searchable PDF of `image_path` with the words of `tsv` (its pass) over it;
    `source_name` names the page in an error."""
    with Image.open(image_path) as image:
        width_px, height_px = image.size
    with pikepdf.open(io.BytesIO(_image_pdf(image_path, source_name))) as pdf:
        page = pdf.pages[0]
        width_pt, height_pt = float(page.mediabox[2]), float(page.mediabox[3])
        lines = tsv_lines(tsv)
        if lines:
            page.add_resource(_font(pdf), pikepdf.Name.Font, pikepdf.Name(FONT_RESOURCE))
            operators = _text_operators(lines, width_pt / width_px, height_pt / height_px,
                                        height_pt)
            page.contents_add(pikepdf.Stream(pdf, "\n".join(operators).encode("ascii")))
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def source_page_pdf(pdf_path: Path, index: int) -> bytes:
    """Page `index` of a PDF as it is (its own image and text layer): the searchable page of a
    PDF page whose text layer was kept (`skip_text`)."""
    with pikepdf.open(pdf_path) as source, pikepdf.new() as pdf:
        pdf.pages.append(source.pages[index])
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()
