"""The project context, built once per process: the roots, the manifest, the output stores and
the settings, and the scan folders it knows.

Every engine entry point takes this context (`Project`) or one of its folders (`ScanFolder`)
instead of a clump of paths, stores and settings: the command line builds it from its flags,
the Dagster resource from its fields, a test from a temporary directory. The manifest is opened
on first use, so a command that needs only the stores never opens it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.config import folder_settings
from ocr_assets.engine.folder.registry import ScanFolders, list_scan_folders, register_folders
from ocr_assets.engine.manifest.base import Manifest
from ocr_assets.engine.manifest.factory import open_manifest
from ocr_assets.engine.settings import OcrSettings
from ocr_assets.engine.store.outputs import OutputStore, open_store


class FolderNotRegisteredError(KeyError):
    """A partition key that no registered scan folder has; the message says what to do."""

    def __str__(self) -> str:
        return str(self.args[0])


class Project:
    """One project: its configuration, and what is opened from it once per process."""

    def __init__(self, config: ProjectConfig, manifest: Manifest | None = None) -> None:
        """`manifest`, when given, is the project's manifest already open (a test's, or a
        process's that holds one); otherwise the configured one is opened on first use."""
        self.config = config.absolute()
        self.settings: OcrSettings = self.config.settings()
        if manifest is not None:
            self.__dict__["manifest"] = manifest

    def __repr__(self) -> str:
        return (f"Project(data_root={self.config.data_root!r}, "
                f"scans_root={self.config.scans_root!r})")

    @property
    def data_root(self) -> Path:
        return Path(self.config.data_root)

    @property
    def scans_root(self) -> Path:
        return Path(self.config.scans_root)

    @property
    def ground_truth_root(self) -> Path | None:
        return Path(self.config.ground_truth_root) if self.config.ground_truth_root else None

    @cached_property
    def manifest(self) -> Manifest:
        """The page manifest, opened on first use."""
        return open_manifest(self.config.manifest_url or self.data_root / "manifest.sqlite")

    @cached_property
    def outputs(self) -> OutputStore:
        """The root of every output; `ocr/`, `reports/`, `pdf/` and `corpus/` below it."""
        return open_store(self.config.output_url or self.config.data_root)

    @property
    def ocr_store(self) -> OutputStore:
        """Page texts and facts: `<partition>/<page>.txt` and `.json`."""
        return self.outputs.child("ocr")

    @property
    def reports_store(self) -> OutputStore:
        """Per-folder reports: `<partition>/failed_pages.csv`, `accuracy.csv`, ..."""
        return self.outputs.child("reports")

    @property
    def pdf_store(self) -> OutputStore:
        """Folders' searchable PDFs: `<partition>.pdf`."""
        return self.outputs.child("pdf")

    @property
    def corpus_store(self) -> OutputStore:
        """The corpus: `pages.parquet`, `pages.jsonl`, `pages.sqlite`."""
        return self.outputs.child("corpus")

    def scan(self) -> ScanFolders:
        """The folders under the scans root, each with its partition key (or why it has none)."""
        return list_scan_folders(self.scans_root)

    def register(self, scan: ScanFolders) -> None:
        """Record each scanned folder's key and name in the manifest, so a key can always be
        turned back into its folder: the one place folders are registered."""
        register_folders(self.manifest, scan)

    def folder(self, partition_key: str) -> ScanFolder:
        """The registered scan folder of `partition_key`."""
        record = self.manifest.folder(partition_key)
        if record is None:
            raise FolderNotRegisteredError(
                f"partition '{partition_key}' is not a registered scan folder; run "
                "`ocr-assets run` or let the sensor register the scans root first")
        return ScanFolder(self, partition_key, record.folder_name,
                          self.scans_root / os.fsdecode(record.folder_name_raw))

    def close(self) -> None:
        """Close the manifest if it was opened."""
        if "manifest" in self.__dict__:
            self.manifest.close()


@dataclass(frozen=True)
class ScanFolder:
    """One scan folder of a project: its partition key, its name as the operator knows it,
    where it is on disk, and where its outputs and reports go."""

    project: Project
    key: str
    name: str
    path: Path

    @property
    def manifest(self) -> Manifest:
        return self.project.manifest

    @property
    def outputs(self) -> OutputStore:
        """The folder's page texts and facts (`<ocr>/<partition>/`)."""
        return self.project.ocr_store.child(self.key)

    @property
    def reports(self) -> OutputStore:
        """The folder's reports (`<reports>/<partition>/`)."""
        return self.project.reports_store.child(self.key)

    def settings(self, base: OcrSettings | None = None) -> OcrSettings:
        """`base` (the project's settings by default) with the folder's `folder.toml` applied;
        `FolderConfigError` when that file cannot be used."""
        return folder_settings(self.path, base or self.project.settings)
