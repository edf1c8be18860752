"""A stand-in for the Tesseract CLI, run as a program by the fault-injection engine.

It takes Tesseract's command line (`<image> <outbase> -l <lang> --psm <n> -c name=value ... txt`),
so the real backend code (pytesseract, its timeout, the error mapping) runs against it, and
either OCRs instantly with a text that is a pure function of the image's bytes (`fake_text`, so
a harness can check every output file), or fails the way Tesseract does:

    -c ocr_assets_fault=tesseract-crash   dies with SIGSEGV, as Tesseract does on some inputs
    -c ocr_assets_fault=tesseract-hang    never finishes (the timeout must kill it)
    -c ocr_assets_fault=invalid-utf8      writes text and TSV that are not UTF-8
    -c ocr_assets_fault=image-too-large   exits 1 with Tesseract's "Image too large" message
    -c ocr_assets_fault=leptonica-unreadable  exits 0 with an empty text and a TSV without a
                                          page row, what Tesseract 5.3 does on tiled and
                                          old-style-JPEG TIFFs (Leptonica cannot decode them)
    -c ocr_assets_delay=<seconds>         takes that long per page

Standard library only, and no import of the project: it starts in a few milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from pathlib import Path

VERSION = "tesseract 5.3.0 (ocr-assets fake)"
SENTENCE = "The quick brown fox jumps over the lazy dog."


def fake_text(image: bytes) -> str:
    """The text the fake reads from an image: a sentence and the image's digest."""
    return f"{SENTENCE}\nPage {hashlib.sha256(image).hexdigest()[:16]}\n"


def _tsv(text: str) -> str:
    header = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
              "height\tconf\ttext")
    rows = [header, "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t"]
    for line_num, line in enumerate(text.splitlines(), start=1):
        for word_num, word in enumerate(line.split(), start=1):
            rows.append(f"5\t1\t1\t1\t{line_num}\t{word_num}\t0\t0\t10\t10\t96.5\t{word}")
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    if "--version" in argv:
        print(VERSION)
        return 0
    image, out_base = Path(argv[0]), Path(argv[1])
    options = {}
    for index, arg in enumerate(argv):
        if arg == "-c" and index + 1 < len(argv):
            name, _, value = argv[index + 1].partition("=")
            options[name] = value
    data = image.read_bytes()
    time.sleep(float(options.get("ocr_assets_delay", "0")))
    fault = options.get("ocr_assets_fault", "")
    if fault == "tesseract-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "tesseract-hang":
        while True:
            time.sleep(3600)
    if fault == "image-too-large":
        print("Image too large: (48000, 64000)\nError during processing.", file=sys.stderr)
        return 1
    if fault == "leptonica-unreadable":
        print("Error in pixReadFromTiffStream: old style jpeg format is not supported",
              file=sys.stderr)
        out_base.with_suffix(".txt").write_text("", encoding="utf-8")
        out_base.with_suffix(".tsv").write_text(_tsv("").splitlines()[0], encoding="utf-8")
        return 0
    if fault == "invalid-utf8":
        out_base.with_suffix(".txt").write_bytes(b"caf\xe9 \xff\xfe broken\n")
        out_base.with_suffix(".tsv").write_bytes(b"level\n\xff\xfe\n")
        return 0
    text = fake_text(data)
    out_base.with_suffix(".txt").write_text(text, encoding="utf-8")
    out_base.with_suffix(".tsv").write_text(_tsv(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
