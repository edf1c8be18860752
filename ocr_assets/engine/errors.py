"""Failure categories of a page, and the exception that carries one.

Each category tells an operator what to do next; the retry pass chooses its strategy by it.
"""

from __future__ import annotations

from enum import StrEnum


class FailureCategory(StrEnum):
    UNREADABLE_IMAGE = "unreadable_image"
    """Pillow cannot open or decode the file: corrupt, truncated, or not an image."""
    TOO_LARGE = "too_large"
    """Above the configured megapixel limit: refused before decoding (decompression bombs)."""
    TIMEOUT = "timeout"
    """Tesseract did not finish within the per-page timeout and was killed."""
    ENGINE_ERROR = "engine_error"
    """Tesseract exited with an error, or its output could not be read."""
    WORKER_CRASHED = "worker_crashed"
    """The worker process died (segfault, OOM kill) while on this page."""
    EMPTY_OUTPUT_FROM_UNREADABLE_IMAGE = "empty_output_from_unreadable_image"
    """Tesseract exited 0 but never read the image (Leptonica cannot decode it).

    Not a blank page: the retry pass re-decodes it with Pillow."""
    MISSING_LANGUAGE = "missing_language"
    """The configured language's traineddata is not installed."""
    IO_ERROR = "io_error"
    """Reading the scan or writing the output failed at the operating-system level."""
    OUT_OF_MEMORY = "out_of_memory"
    """The page needed more memory than the worker may use (`worker_memory_mb`)."""
    UNREADABLE_DOCUMENT = "unreadable_document"
    """A PDF that cannot be read: broken beyond repair, encrypted with a password, without
    pages, or a page of it that PDFium cannot load. Any setting reads it the same way."""


class PageError(Exception):
    """A page failed for a known reason; the batch records it and goes on."""

    def __init__(self, category: FailureCategory, message: str) -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def too_large(subject: str, size: str, max_megapixels: float) -> PageError:
    """The refusal of a page above the megapixel limit, in the same words wherever it is refused.

    It names the limit in force and the variable that sets it, not Pillow's own guard (which
    says twice the limit, in pixels): an operator must be able to act on it without reading
    the code."""
    return PageError(FailureCategory.TOO_LARGE,
                     f"{subject}: {size}, above the limit of {max_megapixels:g} MP "
                     f"(OCR_ASSETS_MAX_MEGAPIXELS = {max_megapixels:g} MP); refused before "
                     "decoding to protect memory: if the scan is real, raise max_megapixels "
                     "(OCR_ASSETS_MAX_MEGAPIXELS), or downscale the scan")
