"""Parts of `ocr-assets` that need no OCR: flags over environment variables, the progress bar's
count. (The command end to end is `e2e/test_cli.py`.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocr_assets.cli.main import build_parser
from ocr_assets.cli.options import project_config
from ocr_assets.cli.progress import Progress
from ocr_assets.engine.manifest import DONE, FAILED, Manifest, PageOutcome, open_manifest


class CountingManifest:
    """A manifest that notes which folders a progress poll counts, and refuses to hand out
    rows: the bar must count with one query over the folders being run."""

    def __init__(self, inner: Manifest) -> None:
        self.inner = inner
        self.counted: list[list[str]] = []

    def finished_since(self, partition_keys: list[str], since: float) -> int:
        self.counted.append(list(partition_keys))
        return self.inner.finished_since(partition_keys, since)

    def pages(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the progress bar read page rows")


def finish(manifest: Manifest, key: str, page: str, status: str = DONE) -> None:
    manifest.record(key, page, PageOutcome(status, None, 1, 1, 1))


def test_the_progress_counts_pages_finished_in_this_command_reading_only_the_current_run(
        tmp_path: Path) -> None:
    manifest = open_manifest(tmp_path / "manifest.sqlite")
    for key, pages in (("a", 3), ("b", 2), ("c", 2), ("d", 1)):
        manifest.sync_pages(key, [f"p{n}" for n in range(pages)])
    finish(manifest, "a", "p0")  # done by an earlier command: not counted
    finish(manifest, "c", "p0")
    time.sleep(0.01)  # so the bar's start is strictly after those rows' updated_at
    counting = CountingManifest(manifest)
    progress = Progress(0, counting)

    assert progress.finished_pages() == 0
    progress.watch(["a"])
    finish(manifest, "a", "p1")
    finish(manifest, "a", "p2", FAILED)
    assert progress.finished_pages() == 2
    progress.watch(["b", "c"])  # a run over two folders
    finish(manifest, "b", "p0")
    finish(manifest, "c", "p1")
    counting.counted.clear()
    assert progress.finished_pages() == 4
    assert counting.counted == [["b", "c"]], "a poll counted other folders than the run's"
    progress.watch(["d"])
    finish(manifest, "d", "p0")
    assert progress.finished_pages() == 5
    manifest.close()


def test_the_flags_override_the_environment_and_the_environment_the_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configuration a command passes on, from its flags over the environment; nothing
    is written back to the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCR_ASSETS_SCANS", str(tmp_path / "env-scans"))
    monkeypatch.setenv("OCR_ASSETS_DATA", str(tmp_path / "env-data"))
    monkeypatch.setenv("OCR_ASSETS_WORKERS", "7")
    monkeypatch.setenv("OCR_ASSETS_RECYCLE_AFTER", "5")

    from_env = project_config(build_parser().parse_args(["run"]))
    assert (from_env.scans_root, from_env.data_root) == (str(tmp_path / "env-scans"),
                                                         str(tmp_path / "env-data"))
    assert (from_env.settings().workers, from_env.settings().recycle_after) == (7, 5)

    environment = dict(os.environ)
    flagged = project_config(build_parser().parse_args(
        ["run", "--scans", "flag-scans", "--data", "flag-data", "--workers", "3"]))
    assert (flagged.scans_root, flagged.data_root) == (str(tmp_path / "flag-scans"),
                                                       str(tmp_path / "flag-data"))
    assert flagged.settings().workers == 3
    assert flagged.settings().recycle_after == 5  # no flag for it: the environment's
    assert dict(os.environ) == environment, "a command wrote to the environment"


def test_without_flags_or_variables_the_data_root_is_data_under_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("OCR_ASSETS_")]:
        monkeypatch.delenv(name)
    config = project_config(build_parser().parse_args(["status"]))
    assert (config.data_root, config.scans_root) == (str(tmp_path / "data"),
                                                     str(tmp_path / "data" / "scans"))


READING_IMPORTS = """
import sys
from ocr_assets.cli.main import main
code = main(sys.argv[1:])
print(sorted({m.split('.')[0] for m in sys.modules} & {"dagster", "pandas", "pytesseract",
                                                   "tesserocr"}))
sys.exit(code)
"""


@pytest.mark.parametrize("command", [["status", "--json"], ["search", "fox"]])
def test_the_reading_commands_import_no_dagster(tmp_path: Path, command: list[str]) -> None:
    """What keeps them at a tenth of a CPU-second (docs/benchmarks.md, "Reading commands"),
    so a user may poll them beside running work: not Dagster, and no engine (the default
    engine `auto` is resolved without importing one)."""
    manifest = open_manifest(tmp_path / "data" / "manifest.sqlite")
    manifest.register_folder("box", "box", b"box")
    manifest.close()
    result = subprocess.run([sys.executable, "-c", READING_IMPORTS, *command,
                             "--data", str(tmp_path / "data")], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
