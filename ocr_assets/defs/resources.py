"""The project's configuration as one Dagster resource, with environment variables for deploys.

`OCR_ASSETS_SCANS` and `OCR_ASSETS_DATA` set the scans root and the data root everywhere (CLI,
UI, sensors, schedules); the CLI's flags set the same variables before the definitions load.
`OCR_ASSETS_OUTPUT_URL` moves the outputs (page texts, reports, corpus) to a shared directory or
an object store, and `OCR_ASSETS_MANIFEST_URL` the manifest to PostgreSQL, for runs on several
machines.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from ocr_assets.engine.folder.invariants import DEFAULT_MAX_FAILED_SHARE
from ocr_assets.engine.manifest import Manifest, open_manifest
from ocr_assets.engine.settings import DEFAULT_MIN_CONFIDENCE, OcrSettings, default_workers
from ocr_assets.engine.store.outputs import OutputStore, open_store

ENV_PREFIX = "OCR_ASSETS_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


class OcrConfig(dg.ConfigurableResource):
    """Where scans and outputs live, and how pages are OCRed."""

    scans_root: str
    data_root: str
    manifest_url: str = ""
    """Empty: `<data_root>/manifest.sqlite`."""
    output_url: str = ""
    """Where outputs live: a directory or a URL (`s3://bucket/prefix`); empty: `data_root`."""
    workers: int = 0
    """OCR processes per run; 0: one per core."""
    page_timeout_s: float = 180.0
    lang: str = "eng"
    psm: int = 3
    engine: str = "pytesseract"
    max_megapixels: float = 120.0
    max_side_px: int = 10000
    recycle_after: int = 200
    max_attempts: int = 3
    auto_rotate: bool = True
    """Turn pages upright when Tesseract's orientation detection is confident; it is asked
    about pages whose reading as scanned is doubtful."""
    rotate_every_page: bool = False
    """Ask orientation detection about every page before its OCR (one more pass per page)."""
    rotate_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    worker_memory_mb: int = 0
    """Address-space limit per OCR worker in MiB; 0: no limit."""
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE
    """A folder with a larger share of failed pages fails its blocking check and stays out of
    the corpus (OCR-D's missing-output limit): that many failures point at a cause to fix
    (a wrong language, a broken export), not at a few bad pages."""
    ground_truth_root: str = ""
    """A parallel ground-truth tree (`<root>/<folder>/<stem>.gt.txt`); empty: only
    ground truth beside the pages is used."""
    max_cer: float = 0.10
    """The accuracy check warns when a folder's character error rate is above this."""
    archival_formats: str = ""
    """Comma-separated per-page archival documents written in the same pass: `hocr`, `alto`."""

    _manifest: Manifest | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls) -> OcrConfig:
        """Built from `OCR_ASSETS_*` variables, defaulting to `data/` under the working dir."""
        data_root = Path(_env("DATA", "data")).absolute()
        return cls(
            scans_root=str(Path(_env("SCANS", str(data_root / "scans"))).absolute()),
            data_root=str(data_root),
            manifest_url=_env("MANIFEST_URL", ""),
            output_url=_env("OUTPUT_URL", ""),
            workers=int(_env("WORKERS", "0")),
            page_timeout_s=float(_env("PAGE_TIMEOUT_S", "180")),
            lang=_env("LANG", "eng"),
            psm=int(_env("PSM", "3")),
            engine=_env("ENGINE", "pytesseract"),
            max_megapixels=float(_env("MAX_MEGAPIXELS", "120")),
            max_side_px=int(_env("MAX_SIDE_PX", "10000")),
            recycle_after=int(_env("RECYCLE_AFTER", "200")),
            max_attempts=int(_env("MAX_ATTEMPTS", "3")),
            auto_rotate=_env("AUTO_ROTATE", "1") not in ("0", "false", "no"),
            rotate_every_page=_env("ROTATE_EVERY_PAGE", "0") not in ("0", "false", "no"),
            rotate_min_confidence=float(_env("ROTATE_MIN_CONFIDENCE",
                                             str(DEFAULT_MIN_CONFIDENCE))),
            worker_memory_mb=int(_env("WORKER_MEMORY_MB", "0")),
            max_failed_share=float(_env("MAX_FAILED_SHARE", str(DEFAULT_MAX_FAILED_SHARE))),
            ground_truth_root=_env("GROUND_TRUTH", ""),
            max_cer=float(_env("MAX_CER", "0.10")),
            archival_formats=_env("ARCHIVAL_FORMATS", ""),
        )

    @property
    def scans_path(self) -> Path:
        return Path(self.scans_root)

    @cached_property
    def outputs(self) -> OutputStore:
        """The root of every output; `ocr/`, `reports/` and `corpus/` below it."""
        return open_store(self.output_url or self.data_root)

    @property
    def ocr_store(self) -> OutputStore:
        """Page texts and facts: `<partition>/<page>.txt` and `.json`."""
        return self.outputs.child("ocr")

    @property
    def reports_store(self) -> OutputStore:
        """Failed-pages reports: `<partition>/failed_pages.csv` and `.json`."""
        return self.outputs.child("reports")

    @property
    def ground_truth_path(self) -> Path | None:
        return Path(self.ground_truth_root) if self.ground_truth_root else None

    @property
    def corpus_store(self) -> OutputStore:
        """The corpus: `pages.parquet`, `pages.jsonl`, `pages.sqlite`."""
        return self.outputs.child("corpus")

    @cached_property
    def settings(self) -> OcrSettings:
        return OcrSettings(lang=self.lang, psm=self.psm, engine=self.engine,
                           workers=self.workers or default_workers(),
                           page_timeout_s=self.page_timeout_s,
                           recycle_after=self.recycle_after, max_megapixels=self.max_megapixels,
                           max_side_px=self.max_side_px, max_attempts=self.max_attempts,
                           auto_rotate=self.auto_rotate,
                           rotate_every_page=self.rotate_every_page,
                           rotate_min_confidence=self.rotate_min_confidence,
                           worker_memory_mb=self.worker_memory_mb,
                           archival_formats=tuple(
                               name.strip().lower() for name in self.archival_formats.split(",")
                               if name.strip()))

    def manifest(self) -> Manifest:
        """The page manifest, opened once per process."""
        if self._manifest is None:
            self._manifest = open_manifest(
                self.manifest_url or Path(self.data_root) / "manifest.sqlite")
        return self._manifest
