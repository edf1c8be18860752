"""The Tesseract CLI backend against the real program: one single-threaded run per page for text
and word confidences together, and what it reports on files Leptonica cannot decode (which the
worker then records as `empty_output_from_unreadable_image`)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ocr_assets.engine.page.engines import tesseract_cli
from ocr_assets.engine.page.engines.tesseract_cli import tesseract_pass
from ocr_assets_tests.helpers import new_run


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


def test_each_page_is_one_single_threaded_tesseract_run_that_writes_text_and_tsv(
        tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `tesseract` on PATH that logs each run (its parent, its OMP_THREAD_LIMIT, its command
    line, the outputs it left) and runs the real one. The operator's environment says 8
    threads; every page's Tesseract, started by a pool worker, still runs with 1. The engine is
    named: the default (`auto`) keeps Tesseract loaded where tesserocr is installed."""
    real = shutil.which("tesseract")
    assert real, "tesseract is not installed (scripts/setup.sh installs it)"
    log = tmp_path / "tesseract.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "tesseract"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'{shlex.quote(real)} "$@"\nstatus=$?\n'
        'outputs=""\nfor ext in txt tsv; do [ -f "$2.$ext" ] && outputs="$outputs $ext"; done\n'
        f'printf "%s\\t%s\\t%s\\t%s\\n" "$PPID" "${{OMP_THREAD_LIMIT-unset}}" "$outputs" "$*" '
        f">> {shlex.quote(str(log))}\n"
        "exit $status\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    run = new_run(tmp_path)
    for name in ("page_1.tif", "page_2.tif"):
        shutil.copy(fixtures_dir / "pages" / "phototest.tif", run.folder / name)

    report = run.process(workers=1, auto_rotate=False, engine="pytesseract")

    assert report.done == 2, report.failures
    runs = [line.split("\t") for line in log.read_text().splitlines()]
    page_runs = [r for r in runs if "--version" not in r[3] and "--list-langs" not in r[3]]
    assert sorted(Path(r[3].split()[0]).name for r in page_runs) == ["page_1.tif", "page_2.tif"]
    for parent, threads, outputs, command in page_runs:
        assert int(parent) != os.getpid(), "Tesseract was not started by a pool worker"
        assert threads == "1", command
        assert outputs.split() == ["txt", "tsv"], command
        assert "tessedit_create_tsv=1" in command


def test_the_models_are_listed_once_until_one_is_installed(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A run checks the models of every folder it reads: `tesseract --list-langs` runs once,
    and again only when the tessdata directory changed (a model added)."""
    installed = tesseract_cli.model_listing().tessdata
    assert installed is not None and (installed / "eng.traineddata").is_file()
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir()
    (tessdata / "eng.traineddata").symlink_to(installed / "eng.traineddata")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tessdata))
    listings: list[object] = []
    real_run = subprocess.run
    monkeypatch.setattr(tesseract_cli.subprocess, "run",
                        lambda *args, **kwargs: listings.append(args) or real_run(*args, **kwargs))

    assert tesseract_cli.installed_languages() == {"eng"}
    assert tesseract_cli.model_listing().tessdata == tessdata
    assert len(listings) == 1, "asked once"
    (tessdata / "deu.traineddata").symlink_to(installed / "deu.traineddata")
    assert tesseract_cli.installed_languages() == {"eng", "deu"}
    assert len(listings) == 2, "asked again once the directory changed"
