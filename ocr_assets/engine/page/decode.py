"""Opening a page image with Pillow and handing Tesseract something it reads well.

Tesseract (through Leptonica) reads plain PNG, JPEG, TIFF, BMP and PNM itself; passing it the
original file keeps its result identical to the bare CLI's. Everything else is normalised here:
EXIF rotation, 16-bit, CMYK, palette transparency and alpha, frames of multi-page TIFFs, tiled
and old-style-JPEG TIFFs (which Leptonica silently fails to read), and oversized pages.
Every page is fully decoded once, so a truncated file fails here with a clear category instead
of being half-read by Tesseract.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ocr_assets.engine.errors import FailureCategory, PageError, too_large

PASS_THROUGH_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP", "PPM"})
PASS_THROUGH_MODES = frozenset({"1", "L", "RGB", "P"})
# TIFF compressions Leptonica cannot decode: 6 = old-style JPEG (OJPEG).
LEPTONICA_UNREADABLE_TIFF_COMPRESSION = frozenset({6})
TIFF_TILE_WIDTH_TAG = 322
TIFF_COMPRESSION_TAG = 259
EXIF_ORIENTATION_TAG = 0x0112
EXIF_TURNED = frozenset(range(2, 9))  # Orientation values that exif_transpose applies
DECODE_MODES = ("auto", "pillow", "pillow_truncated")
"""How a page is decoded: see `OcrSettings.decode`."""
PARTLY_DECODED = "truncated_file_partly_decoded"
"""The step of an image whose file was truncated: what could be read of it was."""
MAY_BE_TRUNCATED = "the file is corrupt or truncated"
"""Said by every failure to decode a file that opened (a header was read): only such a file has
a readable part, so only such a page is worth the retry pass's `redecode_truncated`. An empty
file, or one that is not an image, fails to open and never says it."""
PILLOW_BOMB_PIXELS = re.compile(r"Image size \((\d+) pixels\)")
"""The page's pixel count in the message of Pillow's decompression-bomb guard, its only
carrier."""


@dataclass(frozen=True)
class PreparedImage:
    """What Tesseract is given: the original file, or a normalised PNG written beside the work."""

    path: Path
    normalised: bool
    width: int
    height: int
    steps: tuple[str, ...]
    """What was done to the image (e.g. `exif_transpose`, `cmyk_to_rgb`), for the facts file."""

    @property
    def partial(self) -> str | None:
        """Why the image is only part of its file (the text then covers only that part), or
        None when it is the whole page."""
        if PARTLY_DECODED in self.steps:
            return ("only the readable part of a truncated file was read (the rest of the page "
                    "is missing from the file): rescan or re-export it for the whole text")
        return None


def _open_checked(path: Path, max_megapixels: float) -> Image.Image:
    """Open lazily and refuse an oversized image before any pixel is decoded."""
    Image.MAX_IMAGE_PIXELS = int(max_megapixels * 1_000_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_refused(exc, path.name, max_megapixels) from exc
    except UnidentifiedImageError as exc:
        raise PageError(FailureCategory.UNREADABLE_IMAGE,
                        f"{path.name}: not an image Pillow can identify") from exc
    except OSError as exc:
        raise PageError(FailureCategory.IO_ERROR, f"{path.name}: cannot read: {exc}") from exc
    except (ValueError, SyntaxError, EOFError) as exc:
        # Raised by a format plugin while parsing the header, e.g. a PNG text chunk that
        # decompresses beyond Pillow's limit (a zlib bomb): corrupt or hostile, not too large.
        raise PageError(FailureCategory.UNREADABLE_IMAGE,
                        f"{path.name}: cannot open ({exc}); the file is corrupt or not a page "
                        "image: rescan or re-export it") from exc
    try:
        _refuse_oversized(image, path, None, max_megapixels)
    except PageError:
        image.close()
        raise
    return image


def _refuse_oversized(image: Image.Image, path: Path, frame: int | None,
                      max_megapixels: float) -> None:
    """Refuse the image's current frame when it is above the limit (its size is known from the
    header, before any pixel is decoded)."""
    megapixels = image.width * image.height / 1_000_000
    if megapixels > max_megapixels:
        raise too_large(f"{path.name}{_where(frame)}",
                        f"{image.width}x{image.height} is {megapixels:.4g} MP", max_megapixels)


def _where(frame: int | None) -> str:
    return f" frame {frame + 1}" if frame is not None else ""


def _bomb_refused(exc: Exception, subject: str, max_megapixels: float) -> PageError:
    """Pillow's guard refused the image (it is set to the page's limit, and refuses outright
    at twice it): say so in the project's words, with the page's size where Pillow gave it."""
    found = PILLOW_BOMB_PIXELS.search(str(exc))
    size = f"{int(found[1]) / 1_000_000:.4g} MP" if found else "the image"
    return too_large(subject, size, max_megapixels)


def _decode(image: Image.Image, path: Path, frame: int | None, max_megapixels: float) -> None:
    """Seek to the frame and decode every pixel, mapping decoder failures to categories.

    Pillow checks a later TIFF frame's size only when it allocates the frame, against its
    process-wide `MAX_IMAGE_PIXELS`, in a message that names neither the frame nor what to do.
    The frame is checked here right after the seek, against the page's own limit: the
    refusal does not hang on that global and says which frame it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if frame is not None:
                image.seek(frame)
                _refuse_oversized(image, path, frame, max_megapixels)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_refused(exc, f"{path.name}{_where(frame)}", max_megapixels) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PageError(FailureCategory.UNREADABLE_IMAGE,
                        f"{path.name}{_where(frame)}: cannot decode ({exc}); "
                        f"{MAY_BE_TRUNCATED}: rescan or re-export it") from exc


def _decode_truncated(path: Path, frame: int | None, max_megapixels: float) -> Image.Image:
    """Decode what a truncated file holds (Pillow fills the missing rest with grey); used by the
    retry pass only, after a strict decode failed."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        image = _open_checked(path, max_megapixels)
        _decode(image, path, frame, max_megapixels)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    return image


def _needs_normalising(image: Image.Image, frame: int | None, max_side_px: int) -> bool:
    if frame is not None or getattr(image, "n_frames", 1) > 1:
        return True
    if image.format not in PASS_THROUGH_FORMATS or image.mode not in PASS_THROUGH_MODES:
        return True
    if image.mode == "P" and "transparency" in image.info:
        return True
    if max(image.size) > max_side_px:
        return True
    if image.getexif().get(EXIF_ORIENTATION_TAG, 1) != 1:
        return True
    if image.format == "TIFF":
        tags = image.tag_v2
        if TIFF_TILE_WIDTH_TAG in tags:
            return True
        if tags.get(TIFF_COMPRESSION_TAG) in LEPTONICA_UNREADABLE_TIFF_COMPRESSION:
            return True
    return False


def _to_tesseract_mode(image: Image.Image, steps: list[str]) -> Image.Image:
    """Convert any mode to 1, L or RGB; transparent areas become white paper, not black."""
    mode = image.mode
    if mode in ("1", "L", "RGB"):
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        steps.append(f"{mode}_to_L")
        extrema = image.getextrema()
        high = max(float(extrema[1]), 1.0)
        scale = 255.0 / (high if high > 255 else 255.0)
        return image.point(lambda value: value * scale).convert("L")
    if mode == "CMYK":
        steps.append("cmyk_to_rgb")
        return image.convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        steps.append("palette_to_" + image.mode.lower())
        if image.mode == "RGB":
            return image
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        steps.append("alpha_on_white")
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    steps.append(f"{mode}_to_rgb")
    return image.convert("RGB")


def save_png(image: Image.Image, target: Path, dpi: tuple[float, float] | None,
             failure: str) -> Path:
    """Write `image` losslessly as PNG, keeping its resolution so Tesseract sees the same dpi;
    a write that fails is the page's `io_error`, `failure` saying which page and step."""
    save_args = {"dpi": tuple(round(float(d)) for d in dpi)} if dpi else {}
    try:
        image.save(target, format="PNG", **save_args)
    except OSError as exc:
        raise PageError(FailureCategory.IO_ERROR, f"{failure} to {target}: {exc}") from exc
    return target


def prepare_image(path: Path, frame: int | None, work_dir: Path, *,
                  max_megapixels: float, max_side_px: int,
                  decode: str = "auto") -> PreparedImage:
    """Validate and, where needed, normalise one page; raise `PageError` when it is unusable.

    `decode="pillow"` normalises every page (Tesseract then reads Pillow's PNG, not the file);
    `"pillow_truncated"` also accepts the readable part of a truncated file."""
    if decode not in DECODE_MODES:
        raise ValueError(f"unknown decode mode {decode!r}; choose one of {DECODE_MODES}")
    steps: list[str] = []
    image = _open_checked(path, max_megapixels)
    try:
        _decode(image, path, frame, max_megapixels)
    except PageError as exc:
        image.close()
        if decode != "pillow_truncated" or exc.category != FailureCategory.UNREADABLE_IMAGE:
            raise
        image = _decode_truncated(path, frame, max_megapixels)
        steps.append(PARTLY_DECODED)
    with image:
        if decode == "auto" and not _needs_normalising(image, frame, max_side_px):
            return PreparedImage(path, False, image.width, image.height, ())
        if decode != "auto":
            steps.append("pillow_decode")
        dpi = image.info.get("dpi")
        if frame is not None:
            steps.append(f"frame_{frame + 1}")
        orientation = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
        page = ImageOps.exif_transpose(image)
        if orientation in EXIF_TURNED:  # exif_transpose returns a copy even when it turns nothing
            steps.append("exif_transpose")
        page = _to_tesseract_mode(page, steps)
        if max(page.size) > max_side_px:
            factor = max_side_px / max(page.size)
            steps.append(f"downscale_{factor:.3f}")
            page = page.resize((max(1, round(page.width * factor)),
                                max(1, round(page.height * factor))), Image.Resampling.LANCZOS)
            if dpi:
                dpi = (dpi[0] * factor, dpi[1] * factor)
        target = work_dir / "page.png"
        save_png(page, target, dpi, f"{path.name}: cannot write the normalised image")
        return PreparedImage(target, True, page.width, page.height, tuple(steps))
