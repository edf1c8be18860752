"""The corpus build's folder frames gathered into a few chunks: the same rows, in the same order
and with the same column types as one concatenation of every folder's frame, while the frames
held stay few however many folders come."""

from __future__ import annotations

import pandas as pd
from pandas.testing import assert_frame_equal

from ocr_assets.engine.corpus.build import CORPUS_COLUMNS, FrameChunks


def folder_frame(number: int, pages: int) -> pd.DataFrame:
    """A folder's corpus rows: `pages` pages, or an empty frame."""
    return pd.DataFrame.from_records(
        [{"folder": f"folder {number}", "partition": f"p{number}", "page": f"page_{page}.png",
          "text": f"text {number}.{page}", "mean_confidence": 90.0 + page, "garbage_score": 0.1,
          "flags": "", "flag_reason": None, "words": 2, "chars": 10 + page, "engine": "tesserocr",
          "engine_version": "5.5.4", "settings": None, "fingerprint": f"{number:08x}{page}"}
         for page in range(pages)], columns=list(CORPUS_COLUMNS))


def test_chunks_hold_every_row_in_order_as_a_few_frames() -> None:
    frames = [folder_frame(number, number % 3) for number in range(25)]
    chunks = FrameChunks(folders_per_chunk=4)
    for frame in frames:
        chunks.add(frame)

    non_empty = [frame for frame in frames if len(frame)]
    assert_frame_equal(chunks.frame(), pd.concat(non_empty, ignore_index=True))
    assert chunks.rows == sum(len(frame) for frame in frames) == 24
    # 16 non-empty folders, 4 to a chunk: the empty ones are not kept at all.
    assert len(chunks.frames()) == 4


def test_chunks_keep_a_partial_last_chunk() -> None:
    chunks = FrameChunks(folders_per_chunk=4)
    for number in range(1, 7):
        chunks.add(folder_frame(number, 1))

    assert [len(frame) for frame in chunks.frames()] == [4, 2]
    assert chunks.frame()["partition"].tolist() == [f"p{n}" for n in range(1, 7)]


def test_no_rows_give_an_empty_frame_with_the_corpus_columns() -> None:
    chunks = FrameChunks()
    chunks.add(folder_frame(1, 0))

    assert chunks.frames() == []
    assert chunks.rows == 0
    assert list(chunks.frame().columns) == list(CORPUS_COLUMNS)
    assert chunks.frame().empty
