"""The baseline: the bare Tesseract CLI over the same pages, one process per core.

`xargs -0 -n 2 -P <workers> tesseract --psm P -l L <image> <outbase>` with
`OMP_THREAD_LIMIT=1`, the way OCRmyPDF and the Tesseract FAQ run it: every page is a new
process that loads the model, and writes plain text only (less than the pipeline writes).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchmarks.machine import Timed, run_measured


def cli_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def run_baseline(images: list[Path], out_dir: Path, *, workers: int, lang: str,
                 psm: int) -> Timed:
    """OCR `images` with the CLI into `out_dir/<n>.txt` (n = the image's index)."""
    program = shutil.which("tesseract")
    if program is None:
        raise SystemExit("the tesseract program is not on PATH: run scripts/setup.sh")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    arguments = b"".join(os.fsencode(image) + b"\0" + os.fsencode(out_dir / str(index)) + b"\0"
                         for index, image in enumerate(images))
    timed = run_measured(["xargs", "-0", "-n", "2", "-P", str(workers), program, "--psm",
                          str(psm), "-l", lang], env=cli_env(), stdin=arguments)
    written = len(list(out_dir.glob("*.txt")))
    if timed.returncode != 0 or written != len(images):
        raise SystemExit(f"the CLI baseline failed (exit {timed.returncode}, {written} of "
                         f"{len(images)} texts written): {timed.stderr[-1000:]}")
    return timed


def baseline_text(out_dir: Path, index: int) -> str:
    return (out_dir / f"{index}.txt").read_text(encoding="utf-8")
