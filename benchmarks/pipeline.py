"""The project end to end, cold: `ocr-assets run` on a batch with a fresh data root.

Fresh means no manifest, no outputs and a new Dagster instance: the command registers every
folder as a partition, materializes the folders (OCR, failed-pages report, checks) in
in-process Dagster runs of up to `OCR_ASSETS_FOLDERS_PER_RUN` folders each, then builds the
corpus and checks it. The harness then reads the
instance's run records and the manifest to split the time into orchestration and OCR.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.batch import Batch
from benchmarks.machine import Timed, run_measured
from ocr_assets.engine.corpus.build import read_corpus
from ocr_assets.engine.manifest import open_manifest
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.store.outputs import LocalStore, read_text

PROJECT_VARIABLES_KEPT = frozenset({"OCR_ASSETS_PAGE_TIMEOUT_S", "OCR_ASSETS_RECYCLE_AFTER"})


@dataclass
class Overheads:
    """Where the orchestration's time goes, in seconds."""

    startup_s: float = 0.0
    """Command start to the first folder's run launch: imports, folder registration, the plan."""
    launch_to_first_page_s: list[float] = field(default_factory=list)
    """Per folder run (one folder or many): its launch to the start of its first page (run
    start, resources, plan, the worker pool's start, the engine's load)."""
    last_page_to_end_s: list[float] = field(default_factory=list)
    """Per folder run: the end of its last page to the end of the run (the last folder's
    retry pass, reports and checks, the pool's shutdown)."""
    folder_runs: int = 0
    """How many folder runs the command launched (folders share runs)."""
    corpus_run_s: float = 0.0
    """The corpus run: build, write, completeness check."""
    exit_s: float = 0.0
    """The corpus run's end to the command's exit (summary, interpreter shutdown)."""
    ocr_s: float = 0.0
    """The sum of every page's time inside its worker (prepare, OCR, write)."""

    def as_dict(self) -> dict[str, object]:
        def stats(values: list[float]) -> dict[str, float]:
            return ({"median": round(statistics.median(values), 3),
                     "max": round(max(values), 3)} if values else {})

        return {"startup_s": round(self.startup_s, 3),
                "launch_to_first_page_s": stats(self.launch_to_first_page_s),
                "last_page_to_end_s": stats(self.last_page_to_end_s),
                "folder_runs": self.folder_runs,
                "corpus_run_s": round(self.corpus_run_s, 3), "exit_s": round(self.exit_s, 3),
                "ocr_s": round(self.ocr_s, 1)}


@dataclass
class PipelineRun:
    engine: str
    auto_rotate: bool
    timed: Timed
    overheads: Overheads
    data_root: Path


def pipeline_env(batch: Batch, data_root: Path, *, engine: str, auto_rotate: bool,
                 workers: int, lang: str, psm: int) -> dict[str, str]:
    """The environment of one cold run: only the benchmark's settings, the project's defaults
    for everything else, and no inherited Dagster home."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("OCR_ASSETS_") or name in PROJECT_VARIABLES_KEPT}
    env.pop("DAGSTER_HOME", None)
    env.update({"OCR_ASSETS_SCANS": str(batch.scans_root), "OCR_ASSETS_DATA": str(data_root),
                "OCR_ASSETS_ENGINE": engine, "OCR_ASSETS_WORKERS": str(workers),
                "OCR_ASSETS_LANG": lang, "OCR_ASSETS_PSM": str(psm),
                "OCR_ASSETS_AUTO_ROTATE": "1" if auto_rotate else "0",
                # The batches repeat source pages: each must be OCRed, not taken as a copy.
                "OCR_ASSETS_REUSE_DUPLICATES": "0"})
    return env


def run_pipeline(batch: Batch, data_root: Path, *, engine: str, auto_rotate: bool,
                 workers: int, lang: str, psm: int) -> PipelineRun:
    """One cold end-to-end run, verified: every page done, the corpus complete.
    `auto_rotate` turns orientation detection on (as by default: asked about doubtful pages)."""
    if data_root.exists():
        shutil.rmtree(data_root)
    env = pipeline_env(batch, data_root, engine=engine, auto_rotate=auto_rotate,
                       workers=workers, lang=lang, psm=psm)
    timed = run_measured([sys.executable, "-m", "ocr_assets.cli", "run"], env=env)
    if timed.returncode != 0:
        raise SystemExit(f"`ocr-assets run` with engine {engine} exited {timed.returncode}: "
                         f"{timed.stderr[-2000:]}")
    _verify(batch, data_root, engine)
    return PipelineRun(engine, auto_rotate, timed, read_overheads(data_root, timed), data_root)


def _verify(batch: Batch, data_root: Path, engine: str) -> None:
    manifest = open_manifest(data_root / "manifest.sqlite")
    try:
        done = sum(counts["done"] for counts in manifest.status_counts().values())
    finally:
        manifest.close()
    rows = len(read_corpus(LocalStore(data_root / "corpus"), columns=["page"]))
    if done != batch.pages or rows != batch.pages:
        raise SystemExit(f"engine {engine}: {done} pages done and {rows} corpus rows, expected "
                         f"{batch.pages} of each; see the manifest under {data_root}")


def read_overheads(data_root: Path, timed: Timed) -> Overheads:
    """Split the run's time from the Dagster instance's run records and the manifest."""
    import dagster as dg

    from ocr_assets.orchestration.batches import partitions_of_run

    overheads = Overheads()
    instance = dg.DagsterInstance.from_config(str(data_root / "dagster_home"))
    manifest = open_manifest(data_root / "manifest.sqlite")
    order = instance.get_dynamic_partitions("scan_folders")
    launches: list[float] = []
    try:
        for record in instance.get_run_records():
            run = record.dagster_run
            launched = record.create_timestamp.timestamp()
            launches.append(launched)
            ended = record.end_time or launched
            if run.job_name != "ocr_folder_job":
                overheads.corpus_run_s = ended - launched
                overheads.exit_s = timed.started_at + timed.wall_s - ended
                continue
            overheads.folder_runs += 1
            pages = [row for key in partitions_of_run(run.tags, order)
                     for row in manifest.pages(key).values()
                     if row.updated_at is not None and row.ms is not None]
            if not pages:
                continue
            overheads.launch_to_first_page_s.append(
                min(row.updated_at - row.ms / 1000 for row in pages) - launched)
            overheads.last_page_to_end_s.append(ended - max(row.updated_at for row in pages))
            overheads.ocr_s += sum(row.ms for row in pages) / 1000
    finally:
        manifest.close()
        instance.dispose()
    overheads.startup_s = min(launches) - timed.started_at if launches else 0.0
    return overheads


def page_texts(data_root: Path, folder: str) -> dict[str, str]:
    """page id -> text of one folder of a finished run."""
    manifest = open_manifest(data_root / "manifest.sqlite")
    try:
        rows = manifest.pages(folder)
    finally:
        manifest.close()
    outputs = LocalStore(data_root / "ocr" / folder)
    return {page_id: read_text(outputs, output_keys(row.output_name)[0])
            for page_id, row in rows.items() if row.output_name}
