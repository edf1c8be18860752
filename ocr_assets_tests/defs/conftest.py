"""A scans root with two small folders, a temporary Dagster instance, and the project's assets
wired to them: the Dagster-layer tests materialize real partitions with real Tesseract."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image

from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import register_and_add_partitions

FIXTURE_PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


@dataclass
class Project:
    scans: Path
    data: Path
    ocr: OcrConfig
    instance: dg.DagsterInstance

    def register(self) -> list[str]:
        """What the CLI does: map folders to keys and add the partitions."""
        return sorted(register_and_add_partitions(self.instance, self.ocr.project()).scan.folders)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    scans, data = tmp_path / "scans", tmp_path / "data"
    good = scans / "box-001"
    good.mkdir(parents=True)
    shutil.copy(FIXTURE_PAGES / "phototest.tif", good / "page_1.tif")
    Image.new("L", (600, 800), 255).save(good / "page_2.png")  # a blank page
    (good / "Thumbs.db").write_bytes(b"\0" * 64)
    mixed = scans / "box, 2"
    mixed.mkdir()
    shutil.copy(FIXTURE_PAGES / "phototest.tif", mixed / "page_1.tif")
    (mixed / "page_2.tif").write_bytes((FIXTURE_PAGES / "phototest.tif").read_bytes()[:300])
    ocr = OcrConfig(scans_root=str(scans), data_root=str(data), workers=2)
    with dg.instance_for_test() as instance:
        yield Project(scans, data, ocr, instance)
        ocr.project().close()
