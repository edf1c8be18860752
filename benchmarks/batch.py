"""The benchmark batch: real pages with ground truth, replicated into several scan folders.

Every folder holds one copy of every source page (hard links where the file system allows, so
a few hundred pages cost no disk), under its own name, so each folder is a partition of its
own and every page is OCRed; the same source pages in every folder keep folders comparable.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ocr_assets.engine.folder.discovery import discover_pages

IMAGE_SUFFIXES = frozenset({".tif", ".tiff", ".png", ".jpg", ".jpeg"})


@dataclass(frozen=True)
class SourcePage:
    image: Path
    ground_truth: Path | None
    width: int
    height: int

    @property
    def source(self) -> str:
        """`<source folder>/<file name>`, as the shared test set names it."""
        return f"{self.image.parent.name}/{self.image.name}"


@dataclass(frozen=True)
class Batch:
    scans_root: Path
    folders: tuple[str, ...]
    sources: tuple[SourcePage, ...]

    @property
    def pages(self) -> int:
        return len(self.folders) * len(self.sources)

    def images(self) -> list[Path]:
        """Every page of the batch, folder by folder, in the order the pipeline reads them."""
        return [self.scans_root / folder / self.copy_name(source)
                for folder in self.folders for source in self.sources]

    @staticmethod
    def copy_name(source: SourcePage) -> str:
        """A name unique within a folder (two sources could share a file name)."""
        return f"{source.image.parent.name}__{source.image.name}"

    def describe(self) -> dict[str, object]:
        megapixels = sum(s.width * s.height for s in self.sources) / 1e6
        source_bytes = sum(s.image.stat().st_size for s in self.sources)
        return {"folders": len(self.folders), "pages_per_folder": len(self.sources),
                "pages": self.pages, "source_pages": len(self.sources),
                "with_ground_truth": sum(s.ground_truth is not None for s in self.sources),
                "megapixels_per_folder": round(megapixels, 1),
                "mib_per_folder": round(source_bytes / 2**20, 1),
                "sources": [s.source for s in self.sources]}


def find_source_pages(pages_root: Path) -> list[SourcePage]:
    """Every single-page image below `pages_root`, with its `<name>.gt.txt` when there is one."""
    sources = []
    for image in sorted(pages_root.rglob("*")):
        if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
            continue
        truth = image.with_name(image.name.rsplit(".", 1)[0] + ".gt.txt")
        with Image.open(image) as opened:
            width, height = opened.size
        sources.append(SourcePage(image, truth if truth.is_file() else None, width, height))
    if not sources:
        raise SystemExit(f"no page images under {pages_root}; point --pages at a folder of "
                         "scans (the shared test set's pages/)")
    return sources


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def build_batch(sources: list[SourcePage], scans_root: Path, folders: int) -> Batch:
    """`folders` scan folders under `scans_root`, each with every source page once."""
    names = tuple(f"box_{number:03d}" for number in range(1, folders + 1))
    for name in names:
        folder = scans_root / name
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            target = folder / Batch.copy_name(source)
            if not target.exists():
                _link_or_copy(source.image, target)
    batch = Batch(scans_root, names, tuple(sources))
    found = sum(len(discover_pages(scans_root / name).pages) for name in names)
    if found != batch.pages:
        raise SystemExit(f"the batch under {scans_root} has {found} pages, expected "
                         f"{batch.pages}: a source image holds several frames; use "
                         "single-page images")
    return batch
