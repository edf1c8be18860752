"""The pipeline's reading of the whole shared test set, done once and read by many tests.

Four groups of tests need what the pipeline makes of the same shared pages: the calibration of
the empty and garbage detector (every labelled page), the CLI parity (the pipeline's text
against the bare `tesseract` CLI's), the accuracy of clean modern pages, and the bad-inputs
batch (every file of `bad/` in one folder). Each used to OCR its pages itself, the same pages
several times over. `ocr_shared_set` reads every page once, with `process_folder` as in
production, into three folders laid out as those tests need them:

- `bad`: every file of `bad/` as it is, with the default settings (English): the bad-inputs
  batch, whose outcomes (failures included) are those of one real folder;
- `eng`: the English sources of `pages/` (`<source>/<file>`) and the noise pages made here
  (`generated/<file>`);
- `deu`: the German sources of `pages/` and the German pages of `bad/` (`bad/<file>`), with a
  `folder.toml` saying `lang = "deu"`, as a user would configure them.

`conftest.py`'s session fixture `shared_ocr` builds it on first use; the tests only read it.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from ocr_assets.engine.folder.batch import FolderReport
from ocr_assets.engine.folder.config import FOLDER_CONFIG_NAME
from ocr_assets.engine.folder.discovery import FRAME_SEPARATOR
from ocr_assets.engine.manifest import PageRecord, open_manifest
from ocr_assets.engine.settings import OcrSettings
from ocr_assets_tests.helpers import FIXTURES, Run

GERMAN_SOURCES = frozenset({"OCR-D_assets", "OCR-D_gt_structure_text",
                            "qurator-spk_dinglehopper"})
"""Sources of `pages/` in German (from 1515 to 1879)."""
GERMAN_BAD = frozenset({"blank_cover_laube_1837_0310.jpg", "kant_aufklaerung_1784_0020.jp2",
                        "nearblank_backcover_vischer_1858_0081.jpg",
                        "nearblank_endpaper_laube_1837_0309.jpg"})
"""Files of `bad/` from German books: their folder would be configured German."""
NOT_INPUTS = frozenset({"README.txt"})
"""`bad/`'s own description."""
PAGE_SUFFIXES = (".tif", ".png", ".jpg")
"""The page images of `pages/` (beside them: ground truth, PAGE-XML, zone files)."""
DEFAULT_LANG = OcrSettings().lang


def scribble_page(seed: int, path: Path) -> Path:
    """Rows of random pen strokes at text size: what a dirty or damaged page looks like to an
    OCR engine, and it reads them as letters."""
    rng = random.Random(seed)
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    for row in range(150, 2050, 60):
        x = 120
        while x < 1550:
            for _ in range(rng.randrange(2, 9)):
                points = [(x + rng.randrange(0, 18), row + rng.randrange(0, 30))
                          for _ in range(rng.randrange(2, 5))]
                draw.line(points, fill=0, width=3)
                x += rng.randrange(14, 24)
            x += rng.randrange(25, 45)
    image.save(path, dpi=(200, 200))
    return path


def mirrored_page(source: Path, path: Path) -> Path:
    """A text page in mirror image, as show-through of a page's back side reads."""
    with Image.open(source) as image:
        ImageOps.mirror(image.convert("L")).save(path, dpi=image.info.get("dpi", (300, 300)))
    return path


def noise_pages(folder: Path) -> list[Path]:
    """Four noise pages from fixed seeds and the shipped pages: scribbles and mirrored text."""
    folder.mkdir(parents=True, exist_ok=True)
    return [scribble_page(1, folder / "noise_scribble_1.png"),
            scribble_page(2, folder / "noise_scribble_2.png"),
            mirrored_page(FIXTURES / "pages" / "phototest.tif", folder / "noise_mirrored_1.png"),
            mirrored_page(FIXTURES / "pages" / "eurotext.tif", folder / "noise_mirrored_2.png")]


def shared_pages(testdata: Path) -> list[Path]:
    """Every page image of `pages/`, source by source."""
    return [path for source in sorted((testdata / "pages").iterdir()) if source.is_dir()
            for path in sorted(source.iterdir())
            if ".gt." not in path.name and path.suffix in PAGE_SUFFIXES]


def bad_inputs(testdata: Path) -> list[Path]:
    """Every file of `bad/`: odd, broken, blank and real pages, and a broken PDF."""
    return sorted(p for p in (testdata / "bad").iterdir() if p.name not in NOT_INPUTS)


def language_of(path: Path) -> str:
    """The language a user would configure for the folder of this shared file."""
    german = path.parent.name in GERMAN_SOURCES or (path.parent.name == "bad"
                                                     and path.name in GERMAN_BAD)
    return "deu" if german else DEFAULT_LANG


@dataclass(frozen=True)
class Placement:
    """Where one source file is OCRed: folder, path in it, and that folder's language."""

    source: Path
    folder: str
    path: str
    lang: str
    looked_up: bool = True
    """False for a second copy (a German page of `bad/` in the English `bad` folder): lookups
    by source (`SharedOcr.pages_of`, `text`) find the copy read in the page's own language."""


@dataclass
class OcrFolder:
    run: Run
    report: FolderReport


@dataclass
class SharedOcr:
    """Folders of pages OCRed by the pipeline, and where each source file went."""

    folders: dict[str, OcrFolder]
    placed: dict[Path, Placement]
    generated: list[Path] = field(default_factory=list)
    """The noise pages made for the set (sources, like the shared files)."""

    def placement(self, source: Path) -> Placement:
        try:
            return self.placed[source]
        except KeyError:
            raise KeyError(f"{source} is not in the shared OCR; add it to its layout") from None

    def pages_of(self, source: Path) -> dict[str, PageRecord]:
        """The manifest rows of a source file's pages, keyed by its name (and `#n` for the
        frames of a multi-page file), as if it stood alone in a folder."""
        where = self.placement(source)
        run = self.folders[where.folder].run
        rows = run.manifest.pages(run.key)
        found = {source.name + page_id[len(where.path):]: row for page_id, row in rows.items()
                 if page_id == where.path or page_id.startswith(where.path + FRAME_SEPARATOR)}
        assert found, f"no page of {source} in folder {where.folder!r}"
        return dict(sorted(found.items()))

    def text(self, source: Path) -> str:
        """The text the pipeline read from a one-page source file."""
        where = self.placement(source)
        return self.folders[where.folder].run.text(where.path)

    def lang(self, source: Path) -> str:
        return self.placement(source).lang


def ocr_placements(placements: Iterable[Placement], work: Path, *,
                   workers: int = 2) -> SharedOcr:
    """Copy each source into its folder, then OCR the folders one by one with the pipeline
    (a `folder.toml` names the language where it is not the default)."""
    placements = list(placements)
    by_folder: dict[str, list[Placement]] = {}
    for item in placements:
        by_folder.setdefault(item.folder, []).append(item)
    manifest = open_manifest(work / "manifest.sqlite")
    folders: dict[str, OcrFolder] = {}
    for key, items in sorted(by_folder.items()):
        langs = {item.lang for item in items}
        assert len(langs) == 1, f"folder {key!r} would need several languages: {langs}"
        lang = langs.pop()
        folder = work / "scans" / key
        folder.mkdir(parents=True)
        if lang != DEFAULT_LANG:
            (folder / FOLDER_CONFIG_NAME).write_text(f'lang = "{lang}"\n', encoding="utf-8")
        for item in items:
            target = folder / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(item.source, target)
        run = Run(folder, manifest, work / "ocr", key=key)
        folders[key] = OcrFolder(run, run.process(workers=workers))
    looked_up = [item for item in placements if item.looked_up]
    placed = {item.source: item for item in looked_up}
    assert len(placed) == len(looked_up), "a source looked up in two folders"
    return SharedOcr(folders, placed)


def shared_layout(testdata: Path, generated: Iterable[Path]) -> list[Placement]:
    """The three folders of the module's docstring."""
    layout = [Placement(path, "bad", path.name, DEFAULT_LANG,
                        looked_up=language_of(path) == DEFAULT_LANG)
              for path in bad_inputs(testdata)]
    layout += [Placement(path, "deu", f"bad/{path.name}", "deu")
               for path in bad_inputs(testdata) if language_of(path) == "deu"]
    layout += [Placement(path, language_of(path), f"{path.parent.name}/{path.name}",
                         language_of(path)) for path in shared_pages(testdata)]
    layout += [Placement(path, "eng", f"generated/{path.name}", DEFAULT_LANG)
               for path in generated]
    return layout


def ocr_shared_set(testdata: Path, work: Path, *, workers: int = 2) -> SharedOcr:
    """The pipeline's reading of every shared page and the noise pages, in `work`."""
    generated = noise_pages(work / "generated")
    shared = ocr_placements(shared_layout(testdata, generated), work, workers=workers)
    return dataclasses.replace(shared, generated=generated)
