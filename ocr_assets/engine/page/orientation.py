"""Turning a page upright before OCR: Tesseract's orientation detection (OSD, `--psm 0`).

A page scanned sideways or upside down reads as garbage; Tesseract's OSD model
(`osd.traineddata`, Debian package `tesseract-ocr-osd`) says by how much to turn it. A page is
turned only when OSD is confident (`min_confidence`), and an upright page is never rewritten:
its file goes to Tesseract unchanged, so its text stays identical to the bare CLI's.

OSD is a Tesseract pass of its own (its own layout analysis and model): run on every page it
cost 84 % more CPU than the OCR (docs/benchmarks.md). So the worker reads a page as scanned first
and asks OSD only when that reading is doubtful (`doubt_about`): a turned page reads as
garbage, an upright one almost never does. `upright_page` is the one call for both the worker
and the retry pass; `detect_orientation` alone only asks. Neither ever raises for a page OSD
cannot judge (too few characters, a blank page): the page is then OCRed as it is, and
`Orientation.note` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError
from ocr_assets.engine.page.decode import save_png
from ocr_assets.engine.page.engines.base import missing_osd_message
from ocr_assets.engine.page.engines.tesseract_cli import pytesseract_module
from ocr_assets.engine.page.quality import PageQuality
from ocr_assets.engine.settings import DEFAULT_MIN_CONFIDENCE

DOUBTFUL_CONFIDENCE = 50.0
"""A first reading with a mean word confidence below this has its orientation checked (as has
one flagged empty or garbage). Measured on the shared test set read as scanned: the pages
turned by 90 and 180 degrees read at 40.2 and were flagged garbage, the 24 upright pages at
58.7 to 96.2 (one of them, Fraktur read with the English model, flagged garbage: it is checked
and, OSD finding it upright, kept)."""

# Clockwise turn that makes the page upright (OSD's "Rotate") -> Pillow's exact transposition.
# Pillow's ROTATE_n turns counter-clockwise by n degrees.
UPRIGHT_NAME = "upright.png"
"""The upright copy `upright_page` writes into the page's work directory."""
TURNS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
         270: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class Orientation:
    """What OSD said about one page, and what was done with it."""

    rotate: int
    """Clockwise degrees that turn the page upright: 0, 90, 180 or 270 (OSD's "Rotate")."""
    confidence: float | None
    """OSD's orientation confidence; None when OSD could not judge the page."""
    script: str | None = None
    applied: bool = False
    """True when the page was turned before OCR (`rotate` != 0 and confident enough)."""
    note: str = ""
    """Why the page was not turned, when OSD found nothing or was not sure."""
    checked_because: str = ""
    """Why OSD was asked: `every page` (`rotate_every_page`) or what made the first reading
    doubtful."""

    def as_dict(self) -> dict[str, object]:
        """For the page's facts file."""
        return {"rotate": self.rotate, "confidence": self.confidence, "script": self.script,
                "applied": self.applied, "note": self.note,
                "checked_because": self.checked_because}


def doubt_about(quality: PageQuality) -> str | None:
    """Why a page's first reading may come from a turned page, or None when it reads well."""
    if quality.flags:
        return f"the first reading was flagged {quality.reason}"
    if quality.mean_confidence is not None and quality.mean_confidence < DOUBTFUL_CONFIDENCE:
        return (f"the first reading's mean word confidence {quality.mean_confidence:.1f} is "
                f"below {DOUBTFUL_CONFIDENCE:g}")
    return None


def detect_orientation(image_path: Path, *, timeout_s: float) -> Orientation:
    """Ask Tesseract's OSD how to turn `image_path` upright. A page OSD cannot judge comes back
    as `rotate=0, confidence=None` with the reason; a missing OSD model or a timeout raises
    `PageError`."""
    pytesseract = pytesseract_module()

    try:
        osd = pytesseract.image_to_osd(str(image_path), output_type=pytesseract.Output.DICT,
                                       timeout=timeout_s)
    except pytesseract.TesseractError as exc:
        message = str(exc.message).strip()
        if "Failed loading language" in message or "Error opening data file" in message:
            raise PageError(FailureCategory.MISSING_LANGUAGE, missing_osd_message()) from exc
        if "Too few characters" in message:
            return Orientation(0, None, note="too few characters for orientation detection")
        return Orientation(0, None, note=f"orientation detection failed: {message[-200:]}")
    except RuntimeError as exc:  # pytesseract's timeout: the page's time is spent
        raise PageError(FailureCategory.TIMEOUT,
                        f"{image_path.name}: orientation detection ran longer than "
                        f"{timeout_s:g} s and was killed; raise page_timeout_s") from exc
    rotate = int(osd.get("rotate", 0)) % 360
    if rotate not in (0, *TURNS):
        return Orientation(0, None, note=f"OSD gave an unexpected rotation {rotate}")
    return Orientation(rotate, float(osd.get("orientation_conf", 0.0)), osd.get("script"))


def rotate_image(image_path: Path, rotate: int, target: Path) -> Path:
    """Write `image_path` turned clockwise by `rotate` degrees to `target` (PNG, lossless),
    keeping its resolution so Tesseract sees the same dpi."""
    with Image.open(image_path) as image:
        return save_png(image.transpose(TURNS[rotate]), target, image.info.get("dpi"),
                        f"{image_path.name}: cannot write the turned image")


def upright_page(image_path: Path, work_dir: Path, *, timeout_s: float,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> tuple[Path, Orientation]:
    """The file to OCR: `image_path` itself when it is upright (or OSD is unsure), else an
    upright copy in `work_dir`; and what OSD said."""
    found = detect_orientation(image_path, timeout_s=timeout_s)
    if found.rotate == 0 or found.confidence is None:
        return image_path, found
    if found.confidence < min_confidence:
        return image_path, Orientation(
            found.rotate, found.confidence, found.script,
            note=f"OSD suggests turning by {found.rotate} degrees, but its confidence "
                 f"{found.confidence:.2f} is below {min_confidence:g}")
    turned = rotate_image(image_path, found.rotate, work_dir / UPRIGHT_NAME)
    return turned, Orientation(found.rotate, found.confidence, found.script, applied=True)
