"""Two folders OCRed once for the corpus tests, each test on its own copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocr_assets_tests.engine.corpus.corpus_project import Corpus, project_at


@pytest.fixture(scope="module")
def ocred(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    """Two folders OCRed once for the module; each test works on its own copy."""
    root = tmp_path_factory.mktemp("corpus")
    for key, page in (("alpha", "phototest.tif"), ("beta", "eurotext.tif")):
        (root / "scans" / key).mkdir(parents=True)
        shutil.copy(fixtures_dir / "pages" / page, root / "scans" / key / page)
    corpus = Corpus(project_at(root))
    corpus.project.register(corpus.project.scan())
    corpus.process("alpha")
    corpus.process("beta")
    corpus.manifest.close()
    return root


@pytest.fixture
def corpus(ocred: Path, tmp_path: Path) -> Corpus:
    root = tmp_path / "copy"
    shutil.copytree(ocred, root, symlinks=True)
    return Corpus(project_at(root))
