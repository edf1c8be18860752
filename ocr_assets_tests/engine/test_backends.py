"""The Tesseract CLI backend against the real program: what it reports on files Leptonica cannot
decode, which the worker then records as `empty_output_from_unreadable_image`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_assets.engine.backends import tesseract_pass


@pytest.mark.parametrize("name", ["old-style-jpeg-compression.tif",
                                  "indian-ferns_0004_pyramid.tif"])
def test_tesseract_exits_cleanly_without_reading_an_ojpeg_or_tiled_tiff_and_it_is_seen(
        name: str, shared_testdata: Path, tmp_path: Path) -> None:
    """The file as it is, not normalised: Tesseract 5.3 exits 0 with no text and no page row
    (the pipeline normalises these files first; this is the detection behind that)."""
    output = tesseract_pass(shared_testdata / "bad" / name, tmp_path, lang="eng", psm=3,
                            timeout_s=120)
    assert output.image_read is False
    assert output.text.strip() == "" and output.words == ()


def test_a_page_tesseract_reads_is_reported_as_read(fixtures_dir: Path, tmp_path: Path) -> None:
    output = tesseract_pass(fixtures_dir / "pages" / "phototest.tif", tmp_path, lang="eng",
                            psm=3, timeout_s=120)
    assert output.image_read is True
    assert len(output.words) == len(output.confidences) > 20
