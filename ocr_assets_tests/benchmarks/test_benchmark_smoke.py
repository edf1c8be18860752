"""A tiny run of the benchmark script (`python -m benchmarks.run`): every section runs and
reports what it should. Benchmarks are not tests: nothing here looks at a time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.machine import classify_process
from benchmarks.run import Contender, contenders, main

ENGINES = ["pytesseract", "tesserocr"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> dict:
    pytest.importorskip("tesserocr", reason="tesserocr is not installed (scripts/setup.sh)")
    root = tmp_path_factory.mktemp("bench")
    pages = root / "pages"
    pages.mkdir()
    for name in ("phototest", "eurotext"):
        for suffix in (".tif", ".gt.txt"):
            shutil.copy(fixtures_dir / "pages" / f"{name}{suffix}", pages)
    out = root / "out"
    assert main(["--pages", str(pages), "--folders", "2", "--reps", "1", "--rotate-reps", "0",
                 "--engines", ",".join(ENGINES), "--small-folders", "1",
                 "--rerun-pages", "60", "--rerun-folders", "2", "--corpus-pages", "200",
                 "--corpus-folders", "4", "--work", str(root / "work"), "--out", str(out)]) == 0
    document = json.loads((out / "results.json").read_text())
    document["markdown"] = (out / "results.md").read_text()
    return document


def test_the_small_batch_ran_every_engine_for_its_memory_figures(results: dict) -> None:
    small = results["small_batch"]
    assert set(small) == {"pages", *ENGINES} and small["pages"] == 2
    for name in ENGINES:
        assert small[name]["wall_s"] > 0
        assert small[name]["peak_rss_mib"], f"{name}: no process's memory was sampled"


def test_every_contender_ran_on_the_whole_batch(results: dict) -> None:
    assert results["batch"]["pages"] == 4
    comparison = results["comparison"]
    assert set(comparison["runs"]) == {"cli", *ENGINES}
    for reps in comparison["runs"].values():
        assert len(reps) == 1 and reps[0]["wall_s"] > 0 and reps[0]["cpu_s"] > 0
    for name in ENGINES:
        assert comparison["ratio_pages_per_s"][name]["median"] > 0
        overheads = comparison["runs"][name][0]["overheads"]
        assert set(overheads["launch_to_first_page_s"]) == {"median", "max"}
        assert overheads["ocr_s"] > 0


def test_every_engine_reads_the_pages_and_the_default_gives_the_clis_text(results: dict) -> None:
    accuracy = results["comparison"]["accuracy"]
    for name in ("cli", *ENGINES):
        assert accuracy[name]["pages"] == 2
        assert accuracy[name]["cer"] < 0.05, accuracy[name]
    assert results["comparison"]["identical_to_cli"]["pytesseract"] == 2


def test_memory_is_seen_per_process_role(results: dict) -> None:
    runs = results["comparison"]["runs"]
    assert runs["cli"][0]["peak_rss_mib"]["tesseract"] > 0
    for name in ENGINES:
        peaks = runs[name][0]["peak_rss_mib"]
        assert peaks["orchestrator"] > 0 and peaks["worker"] > 0
    assert "tesseract" in runs["pytesseract"][0]["peak_rss_mib"]


def test_the_all_done_rerun_makes_no_ocr_call(results: dict) -> None:
    rerun = results["rerun"]
    assert rerun["pages"] == 60
    assert (rerun["ocr_calls"], rerun["attempts_changed"], rerun["todo_after"]) == (0, 0, 0)


def test_the_corpus_holds_every_synthetic_page(results: dict) -> None:
    corpus = results["corpus"]
    assert corpus["rows_full"] == corpus["rows_incremental"] == corpus["pages"] == 200
    assert corpus["changed_pages"] == 50


def test_the_markdown_has_every_table(results: dict) -> None:
    for heading in ("## Throughput", "## Accuracy", "## Orchestration overhead",
                    "## Peak memory", "## Re-run of an all-done batch", "## Corpus build"):
        assert heading in results["markdown"]


def test_processes_are_classified_by_role() -> None:
    assert classify_process("tesseract", "tesseract a.png out") == "tesseract"
    worker = ("python -c from multiprocessing.spawn import spawn_main; "
              "spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork")
    assert classify_process("python", worker) == "worker"
    assert classify_process("python", "python -c from multiprocessing.resource_tracker import "
                                      "main;main(4)") == "other"
    assert classify_process("xargs", "xargs -0 -n 2") == "other"


def test_orientation_detection_is_a_contender_of_its_own_only_when_asked() -> None:
    assert contenders(["tesserocr"], 0, ["tesserocr"]) == [Contender("cli"),
                                                           Contender("tesserocr", "tesserocr")]
    assert contenders(["tesserocr"], 1, ["tesserocr"])[-1] == Contender(
        "tesserocr+rotate", "tesserocr", auto_rotate=True)
