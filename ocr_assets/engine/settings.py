"""Every setting that changes what a page's OCR produces or how it is run, in one frozen value.

The settings travel to pool workers by pickling, so they are a plain dataclass. The subset that
changes the *output* (`output_settings`) is stored with each page, so a page done with other
settings is visibly different in its facts file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from ocr_assets.engine.backends import ARCHIVAL_FORMATS
from ocr_assets.engine.orientation import DEFAULT_MIN_CONFIDENCE


def default_workers() -> int:
    """One single-threaded Tesseract per usable core (OCRmyPDF's and Tesseract's own rule)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class OcrSettings:
    """How pages are read, OCRed and bounded."""

    lang: str = "eng"
    psm: int = 3
    engine: str = "pytesseract"
    workers: int = field(default_factory=default_workers)
    page_timeout_s: float = 180.0
    recycle_after: int = 200
    max_megapixels: float = 120.0
    max_side_px: int = 10000
    max_attempts: int = 3
    auto_rotate: bool = True
    """Detect a page turned by 90, 180 or 270 degrees (Tesseract OSD) and turn it upright."""
    rotate_every_page: bool = False
    """Ask OSD about every page before its OCR, instead of only about pages whose reading as
    scanned is doubtful (one more Tesseract pass per page: for batches known to be turned)."""
    rotate_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    worker_memory_mb: int = 0
    """Address-space limit of each worker process and its Tesseract, in MiB; 0: no limit.
    A page that needs more fails alone (`out_of_memory`) instead of waking the OOM killer."""
    decode: str = "auto"
    """`auto`: Tesseract reads plain files itself; `pillow`: Pillow decodes every page to PNG
    first; `pillow_truncated`: the same, accepting a truncated file's readable part (retry pass)."""
    archival_formats: tuple[str, ...] = ()
    """Per-page archival documents to write beside the text: `hocr`, `alto` (same pass)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.archival_formats) - ARCHIVAL_FORMATS.keys())
        if unknown:
            raise ValueError(f"unknown archival formats {unknown}; choose from "
                             f"{sorted(ARCHIVAL_FORMATS)} (OCR_ASSETS_ARCHIVAL_FORMATS)")

    def output_settings(self) -> dict[str, object]:
        """The settings that change a page's text: stored in its facts for provenance."""
        return {"lang": self.lang, "psm": self.psm, "engine": self.engine,
                "max_side_px": self.max_side_px, "auto_rotate": self.auto_rotate,
                "rotate_every_page": self.rotate_every_page,
                "rotate_min_confidence": self.rotate_min_confidence, "decode": self.decode}

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
