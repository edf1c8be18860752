"""How many pages a folder holds, estimated from a listing alone: what the automation sizes a
run by (its place in the queue, its run-time cap) when it requests it.

Counting pages exactly means opening every TIFF and PDF (`discovery.discover_pages`: about
0.2 ms of CPU a file, 16 ms for a folder of 90 TIFFs), too slow for a sensor tick over
thousands of new folders inside its 60 s timeout. The listing is one `stat` per file (the cost
of `registry.folder_signature`). A PDF or TIFF may hold many pages, so it counts one page per
`CONTAINER_BYTES_PER_PAGE` of its size: an estimate that errs high for large single-page TIFFs
(a cap that is too loose, never one that ends a sound run) and that the manifest's own count
replaces once the folder has rows (`max` of both, in the caller).
"""

from __future__ import annotations

import os
from pathlib import Path

from ocr_assets.engine.folder.discovery import NON_IMAGE_EXTENSIONS
from ocr_assets.engine.page.pdf import PDF_EXTENSION

CONTAINER_EXTENSIONS = frozenset({PDF_EXTENSION, ".tif", ".tiff"})
"""Formats that hold any number of pages."""
CONTAINER_BYTES_PER_PAGE = 64 * 1024
"""Bytes a PDF or TIFF page takes at least, about: a bitonal 300 dpi page compressed with CCITT
G4 is 30-100 kB, a greyscale or colour one far more."""


def estimate_pages(folder: Path) -> int:
    """About how many pages `folder` holds (0 for a folder that is gone or empty): one for
    every image file, one per `CONTAINER_BYTES_PER_PAGE` of a PDF or TIFF (at least one).
    Hidden files and files whose extension says they are no page are not counted."""
    pages = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            suffix = os.path.splitext(name)[1].lower()
            if name.startswith(".") or suffix in NON_IMAGE_EXTENSIONS:
                continue
            if suffix not in CONTAINER_EXTENSIONS:
                pages += 1
                continue
            try:
                size = os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            pages += max(1, size // CONTAINER_BYTES_PER_PAGE)
    return pages
