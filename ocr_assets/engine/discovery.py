"""Which files of a scan folder are pages, with stable ids in natural order.

A file is a page candidate when its extension or its first bytes say "image"; everything else
(checksums, `Thumbs.db`, notes, PDFs) is counted as ignored, never as a page. Every frame of a
multi-page TIFF is a page of its own (`scan.tif#2`), except reduced-resolution copies in a
pyramid TIFF, which are previews of the same page. Other formats contribute their first frame.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from natsort import natsorted, ns
from PIL import Image, TiffImagePlugin

from ocr_assets.engine.naming import display_name

IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif",
    ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".j2k", ".jpf", ".jpx", ".jpeg2000",
})
# Magic numbers of the formats above, so a page with a missing or odd extension is still found.
IMAGE_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
    b"GIF87a", b"GIF89a", b"BM", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51",
    b"P1", b"P2", b"P3", b"P4", b"P5", b"P6",
)
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


def looks_like_image(path: Path) -> bool:
    """An image by extension, or by its first bytes (cheap: at most 16 bytes read)."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    is_webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return is_webp or any(head.startswith(sig) for sig in IMAGE_SIGNATURES)


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


def discover_pages(folder: Path, root: Path | None = None) -> FolderListing:
    """List the pages of `folder` in natural order (page_2 before page_10).

    `root` bounds where symlinks may point (default: the folder itself). Only TIFF files are
    opened (to count their frames); every other file costs one `stat` and at most 16 bytes read.
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
        if not looks_like_image(path):
            listing.ignored.append(rel)
            continue
        candidates.append((rel, path, stat))

    owners: dict[str, str] = {}
    for rel, path, stat in natsorted(candidates, key=lambda c: c[0], alg=ns.PATH | ns.IGNORECASE):
        frames = page_frames(path) if is_tiff(path) else None
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
