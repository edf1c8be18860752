"""Straightening a page scanned a few degrees askew, with Leptonica's deskew.

Tesseract finds text lines on a slightly skewed page, but reads it worse (measured in
docs/benchmarks.md, "Deskew"). Leptonica is the image library Tesseract itself is built on: it
is installed wherever the `tesseract` program is (Debian: `liblept5`), it reads every file
Tesseract reads, and its `pixDeskewGeneral` (the call OCRmyPDF's `--deskew` used) finds the
skew angle by a sweep of projection profiles on a binarised, reduced copy and turns the
full-resolution page by it, with white brought in at the edges. It is reached through
`ctypes`: no Python package to add, and no second copy of the image library. The PyPI `deskew`
package would bring scikit-image and SciPy for the same job; `unpaper` only deskews within its
own narrower range, and its cleaning filters are lossy by default.

A page is rewritten only when Leptonica turned it (it does when it is confident of an angle
of at least a tenth of a degree); otherwise its file goes to Tesseract unchanged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ocr_assets.engine.errors import FailureCategory, PageError

SWEEP_RANGE_DEG = 10.0
"""Angles searched, either way: Leptonica's default is 7, which missed a page turned by 7."""
LIBRARY_NAMES = ("lept", "leptonica")
"""Leptonica's shared library: `liblept.so.5` (Debian 12, Ubuntu 22.04/24.04),
`libleptonica.so.6` (Debian 13)."""
IFF_PNG = 3
"""Leptonica's file format number for PNG (`imageio.h`)."""
MISSING_MESSAGE = ("deskew needs Leptonica's shared library, which the tesseract program is "
                   "built on; install it (Debian/Ubuntu: sudo apt-get install tesseract-ocr, "
                   "which brings liblept5) or set OCR_ASSETS_DESKEW=off")


@dataclass(frozen=True)
class Deskew:
    """What deskewing found on one page."""

    angle: float
    """Degrees Leptonica found the text lines turned by (counter-clockwise positive)."""
    confidence: float
    """Leptonica's confidence in the angle (0 when it found none)."""
    applied: bool
    """Whether the page was turned back (Leptonica turns it only when it is sure enough)."""

    def as_dict(self) -> dict[str, object]:
        return {"angle": round(self.angle, 3), "confidence": round(self.confidence, 3),
                "applied": self.applied}


@cache
def leptonica() -> ctypes.CDLL:
    """Leptonica, with the signatures of the calls used here; `RuntimeError` when it is not
    installed."""
    path = next(filter(None, map(ctypes.util.find_library, LIBRARY_NAMES)), None)
    if path is None:
        raise RuntimeError(MISSING_MESSAGE)
    library = ctypes.CDLL(path)
    pix, c_float_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)
    library.pixRead.argtypes, library.pixRead.restype = [ctypes.c_char_p], pix
    library.pixDeskewGeneral.argtypes = [pix, ctypes.c_int, ctypes.c_float, ctypes.c_float,
                                         ctypes.c_int, ctypes.c_int, c_float_p, c_float_p]
    library.pixDeskewGeneral.restype = pix
    library.pixWrite.argtypes, library.pixWrite.restype = [ctypes.c_char_p, pix, ctypes.c_int], \
        ctypes.c_int
    library.pixDestroy.argtypes, library.pixDestroy.restype = [ctypes.POINTER(pix)], None
    return library


def check_deskew_ready() -> None:
    """Raise `RuntimeError` saying what to install when Leptonica cannot be loaded."""
    try:
        leptonica()
    except OSError as exc:
        raise RuntimeError(f"{MISSING_MESSAGE} ({exc})") from exc


def _destroy(library: ctypes.CDLL, pix: int | None) -> None:
    if pix:
        library.pixDestroy(ctypes.byref(ctypes.c_void_p(pix)))


def deskew_image(image_path: Path, target: Path) -> tuple[Path, Deskew]:
    """The file to OCR: `image_path` itself when it is straight enough (or Leptonica finds no
    confident angle), else its deskewed copy at `target` (PNG, the resolution kept); and what
    was found. `PageError` when Leptonica cannot read or write the page."""
    library = leptonica()
    source = library.pixRead(str(image_path).encode())
    if not source:
        raise PageError(FailureCategory.UNREADABLE_IMAGE,
                        f"{image_path.name}: Leptonica cannot read the page to deskew it; "
                        "set deskew = \"off\" for its folder, or re-export the scan")
    angle, confidence = ctypes.c_float(), ctypes.c_float()
    deskewed = None
    try:
        # 0 for the reductions, the sweep step and the threshold: Leptonica's defaults.
        deskewed = library.pixDeskewGeneral(source, 0, SWEEP_RANGE_DEG, 0.0, 0, 0,
                                            ctypes.byref(angle), ctypes.byref(confidence))
        # Leptonica hands back the page itself (a clone) when it did not turn it.
        if not deskewed or deskewed == source:
            return image_path, Deskew(angle.value, confidence.value, applied=False)
        if library.pixWrite(str(target).encode(), deskewed, IFF_PNG) != 0:
            raise PageError(FailureCategory.IO_ERROR,
                            f"{image_path.name}: cannot write the deskewed page to {target}")
        return target, Deskew(angle.value, confidence.value, applied=True)
    finally:
        _destroy(library, deskewed)  # a clone counts a reference of its own
        _destroy(library, source)
