"""Every number the UI shows for a folder is the manifest's after the run: the folder job's
latest materializations and check results against `ocr-assets status --json`, on a folder that
mixes good, truncated, empty, non-image, blank, noisy and turned pages, with one page the retry
pass recovers and pages that still fail."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
from PIL import Image

from ocr_assets.engine.manifest import DONE, FAILED
from ocr_assets.orchestration.run_state import register_and_add_partitions
from ocr_assets_tests.defs.conftest import FIXTURE_PAGES, Project
from ocr_assets_tests.helpers import REPO
from ocr_assets_tests.project_defs import check_results, materialization, run_folders

MIXED = "mixed"


def mixed_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "good.tif").write_bytes((FIXTURE_PAGES / "phototest.tif").read_bytes())
    buffer = io.BytesIO()
    Image.open(FIXTURE_PAGES / "phototest.tif").convert("L").save(buffer, format="PNG")
    (folder / "truncated.png").write_bytes(buffer.getvalue()[: int(len(buffer.getvalue()) * 0.6)])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not a page")
    Image.new("L", (600, 800), 255).save(folder / "blank.png")
    Image.effect_noise((500, 500), 90).save(folder / "noisy.png")
    with Image.open(FIXTURE_PAGES / "phototest.tif") as page:
        page.rotate(90, expand=True).save(folder / "turned.png", dpi=page.info["dpi"])


def status_of(project: Project, key: str) -> dict:
    """`ocr-assets status --json` for one folder, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "status", "--json",
                             "--data", str(project.data)],
                            capture_output=True, text=True, timeout=120, check=True, cwd=REPO)
    [folder] = [f for f in json.loads(result.stdout)["folders"] if f["partition"] == key]
    return folder


def test_the_latest_materialization_and_checks_say_what_status_says(project: Project) -> None:
    mixed_folder(project.scans / MIXED)
    register_and_add_partitions(project.instance, project.ocr.project())

    run = run_folders(project.instance, project.ocr, MIXED)
    assert run.success

    status = status_of(project, MIXED)
    manifest = project.ocr.project().manifest
    rows = manifest.pages(MIXED)
    assert {page for page, row in rows.items() if row.status == FAILED} == {"empty.png"}
    assert rows["truncated.png"].status == DONE, "the retry pass recovered it"
    assert rows["turned.png"].status == DONE

    [texts] = project.instance.fetch_materializations(
        dg.AssetKey("page_texts"), limit=1).records
    assert texts.run_id == run.run_id and texts.partition_key == MIXED
    metadata = texts.asset_materialization.metadata
    assert (metadata["pages"].value, metadata["done"].value, metadata["failed"].value) == (
        status["pages"], status["done"], status["failed"]) == (6, 5, 1)
    assert metadata["recovered"].value == 1
    assert "pending" not in metadata and status["pending"] == 0
    assert "empty.png" in metadata["failures"].value
    assert "truncated.png" not in metadata["failures"].value

    checks = check_results(project.instance, run.run_id, MIXED)
    assert checks["counts_invariant"].passed
    assert checks["counts_invariant"].metadata["done"].value == status["done"]
    assert not checks["no_failed_pages"].passed
    assert checks["no_failed_pages"].metadata["failed"].value == status["failed"]
    assert "empty.png" in checks["no_failed_pages"].description
    flagged = {(entry["page"], entry["reason"].split(":")[0]) for entry in status["flagged"]}
    named = {(p["page"], check.removesuffix("_pages"))
             for check in ("empty_pages", "garbage_pages", "partial_pages")
             for p in checks[check].metadata["pages"].value}
    assert named == flagged, "each flagged page is named by the check of its flag"
    assert ("blank.png", "empty") in named
    assert ("truncated.png", "partial") in named, "its text is only the top of the page"
    assert not checks["partial_pages"].passed and "truncated.png" in \
        checks["partial_pages"].description
    [partial] = [e for e in status["flagged"] if e["page"] == "truncated.png"
                 and e["reason"].startswith("partial:")]
    assert "truncated file" in partial["reason"]
    facts = json.loads((project.data / "ocr" / MIXED / "truncated.png.json").read_text())
    assert facts["flags"][0] == "partial" and "truncated file" in facts["flag_reason"]

    report = materialization(project.instance, run.run_id, "failed_pages", MIXED)
    assert report.metadata["failed"].value == status["failed"]
    assert report.metadata["recovered"].value == 1
