"""A page's searchable PDF: the image Tesseract read, with the words of that same pass laid over
it as invisible text, so a reader shows the scan and finds, selects and copies its words.

Why not Tesseract's own PDF renderer: it runs only where Tesseract drives the whole page (the
CLI, or tesserocr's `ProcessPages`, a second recognition), and the default engine keeps
Tesseract loaded through tesserocr. So the text layer is built here, the way OCRmyPDF's hOCR
renderer and Tesseract's `textonly_pdf` do it, from the word boxes (TSV) that every pass already
returns: no second OCR, and the same words, in the same order, as the page's text.

- The image is embedded by img2pdf: losslessly, JPEG and CCITT G4 without re-encoding, the page
  sized by the image's resolution (300 dpi where it records none, Tesseract's own assumption).
- The words are drawn in text rendering mode 3 (invisible) with a one-glyph font (one box,
  half an em wide, for every character code: Tesseract's `GlyphLessFont` idea), built once per
  process with fontTools; one text object per line, its words in the page text's order, each
  stretched (`Tz`) to its box, with a space glyph over the gap to the next word, the text
  matrix turned for a sideways line. Character codes are UTF-16 and the font's ToUnicode map
  is the identity, so extraction gives the words back exactly, whatever the script (long s,
  ligatures, Greek).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
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
GLYPH_HEIGHT = 1000
"""The one glyph's box is this tall (1/1000 em), not empty: PDFium leaves out of its text a
text object whose box has no width on the page (every word of a sideways line drawn with an
empty glyph) and drops some one-character words (a lone "a") drawn with one."""
DESCENT_SHARE = 0.2
"""How far above a line box's lower edge the baseline sits, as a share of the box's height:
what descenders take, so the invisible words cover the printed ones."""
WORD_GAP = 0.2
"""The least gap between two words' invisible glyphs, as a share of the type size: twice what
poppler's `pdftotext` takes for a word break (`minWordBreakSpace`, 0.1)."""
MIN_WORD_SHARE = 0.25
"""The least share of its box a word keeps when the next word's box starts inside it."""
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
    """A TrueType font with one glyph, a box `GLYPH_ADVANCE` wide and `GLYPH_HEIGHT` tall (never
    painted: the text is drawn invisible), and an empty `.notdef`."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "glyph"])
    builder.setupCharacterMap({})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, GLYPH_HEIGHT))
    pen.lineTo((GLYPH_ADVANCE, GLYPH_HEIGHT))
    pen.lineTo((GLYPH_ADVANCE, 0))
    pen.closePath()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "glyph": pen.glyph()})
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
        FontBBox=[0, 0, GLYPH_ADVANCE, GLYPH_HEIGHT], ItalicAngle=0, Ascent=1000, Descent=0,
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


class Direction(Enum):
    """Which way a line's words run on the image: across, or down or up a sideways page (what
    Tesseract reads as vertical lines when a page is read as scanned, not turned upright)."""

    RIGHT = "right"
    DOWN = "down"
    UP = "up"


def _word_direction(line: Line) -> Direction | None:
    """The way from the line's first word to its last; None for a one-word line."""
    if len(line.words) < 2:
        return None
    first, last = line.words[0].box, line.words[-1].box
    dx = (last.left + last.width / 2) - (first.left + first.width / 2)
    dy = (last.top + last.height / 2) - (first.top + first.height / 2)
    if abs(dx) >= abs(dy):
        return Direction.RIGHT
    return Direction.DOWN if dy > 0 else Direction.UP


def line_directions(lines: list[Line]) -> list[Direction]:
    """Each line's direction: from its words where it has several; a one-word line takes the
    direction most lines of the page have when its box is shaped for it (taller than wide for
    a vertical one), else runs right."""
    found = [_word_direction(line) for line in lines]
    counts = Counter(direction for direction in found if direction is not None)
    page = counts.most_common(1)[0][0] if counts else Direction.RIGHT
    return [direction if direction is not None
            else page if (page is Direction.RIGHT) == (line.box.width >= line.box.height)
            else Direction.RIGHT
            for line, direction in zip(lines, found, strict=True)]


@dataclass(frozen=True)
class _Placement:
    """A line in PDF points: the text matrix's rotation, the baseline point the line starts
    at, the type size, and each word's span along the reading direction."""

    rotation: tuple[int, int, int, int]
    origin: tuple[float, float]
    size: float
    spans: list[tuple[float, float]]


def _placement(line: Line, direction: Direction, scale_x: float, scale_y: float,
               page_height: float) -> _Placement:
    """Where the line's words go. Along the reading direction a word's span is its box's
    (measured from the line's start); across it the baseline sits `DESCENT_SHARE` of the line's
    thickness above its lower edge (for a sideways line: its edge the glyphs' feet point to)."""
    box = line.box
    if direction is Direction.RIGHT:
        size = box.height * scale_y
        baseline = page_height - (box.top + box.height * (1 - DESCENT_SHARE)) * scale_y
        spans = [(w.box.left * scale_x, (w.box.left + w.box.width) * scale_x)
                 for w in line.words]
        start = spans[0][0]
        return _Placement((1, 0, 0, 1), (start, baseline), size,
                          [(a - start, b - start) for a, b in spans])
    size = box.width * scale_x
    if direction is Direction.DOWN:
        # Reading down the page: text x runs to PDF -y, glyphs stand towards +x.
        baseline = (box.left + box.width * DESCENT_SHARE) * scale_x
        tops = [page_height - w.box.top * scale_y for w in line.words]
        ends = [page_height - (w.box.top + w.box.height) * scale_y for w in line.words]
        return _Placement((0, -1, 1, 0), (baseline, tops[0]), size,
                          [(tops[0] - a, tops[0] - b) for a, b in zip(tops, ends, strict=True)])
    # Reading up the page: text x runs to PDF +y, glyphs stand towards -x.
    baseline = (box.left + box.width * (1 - DESCENT_SHARE)) * scale_x
    bottoms = [page_height - (w.box.top + w.box.height) * scale_y for w in line.words]
    ends = [page_height - w.box.top * scale_y for w in line.words]
    return _Placement((0, 1, -1, 0), (baseline, bottoms[0]), size,
                      [(a - bottoms[0], b - bottoms[0])
                       for a, b in zip(bottoms, ends, strict=True)])


def _laid_out(spans: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """The words' spans made to keep at least `gap` between one word's end and the next's
    start, in order: a word ends early where the next one's box starts inside it (Tesseract's
    boxes of "you'" and "ll", or of a word and the bracket touching it, overlap), but keeps at
    least `MIN_WORD_SHARE` of its box, and the next word then starts that much later."""
    placed: list[tuple[float, float]] = []
    for index, (start, end) in enumerate(spans):
        if placed:
            start = max(start, placed[-1][1] + gap)
        end = max(end, start)
        if index + 1 < len(spans):
            end = min(end, spans[index + 1][0] - gap)
        floor = start + max((spans[index][1] - spans[index][0]) * MIN_WORD_SHARE, gap)
        placed.append((start, max(end, floor)))
    return placed


def _shown(text: str, extent: float, size: float) -> str:
    """`text` stretched (`Tz`) to cover `extent` points at type size `size`."""
    code = text.encode("utf-16-be")
    natural = len(code) / 2 * size * GLYPH_ADVANCE / 1000
    return f"{100 * extent / natural:.3f} Tz <{code.hex()}> Tj"


def _text_operators(lines: list[Line], scale_x: float, scale_y: float,
                    page_height: float) -> Iterator[str]:
    """The content stream of the invisible words: one text object per line, its words in the
    page text's order, the text matrix turned for a sideways line. Each word is stretched
    (`Tz`) to its box and followed, but for a line's last, by a space glyph stretched over the
    gap to the next word, which is at least `WORD_GAP` of the type size: so both readers see a
    space there (poppler's `pdftotext` breaks words at a gap of a tenth of the size, PDFium at
    the space), and no glyph overlaps the next word's (PDFium drops a character drawn over the
    one before it, poppler joins them)."""
    for line, direction in zip(lines, line_directions(lines), strict=True):
        place = _placement(line, direction, scale_x, scale_y, page_height)
        size = max(place.size, 1.0)
        spans = _laid_out(place.spans, WORD_GAP * size)
        a, b, c, d = place.rotation
        yield (f"BT 3 Tr {FONT_RESOURCE} {size:.2f} Tf "
               f"{a} {b} {c} {d} {place.origin[0]:.2f} {place.origin[1]:.2f} Tm")
        for index, (word, (start, end)) in enumerate(zip(line.words, spans, strict=True)):
            if index:
                yield _shown(" ", start - spans[index - 1][1], size)
            yield _shown(word.text, end - start, size)
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
