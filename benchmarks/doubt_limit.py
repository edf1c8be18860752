"""The mean word confidence and garbage score of each shared page's first reading, with the
model its folder would name: what the default doubt limit (`retry_below_confidence`) is
calibrated on. The German pages are read with `deu` (a modern model, which a mixed folder
would name) and again with `script/Fraktur` (what `alt_lang` would read them with); the others
with `eng`, the turned ones as orientation detection hands them over (upright, so they are
phototest's reading and are left out). Each reading's CER against `.gt.txt`.

    .venv/bin/python -m benchmarks.doubt_limit [--testdata DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.page_classes import SHARED_CLASSES
from benchmarks.report import table, write_results
from ocr_assets.engine.folder.accuracy import score_text
from ocr_assets.engine.page.engines.tesserocr_engine import TesserocrEngine
from ocr_assets.engine.page.quality import score_page
from ocr_assets.engine.page.wordlists import load_words
from ocr_assets.engine.settings import DEFAULT_RETRY_BELOW_CONFIDENCE

ALT_LANG = "script/Fraktur"


def _reading(engine: TesserocrEngine, page: Path, lang: str, truth: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as work:
        result = engine.recognise(page, Path(work), lang=lang, psm=3, timeout_s=300)
    quality = score_page(result.text, result.confidences, load_words(lang))
    return {"model": lang, "mean_confidence": round(quality.mean_confidence or 0.0, 1),
            "garbage_score": round(quality.garbage_score, 3), "flags": list(quality.flags),
            "cer": round(score_text(truth, result.text).cer, 4)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--testdata", type=Path, default=Path(
        os.environ.get("OCR_ASSETS_TESTDATA")
        or Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/doubt_limit"))
    args = parser.parse_args(argv)
    engine = TesserocrEngine()
    rows = []
    for page_class, (_, names) in SHARED_CLASSES.items():
        if page_class == "turned":
            continue
        german = page_class.startswith("German")
        for name in names:
            page = args.testdata / "pages" / name
            truth = page.with_name(page.name.rsplit(".", 1)[0] + ".gt.txt").read_text("utf-8")
            row = {"class": page_class, "page": name,
                   "first": _reading(engine, page, "deu" if german else "eng", truth)}
            if german:
                row["alt"] = _reading(engine, page, ALT_LANG, truth)
            rows.append(row)
            print(row, file=sys.stderr)
    limit = DEFAULT_RETRY_BELOW_CONFIDENCE
    markdown = "\n\n".join([
        "# The doubt limit: first readings of the shared pages "
        "(`python -m benchmarks.doubt_limit`)",
        f"Read again at the default limit ({limit:g}): "
        f"{sum(r['first']['mean_confidence'] < limit or bool(r['first']['flags']) for r in rows)}"
        f" of {len(rows)} pages.",
        table(("class", "page", "model", "confidence", "garbage score", "flags", "CER",
               f"CER with {ALT_LANG}"),
              [(r["class"], r["page"].split("/")[-1], r["first"]["model"],
                r["first"]["mean_confidence"], r["first"]["garbage_score"],
                " ".join(r["first"]["flags"]), f"{r['first']['cer']:.2%}",
                f"{r['alt']['cer']:.2%}" if "alt" in r else "")
               for r in rows]),
    ]) + "\n"
    write_results(args.out, {"limit": limit, "pages": rows}, markdown)


if __name__ == "__main__":
    main()
