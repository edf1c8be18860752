"""Helpers shared by the test modules: ground truth, one-folder runs (and the engine's `cer`)."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.batch import FolderReport
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import Manifest, open_manifest
from ocr_assets.engine.page.engines.tesseract_cli import installed_languages
from ocr_assets.engine.page.worker import output_keys
from ocr_assets.engine.project import Project, ScanFolder
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore, read_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
FRAKTUR_INSTALLED = pytest.mark.skipif(
    not {"Fraktur", "script/Fraktur"} & installed_languages(),
    reason="the Fraktur script model is not installed (scripts/setup.sh installs "
           "tesseract-ocr-script-frak)")


def importing_the_tests(env: dict[str, str]) -> dict[str, str]:
    """`env` for a process that imports the tests' doubles (the fault engine, selected by its
    dotted path): the repository first on its Python path, since the product knows nothing of
    `ocr_assets_tests`."""
    paths = [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(":"))]
    return {**env, "PYTHONPATH": ":".join(paths)}


def ground_truth(page: Path) -> str:
    """`<name>.gt.txt` beside a page image."""
    return page.with_name(page.name.rsplit(".", 1)[0] + ".gt.txt").read_text(encoding="utf-8")


def require_program(program: str, package: str, purpose: str) -> str:
    """The path of `program`; without it the test skips saying which Debian `package` brings
    it (scripts/setup.sh installs it), unless OCR_ASSETS_REQUIRE_TESTDATA=1 (CI), which makes
    that a failure, as for the shared test set."""
    path = shutil.which(program)
    if path is not None:
        return path
    reason = f"{program} not found: install {package} (scripts/setup.sh does) to {purpose}"
    if os.environ.get("OCR_ASSETS_REQUIRE_TESTDATA") == "1":
        pytest.fail(f"{reason}; OCR_ASSETS_REQUIRE_TESTDATA=1 makes this a failure")
    pytest.skip(reason)


def copy_files(sources: Iterable[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(source, folder / source.name)) for source in sources]


@dataclass
class Run:
    """One scan folder, its manifest and output root, all under a test's tmp_path (the data
    root): the folder is `<data>/scans/<name>`, its outputs `<data>/ocr/<key>/`."""

    folder: Path
    manifest: Manifest
    out_root: Path
    key: str = "folder"

    @property
    def project(self) -> Project:
        """The project of the test's data root, sharing this run's manifest."""
        return Project(ProjectConfig(data_root=str(self.out_root.parent),
                                     scans_root=str(self.folder.parent)), self.manifest)

    @property
    def scan_folder(self) -> ScanFolder:
        """The folder as the engine sees it (not registered: its key is the test's own)."""
        return ScanFolder(self.project, self.key, self.folder.name, self.folder)

    @property
    def out_dir(self) -> Path:
        return self.out_root / self.key

    @property
    def outputs(self) -> LocalStore:
        """The folder's output store, as the engine writes it."""
        return LocalStore(self.out_dir)

    def process(self, **settings: object) -> FolderReport:
        """The folder's OCR with `settings`. Every page is OCRed itself unless a test asks for
        the reuse of duplicate scans: the tests' pages are often identical blanks whose names
        (fault markers) say what the OCR of each must do."""
        options: dict[str, object] = {"workers": 2, "reuse_duplicates": False}
        options.update(settings)
        return process_folder(self.scan_folder, settings=OcrSettings(**options))

    def text(self, page_id: str) -> str:
        row = self.manifest.pages(self.key)[page_id]
        assert row.output_name, f"{page_id} has no output ({row.status})"
        return read_text(self.outputs, output_keys(row.output_name)[0])


def new_run(tmp_path: Path, folder_name: str = "scans") -> Run:
    folder = tmp_path / "scans" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    return Run(folder, open_manifest(tmp_path / "manifest.sqlite"), tmp_path / "ocr")


def write_huge_png(path: Path, width: int, height: int) -> None:
    """A valid bilevel PNG of width x height white pixels that is tiny on disk (rows of zeros
    compress ~1000:1), written row by row so it never exists in memory as pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte 0, then white bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
