"""Every odd or broken input of the shared test set (`bad/`), in ONE batch: each file becomes a
page that is done, a failure with the right category, or an ignored non-image, and the batch
always finishes with every page terminal.

The batch is the `bad` folder of the session's one reading of the shared set (`shared_ocr`):
the whole directory, the 28-page `ocropy_aim916.tiff`, the dense `pport_g4.tif` and the
25.8 MP `large_gerstner_1831_0019.jpg` included, whose pages the quality calibration needs
anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ocr_assets.engine.folder.accuracy import cer
from ocr_assets.engine.folder.batch import FolderReport
from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import read_json
from ocr_assets_tests.helpers import Run
from ocr_assets_tests.shared_ocr import SharedOcr, bad_inputs


@dataclass(frozen=True)
class Expect:
    status: str  # "done", "failed" or "ignored"
    category: str | None = None  # failure category
    text: bool | None = None  # True: some text; False: flagged empty; None: not asserted
    pages: int = 1  # pages of a multi-page file
    steps: tuple[str, ...] | None = None  # normalisation steps, when the page is normalised
    phototest: bool = False  # the phototest page in another format: CER against its truth


def failed(category: str) -> Expect:
    return Expect("failed", category)


UNREADABLE, TOO_LARGE = "unreadable_image", "too_large"

EXPECTED: dict[str, Expect] = {
    # Broken files: each fails alone, with a category that is not retried on a plain re-run.
    "zero_bytes.tif": failed(UNREADABLE),
    "broken.png": failed(UNREADABLE),
    "broken_data_stream.png": failed(UNREADABLE),
    "truncated_end_chunk.png": failed(UNREADABLE),
    "truncated_image.png": failed(UNREADABLE),
    "truncated_jpeg.jpg": failed(UNREADABLE),
    "png_decompression_dos.png": failed(UNREADABLE),  # its text chunk is a zlib bomb
    "decompression_bomb.gif": failed(TOO_LARGE),  # refused before decoding
    # Only a GIF's first frame is a page; the bomb is the frame extents of frame 2, which is
    # never decoded: the page is a blank 100x100 image.
    "decompression_bomb_extents.gif": Expect("done", text=False),
    "invalid.pdf": failed("unreadable_document"),  # "%PDF-1.3 This is not a valid PDF file"
    # Odd but valid images, normalised for Tesseract.
    "pil_sample_cmyk.jpg": Expect("done", text=False, steps=("cmyk_to_rgb",)),
    "baiona_cmyk.jpg": Expect("done", text=True, steps=("cmyk_to_rgb",)),
    "baiona_colormapped.png": Expect("done", text=True, steps=()),
    "baiona_alpha.png": Expect("done", text=True, steps=("alpha_on_white",)),
    "i_trns.png": Expect("done", text=False, steps=("I;16_to_L",)),
    "16bit.cropped.tif": Expect("done", text=False, steps=("I;16_to_L",)),
    "hopper_orientation_6.jpg": Expect("done", text=False, steps=("exif_transpose",)),
    "hopper_bigtiff.tif": Expect("done", text=False),
    "tiff_wrong_bits_per_sample.tiff": Expect("done", text=False, steps=("alpha_on_white",)),
    "multipage.tiff": Expect("done", text=False, pages=3),
    "g4-multi.tiff": Expect("done", text=False, pages=3),
    # Tesseract alone exits 0 with empty output on these two; Pillow normalises them.
    "indian-ferns_0004_pyramid.tif": Expect("done", text=True, steps=()),
    "old-style-jpeg-compression.tif": Expect("done", text=True, steps=()),
    # The phototest page in other formats and with an odd extension.
    "pytesseract_test.gif": Expect("done", text=True, phototest=True),
    "pytesseract_test.bmp": Expect("done", text=True, phototest=True),
    "pytesseract_test.pgm": Expect("done", text=True, phototest=True),
    "pytesseract_test.webp": Expect("done", text=True, phototest=True),
    "pytesseract_test.jpeg2000": Expect("done", text=True, phototest=True),
    # Real pages: Arabic (read with the English model: done, not failed), blank and near-blank.
    "kraken_arabic.webp": Expect("done", text=True),
    "sparse_trainingtimes.tif": Expect("done", text=True),
    "blank_cover_laube_1837_0310.jpg": Expect("done"),
    "nearblank_endpaper_laube_1837_0309.jpg": Expect("done"),
    "nearblank_backcover_vischer_1858_0081.jpg": Expect("done"),
    # The heavy ones.
    "ocropy_aim916.tiff": Expect("done", text=True, pages=28, steps=()),
    "pport_g4.tif": Expect("done", text=True),
    "kant_aufklaerung_1784_0020.jp2": Expect("done", text=True),
    "large_gerstner_1831_0019.jpg": Expect("done", text=True),
}


def page_ids(name: str, expect: Expect) -> list[str]:
    if expect.pages == 1:
        return [name]
    return [f"{name}#{number}" for number in range(1, expect.pages + 1)]


@dataclass
class Batch:
    run: Run
    report: FolderReport
    names: list[str]


def facts(run: Run, page_id: str) -> dict:
    row = run.manifest.pages(run.key)[page_id]
    return read_json(run.outputs, output_keys(row.output_name)[1])


def check_outcomes(batch: Batch, phototest_truth: str) -> None:
    run, report, names = batch.run, batch.report, batch.names
    unknown = sorted(set(names) - EXPECTED.keys())
    assert not unknown, f"new files in bad/: add their expected outcome to EXPECTED: {unknown}"
    rows = run.manifest.pages(run.key)

    # The batch finished and every page is terminal.
    assert report.pending == 0
    assert report.pages == report.done + report.failed == len(rows)
    assert {r.status for r in rows.values()} <= {DONE, FAILED}
    assert report.refused == {}

    expected_ids: list[str] = []
    problems: list[str] = []
    for name in names:
        expect = EXPECTED[name]
        if expect.status == "ignored":
            if name not in report.ignored:
                problems.append(f"{name}: expected ignored, not in {report.ignored}")
            continue
        for page_id in page_ids(name, expect):
            expected_ids.append(page_id)
            row = rows.get(page_id)
            if row is None:
                problems.append(f"{page_id}: no manifest row")
                continue
            got = (row.status, row.error_category)
            if got != (expect.status, expect.category):
                problems.append(f"{page_id}: expected {expect.status} {expect.category or ''}"
                                f", got {got}: {row.error_message}")
                continue
            if expect.status == FAILED:
                if not row.error_message or name.split(".")[0] not in row.error_message:
                    problems.append(f"{page_id}: message does not name the file: "
                                    f"{row.error_message}")
                continue
            text = run.text(page_id)
            page_facts = facts(run, page_id)
            if expect.text is True and not text.strip():
                problems.append(f"{page_id}: expected text, got none")
            if expect.text is False and "empty" not in row.flags.split(","):
                problems.append(f"{page_id}: expected an empty-page flag, got {text!r}")
            steps = tuple(s for s in page_facts["image"]["steps"] if not s.startswith("frame_"))
            if expect.steps is not None and steps != expect.steps:
                problems.append(f"{page_id}: normalisation steps {steps}, expected "
                                f"{expect.steps}")
            if expect.phototest and (rate := cer(phototest_truth, text)) >= 0.05:
                problems.append(f"{page_id}: CER {rate:.1%} against phototest's truth")
    assert not problems, "\n".join(problems)
    assert sorted(rows) == sorted(expected_ids)


@pytest.fixture(scope="module")
def batch(shared_testdata: Path, shared_ocr: SharedOcr) -> Batch:
    """Every file of `bad/` in one folder, OCRed once per session."""
    bad = shared_ocr.folders["bad"]
    return Batch(bad.run, bad.report, [p.name for p in bad_inputs(shared_testdata)])


@pytest.fixture(scope="module")
def phototest_truth(shared_testdata: Path) -> str:
    return (shared_testdata / "pages" / "tesseract-ocr_test" / "phototest.gt.txt").read_text()


def test_every_bad_input_gets_its_outcome_in_one_batch(batch: Batch,
                                                       phototest_truth: str) -> None:
    check_outcomes(batch, phototest_truth)
    rows = batch.run.manifest.pages(batch.run.key)
    assert sum(rows[f"ocropy_aim916.tiff#{n}"].chars for n in range(1, 29)) > 20000
    assert facts(batch.run, "large_gerstner_1831_0019.jpg")["image"]["width"] == 6083


def test_tiled_and_old_style_jpeg_tiffs_are_read_through_pillow(batch: Batch) -> None:
    run = batch.run
    pyramid = facts(run, "indian-ferns_0004_pyramid.tif")
    assert pyramid["image"]["normalised"] is True
    assert (pyramid["image"]["width"], pyramid["image"]["height"]) == (2626, 3620)  # full size
    assert "FERNS" in run.text("indian-ferns_0004_pyramid.tif").upper()
    old_jpeg = facts(run, "old-style-jpeg-compression.tif")
    assert old_jpeg["image"]["normalised"] is True
    assert old_jpeg["words"] > 0


def test_a_sparse_page_keeps_its_one_line(batch: Batch) -> None:
    run = batch.run
    assert cer("To simple burn running of goods lately.",
               run.text("sparse_trainingtimes.tif")) < 0.05


def test_failures_are_in_the_report_and_have_no_outputs(batch: Batch) -> None:
    run, failures = batch.run, batch.report.failures
    assert [r.page_id for r in failures] == sorted(
        name for name, expect in EXPECTED.items() if expect.status == FAILED)
    outputs = {p.name for p in run.out_dir.iterdir()}
    for row in failures:
        assert not any(name.startswith(row.page_id) for name in outputs), row.page_id


def test_a_rerun_of_the_bad_batch_does_no_ocr(batch: Batch) -> None:
    run = batch.run
    before = {p: (r.attempts, r.updated_at) for p, r in run.manifest.pages(run.key).items()}

    again = run.process(workers=2)

    assert again.processed == 0  # every failure here is deterministic: not retried
    assert again.skipped == again.pages == len(before)
    assert {p: (r.attempts, r.updated_at)
            for p, r in run.manifest.pages(run.key).items()} == before

