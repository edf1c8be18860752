"""Cleaning a scanned page before its OCR with unpaper (what OCRmyPDF's `--clean` runs).

unpaper is the well-kept tool for it (Debian: `unpaper`): it removes the noise specks, the
dark scanner borders and the grey fringes around a page's print that Tesseract otherwise reads
as stray characters. Only its filters that clean are used, with OCRmyPDF's arguments: no
layout guessing, no deskew (that is `deskew`, Leptonica's), no black or grey area filters
(which blank out photographs and grey print), no moving of the content to the middle or to a
border (the word boxes must stay where the print is, for the searchable PDF).

unpaper reads and writes PNM only: the page goes to it as PBM, PGM or PPM (by its mode) and
comes back as PNG with the page's resolution, which Tesseract and img2pdf read. The cleaned
image is what Tesseract reads and what a searchable PDF shows, as with deskew.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from ocr_assets.engine.errors import FailureCategory, PageError

UNPAPER_ARGS = ("--layout", "none", "--mask-scan-size", "100", "--no-border-align",
                "--no-mask-center", "--no-grayfilter", "--no-blackfilter", "--no-deskew",
                "--overwrite", "--quiet")
"""OCRmyPDF's `--clean` arguments (its `unpaper.py`), plus writing over the output file and
no progress output."""
PNM_SUFFIX = {"1": ".pbm", "L": ".pgm", "RGB": ".ppm"}
"""What unpaper reads, by Pillow image mode; other modes go to it as RGB."""
DEFAULT_DPI = 300
PNG_COMPRESS_LEVEL = 1
"""zlib's fastest: the cleaned page is a working file (and, with searchable PDFs, embedded as
it is); Pillow's default level took 1.1 CPU s on a 3-megapixel colour page, this 0.27, for
12 % more bytes."""
MISSING_MESSAGE = ("clean = true needs the unpaper program, which is not installed; install "
                   "it (Debian/Ubuntu: sudo apt-get install unpaper; scripts/setup.sh does) or "
                   "turn cleaning off (clean = false in folder.toml, OCR_ASSETS_CLEAN=0)")


def check_clean_ready() -> None:
    """Raise `RuntimeError` naming the package when unpaper is not installed."""
    if shutil.which("unpaper") is None:
        raise RuntimeError(MISSING_MESSAGE)


def clean_image(image_path: Path, work_dir: Path, *, timeout_s: float,
                source_name: str) -> Path:
    """The page `image_path` cleaned by unpaper, as `work_dir/cleaned.png` (the resolution
    kept). `PageError` when unpaper fails, takes longer than `timeout_s` or is missing;
    `source_name` names the page in the message."""
    program = shutil.which("unpaper")
    if program is None:
        raise PageError(FailureCategory.ENGINE_ERROR, f"{source_name}: {MISSING_MESSAGE}")
    with Image.open(image_path) as image:
        dpi = image.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))
        page = image if image.mode in PNM_SUFFIX else image.convert("RGB")
        suffix = PNM_SUFFIX[page.mode]
        dirty, cleaned = work_dir / f"unpaper-in{suffix}", work_dir / f"unpaper-out{suffix}"
        page.save(dirty)
    try:
        done = subprocess.run([program, *UNPAPER_ARGS, "--dpi", str(round(float(dpi[0]))),
                               str(dirty), str(cleaned)],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PageError(FailureCategory.TIMEOUT,
                        f"{source_name}: unpaper did not clean the page within {timeout_s:g} s; "
                        "raise page_timeout_s or turn cleaning off for its folder") from exc
    finally:
        dirty.unlink(missing_ok=True)
    if done.returncode != 0 or not cleaned.is_file():
        raise PageError(FailureCategory.ENGINE_ERROR,
                        f"{source_name}: unpaper failed to clean the page (exit "
                        f"{done.returncode}: {' '.join(done.stderr.split())[:300]}); turn "
                        "cleaning off for its folder (clean = false) to read it as scanned")
    target = work_dir / "cleaned.png"
    with Image.open(cleaned) as result:
        result.save(target, dpi=dpi, compress_level=PNG_COMPRESS_LEVEL)
    cleaned.unlink()
    return target
