"""A project with two OCRed scan folders, for the corpus's build and check tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.corpus.build import CorpusSummary, build_corpus
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.manifest import Manifest
from ocr_assets.engine.project import Project
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import LocalStore


@dataclass
class Corpus:
    """A project with two scan folders under a test's data root."""

    project: Project

    @property
    def scans(self) -> Path:
        return self.project.scans_root

    @property
    def manifest(self) -> Manifest:
        return self.project.manifest

    @property
    def ocr(self) -> LocalStore:
        return self.project.ocr_store

    @property
    def corpus(self) -> LocalStore:
        return self.project.corpus_store

    def process(self, key: str) -> None:
        # Folders repeat the fixture scans on purpose; reading each is what these tests are
        # about, not a duplicate taking another's (edited) text.
        process_folder(self.project.folder(key),
                       settings=OcrSettings(workers=2, reuse_duplicates=False))

    def build(self) -> CorpusSummary:
        self.project.register(self.project.scan())
        return build_corpus(self.project)


def project_at(root: Path) -> Project:
    return Project(ProjectConfig(data_root=str(root)))
