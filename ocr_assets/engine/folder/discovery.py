"""Which files of a scan folder are pages, with stable ids in natural order.

A file is a page candidate when its extension or its first bytes say "image" or "PDF";
everything else (checksums, `Thumbs.db`, notes) is counted as ignored, never as a page. A known
non-image extension (`.txt`, `.md5`, ...) is believed over the bytes, and the two magic numbers
that plain text can start with (`BM`, `P1`..`P6`) count only with the header that must follow
them, so a note that reads "P2 torn corner" is not a page that then fails as unreadable.
Every frame of a multi-page TIFF is a page of its own (`scan.tif#2`), except reduced-resolution
copies in a pyramid TIFF, which are previews of the same page; so is every page of a PDF
(`scan.pdf#2`). A PDF that cannot be opened, has no pages or more than `max_pdf_pages` is one
page, which then fails alone with the reason. Other formats contribute their first frame.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from natsort import natsorted, ns
from PIL import Image, TiffImagePlugin

from ocr_assets.engine.naming import display_name
from ocr_assets.engine.page.pdf import PDF_EXTENSION, PDF_SIGNATURE, is_pdf, page_count
from ocr_assets.engine.settings import DEFAULT_MAX_PDF_PAGES

IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif",
    ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".j2k", ".jpf", ".jpx", ".jpeg2000",
})
# Extensions that say "not an image" whatever the first bytes are: checksums, notes, metadata,
# documents and archives that sit beside scans. Sniffing them could only turn a note into a
# page that fails.
NON_IMAGE_EXTENSIONS = frozenset({
    ".txt", ".text", ".csv", ".tsv", ".md", ".rst", ".md5", ".sha1", ".sha256", ".sha512",
    ".xml", ".json", ".yaml", ".yml", ".toml", ".ini", ".db", ".sqlite", ".html",
    ".htm", ".log", ".rtf", ".doc", ".docx", ".odt", ".xls", ".xlsx", ".ods", ".zip", ".gz",
    ".tar", ".7z",
})
# Magic numbers of the formats above whose next bytes are binary, so a page with a missing or
# odd extension is still found.
IMAGE_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
    b"GIF87a", b"GIF89a", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51",
)
# PNM: the magic number, then width and height as decimal numbers, each after whitespace or
# `#` comments (Netpbm's header grammar).
PNM_HEADER = re.compile(rb"P[1-6](?:(?:\s|#[^\r\n]*[\r\n])+[0-9]+){2}")
# BMP: `BM`, then at offset 14 the size of the DIB header, one of the sizes Pillow reads.
BMP_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
SNIFF_BYTES = 1024
"""Read from a file without an image extension: one read, enough for a PNM header's comment."""
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
TIFF_REDUCED_RESOLUTION = 0x1  # NewSubfileType bit: this IFD is a preview of another one.
FRAME_SEPARATOR = "#"


@dataclass(frozen=True)
class Page:
    """One page: a file, or one frame of a multi-page file."""

    page_id: str
    """`<relative path>` or `<relative path>#<n>` (n from 1): stable across runs and machines."""
    path: Path
    frame: int | None
    """0-based frame index inside a multi-page file, None for a single-page file."""
    size: int
    mtime_ns: int


@dataclass
class FolderListing:
    pages: list[Page] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Relative paths of files that are not pages, so the operator sees what was skipped."""
    refused: dict[str, str] = field(default_factory=dict)
    """Relative path -> reason, for entries that must not be read (symlinks out of the root)."""


def looks_like_page(path: Path) -> bool:
    """An image or a PDF by extension, or by its first bytes unless the extension says it is
    neither (cheap: at most `SNIFF_BYTES` read, in one read)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS or suffix == PDF_EXTENSION:
        return True
    if suffix in NON_IMAGE_EXTENSIONS:
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    return has_image_signature(head) or head.startswith(PDF_SIGNATURE)


def has_image_signature(head: bytes) -> bool:
    """Whether a file's first bytes are those of an image format the pipeline reads."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head.startswith(b"BM"):
        return len(head) >= 18 and struct.unpack_from("<I", head, 14)[0] in BMP_DIB_HEADER_SIZES
    if PNM_HEADER.match(head):
        return True
    return any(head.startswith(sig) for sig in IMAGE_SIGNATURES)


def is_tiff(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) in TIFF_SIGNATURES
    except OSError:
        return False


def page_frames(path: Path) -> list[int] | None:
    """The frame indices of a multi-page TIFF that are pages; None for a single-page file.

    Unreadable files return None: they are still a page, which then fails alone and is recorded
    (so Pillow's warnings about them are not repeated here).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            with Image.open(path) as image:
                if not isinstance(image, TiffImagePlugin.TiffImageFile):
                    return None
                frames = []
                for index in range(getattr(image, "n_frames", 1)):
                    image.seek(index)
                    subfile_type = image.tag_v2.get(254, 0)
                    if not subfile_type & TIFF_REDUCED_RESOLUTION:
                        frames.append(index)
        except Exception:  # noqa: BLE001 - any decoder error means "treat as one page"
            return None
    return frames if len(frames) > 1 else None


def pdf_frames(path: Path, max_pages: int) -> list[int] | None:
    """The page indices of a PDF with several pages; None for a one-page PDF, and for one that
    cannot be opened, has no pages or more than `max_pages`: that file is one page, which fails
    alone with the reason (so a hostile page count never becomes that many manifest rows).
    Only the page tree's count is read, no page is loaded or rendered."""
    pages = page_count(path)
    if pages is None or pages < 2 or pages > max_pages:
        return None
    return list(range(pages))


def _frames(path: Path, max_pdf_pages: int) -> list[int] | None:
    if is_pdf(path):
        return pdf_frames(path, max_pdf_pages)
    return page_frames(path) if is_tiff(path) else None


def _walk_files(folder: Path, root: Path) -> Iterator[tuple[Path, str | None]]:
    """Files below `folder`, with a refusal reason for links that leave `root` or loop."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        dirnames.sort()
        for name in list(dirnames):
            sub = base / name
            if sub.is_symlink():
                dirnames.remove(name)
                yield sub, "symlinked folders are not followed"
        for name in filenames:
            path = base / name
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    yield path, "broken or looping symlink"
                    continue
                if not target.is_relative_to(root):
                    yield path, f"symlink points outside the scans root ({root})"
                    continue
            yield path, None


def discover_pages(folder: Path, root: Path | None = None, *,
                   max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES) -> FolderListing:
    """List the pages of `folder` in natural order (page_2 before page_10).

    `root` bounds where symlinks may point (default: the folder itself). Only TIFF and PDF
    files are opened (to count their frames and pages); every other file costs one `stat` and
    at most one short read. `max_pdf_pages` must be the run's own (`OcrSettings`), since it
    decides the ids of a PDF's pages.
    """
    folder = Path(folder)
    root = Path(root or folder).resolve()
    listing = FolderListing()
    candidates: list[tuple[str, Path, os.stat_result]] = []
    for path, refusal in _walk_files(folder, root):
        # Ids are stored (manifest, corpus, metadata), so bytes that are not UTF-8 appear as
        # `\xNN` escapes; the path itself keeps the bytes.
        rel = display_name(path.relative_to(folder).as_posix())
        if refusal:
            listing.refused[rel] = refusal
            continue
        if path.name.startswith("."):
            listing.ignored.append(rel)
            continue
        try:
            stat = path.stat()
        except OSError as exc:
            listing.refused[rel] = f"cannot stat: {exc.strerror}"
            continue
        if not S_ISREG(stat.st_mode):  # opening a FIFO would wait for a writer forever
            listing.refused[rel] = "not a regular file (a pipe, socket or device is never read)"
            continue
        if not looks_like_page(path):
            listing.ignored.append(rel)
            continue
        candidates.append((rel, path, stat))

    owners: dict[str, str] = {}
    for rel, path, stat in natsorted(candidates, key=lambda c: c[0], alg=ns.PATH | ns.IGNORECASE):
        frames = _frames(path, max_pdf_pages)
        if frames is None:
            pages = [Page(rel, path, None, stat.st_size, stat.st_mtime_ns)]
        else:
            pages = [Page(f"{rel}{FRAME_SEPARATOR}{number}", path, frame, stat.st_size,
                          stat.st_mtime_ns) for number, frame in enumerate(frames, start=1)]
        # `scan.tif#2` (a file) and frame 2 of `scan.tif`, or `caf\xe9.png` (a file named
        # with a backslash) and a non-UTF-8 `caf\xe9.png`, would share an id: the first in
        # page order keeps it, the other file is refused with the reason, never merged.
        taken = next((p.page_id for p in pages if p.page_id in owners), None)
        if taken is not None:
            listing.refused[rel] = (f"its page id {taken!r} is already the id of a page of "
                                    f"{owners[taken]!r}: rename one of the two files")
            continue
        owners.update((p.page_id, rel) for p in pages)
        listing.pages.extend(pages)
    listing.ignored = natsorted(listing.ignored, alg=ns.PATH | ns.IGNORECASE)
    return listing
