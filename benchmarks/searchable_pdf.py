"""What searchable PDFs cost, and how faithfully their text extracts, on the shared test set.

Each page is read once (the tesserocr engine, `eng`, psm 3: the word match does not depend on
the model) and its page PDF made from that pass as the worker makes it (`page_pdf`), three
times, timing the CPU of this process; then every page PDF is merged into one folder PDF,
plain and PDF/A-2b (`build_folder_pdf`'s merge), three times each. The extracted text of each
page PDF is compared with the page's text word by word: PDFium (`pypdfium2`, what the check
uses, a hyphen joined across lines split back), poppler's `pdftotext` (default layout mode)
and `pdftotext -raw` (content-stream order). The match rate is the share of the text's words
found in order (longest common subsequence); `exact` counts pages whose words are all equal.

    .venv/bin/python -m benchmarks.searchable_pdf /path/to/shared/testdata [out_dir]
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from benchmarks.report import table, write_results
from ocr_assets.engine.folder.searchable_pdf import extracted_words, matched_words
from ocr_assets.engine.page.engines.tesserocr_engine import TesserocrEngine
from ocr_assets.engine.page.searchable_pdf import page_pdf

REPEATS = 3
IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg"}


def _cpu(action) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEATS):
        started = time.process_time()
        result = action()
        times.append(time.process_time() - started)
    return statistics.median(times), result


def _poppler(data: bytes, *options: str) -> list[str] | None:
    if shutil.which("pdftotext") is None:
        return None
    done = subprocess.run(["pdftotext", *options, "-", "-"], input=data, capture_output=True,
                          check=True)
    return done.stdout.decode("utf-8").split()


def _pdfium(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    try:
        return extracted_words(document[0].get_textpage().get_text_bounded())
    finally:
        document.close()


def _merge(pages: list[bytes], pdfa: bool) -> bytes:
    merged = pikepdf.new()
    opened = [pikepdf.open(io.BytesIO(data)) for data in pages]
    for pdf in opened:
        merged.pages.extend(pdf.pages)
    out = io.BytesIO()
    if pdfa:
        from pikepdf.pdfa import save
        save(merged, out, "2b")
    else:
        merged.save(out)
    return out.getvalue()


def main(testdata: Path, out: Path) -> None:
    engine = TesserocrEngine()
    rows, pages = [], []
    readers = ("pdfium", "pdftotext", "pdftotext_raw")
    totals = {name: [0, 0, 0] for name in readers}
    with tempfile.TemporaryDirectory() as tmp:
        for image in sorted(p for p in (testdata / "pages").glob("*/*")
                            if p.suffix.lower() in IMAGE_SUFFIXES):
            started = time.process_time()
            reading = engine.recognise(image, Path(tmp), lang="eng", psm=3, timeout_s=300)
            ocr_s = time.process_time() - started
            pdf_s, data = _cpu(lambda r=reading, i=image: page_pdf(r.image_path, r.tsv, i.name))
            pages.append(data)
            words = reading.text.split()
            found = {"pdfium": _pdfium(data), "pdftotext": _poppler(data),
                     "pdftotext_raw": _poppler(data, "-raw")}
            row = {"page": f"{image.parent.name}/{image.name}", "words": len(words),
                   "ocr_cpu_s": round(ocr_s, 3), "pdf_cpu_s": round(pdf_s, 4),
                   "image_bytes": image.stat().st_size, "pdf_bytes": len(data)}
            for name, extracted in found.items():
                if extracted is None:
                    continue
                matched = matched_words(words, extracted)
                totals[name][0] += matched
                totals[name][1] += len(words)
                totals[name][2] += extracted == words
                row[f"{name}_match"] = round(matched / len(words), 4) if words else 1.0
            rows.append(row)
            print(row, file=sys.stderr)
    merge_s, merged = _cpu(lambda: _merge(pages, pdfa=False))
    pdfa_s, merged_a = _cpu(lambda: _merge(pages, pdfa=True))
    results = {
        "pages": rows,
        "word_match": {name: {"rate": round(m / n, 4) if n else None, "exact_pages": exact,
                              "words": n} for name, (m, n, exact) in totals.items()},
        "folder": {"pages": len(pages), "merge_cpu_s": round(merge_s, 3),
                   "pdfa_merge_cpu_s": round(pdfa_s, 3), "bytes": len(merged),
                   "pdfa_bytes": len(merged_a), "page_pdf_bytes": sum(map(len, pages))},
        "median_pdf_cpu_s": statistics.median(r["pdf_cpu_s"] for r in rows),
        "median_ocr_cpu_s": statistics.median(r["ocr_cpu_s"] for r in rows),
        "sum_pdf_cpu_s": round(sum(r["pdf_cpu_s"] for r in rows), 3),
        "sum_ocr_cpu_s": round(sum(r["ocr_cpu_s"] for r in rows), 3),
        "image_bytes": sum(r["image_bytes"] for r in rows),
    }
    markdown = "\n\n".join([
        "# Searchable PDFs on the shared test set",
        table(("reader", "word match", "pages word for word", "words"),
              ((name, value["rate"], f"{value['exact_pages']} of {len(rows)}", value["words"])
               for name, value in results["word_match"].items())),
        table(("what", "value"), (
            ("page PDF, CPU s per page (median)", results["median_pdf_cpu_s"]),
            ("OCR, CPU s per page (median)", results["median_ocr_cpu_s"]),
            ("page PDFs / OCR, CPU s (sum)",
             f"{results['sum_pdf_cpu_s']} / {results['sum_ocr_cpu_s']}"),
            ("source images, bytes", results["image_bytes"]),
            ("page PDFs, bytes", results["folder"]["page_pdf_bytes"]),
            ("folder PDF, bytes (PDF/A-2b)",
             f"{results['folder']['bytes']} ({results['folder']['pdfa_bytes']})"),
            ("folder merge, CPU s (PDF/A-2b)",
             f"{results['folder']['merge_cpu_s']} ({results['folder']['pdfa_merge_cpu_s']})"),
        )),
        table(("page", "words", "OCR CPU s", "PDF CPU s", "image bytes", "PDF bytes",
               "PDFium", "pdftotext", "pdftotext -raw"),
              ((r["page"], r["words"], r["ocr_cpu_s"], r["pdf_cpu_s"], r["image_bytes"],
                r["pdf_bytes"], r.get("pdfium_match"), r.get("pdftotext_match"),
                r.get("pdftotext_raw_match")) for r in rows)),
    ]) + "\n"
    write_results(out, results, markdown)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2
         else Path("benchmarks/results/searchable_pdf"))
