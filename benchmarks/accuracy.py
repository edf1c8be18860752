"""Character error rate of each engine, and of the bare CLI, on the same pages.

Scored by the engine's own scorer (`ocr_assets.engine.folder.accuracy`: jiwer edit distances after
its stated normalisation), over the pages of the first folder that have ground truth; the
batch's folders hold the same pages, so one folder is all of them. The rate of a set of pages
is their errors over their reference length (a long page weighs more), as the engine's folder
rate is.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.batch import Batch
from ocr_assets.engine.folder.accuracy import FolderAccuracy, score_text


def score(batch: Batch, texts: Mapping[str, str]) -> dict[str, object]:
    """`texts`: source (`<dir>/<file>`) -> the text an engine read from it."""
    every = FolderAccuracy()
    by_source_dir: dict[str, FolderAccuracy] = {}
    for source in batch.sources:
        if source.ground_truth is None:
            continue
        page = score_text(source.ground_truth.read_text(encoding="utf-8"),
                          texts[source.source], source.source)
        every.pages.append(page)
        by_source_dir.setdefault(source.image.parent.name, FolderAccuracy()).pages.append(page)
    return {"pages": len(every.pages),
            "cer": None if every.cer is None else round(every.cer, 4),
            "wer": None if every.wer is None else round(every.wer, 4),
            "by_source": {name: round(result.cer, 4)
                          for name, result in sorted(by_source_dir.items())},
            "per_page": {page.page: round(page.cer, 4) for page in every.pages}}


def identical_pages(left: Mapping[str, str], right: Mapping[str, str]) -> int:
    """How many pages two engines read to exactly the same text (trailing whitespace aside)."""
    return sum(left[name].rstrip() == right[name].rstrip() for name in left)
