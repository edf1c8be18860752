"""Kill points (`OCR_ASSETS_KILL_AT`): a process dies with SIGKILL exactly where asked, and
what it leaves is what the atomic write and the manifest promise."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ocr_assets.engine.killpoints import _plan
from ocr_assets.engine.store.atomic import remove_stale_temp_files

WRITE_TWO = """
import sys
from pathlib import Path
from ocr_assets.engine.store.atomic import write_text_atomic
write_text_atomic(Path(sys.argv[1]) / "first.txt", "the first page, whole\\n")
write_text_atomic(Path(sys.argv[1]) / "second.txt", "the second page, never seen half\\n")
"""
COPY_TWO = """
import sys
from pathlib import Path
from ocr_assets.engine.store.atomic import COPY_BLOCK, write_file_atomic
root = Path(sys.argv[1])
(root / "source.bin").write_bytes(b"a" * COPY_BLOCK + b"b" * 10)
write_file_atomic(root / "first.bin", root / "source.bin")
write_file_atomic(root / "second.bin", root / "source.bin")
"""
COMMIT_TWO = """
import sys
from ocr_assets.engine.manifest import open_manifest
manifest = open_manifest(sys.argv[1])
manifest.register_folder("kept", "kept", b"kept")
manifest.register_folder("lost", "lost", b"lost")
"""


def run_killed(script: str, argument: Path, kill_at: str) -> int:
    env = {"OCR_ASSETS_KILL_AT": kill_at, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", script, str(argument)], env=env,
                          check=False, timeout=120).returncode


@pytest.mark.parametrize("point", ["atomic.partial", "atomic.written"])
def test_a_write_killed_before_its_rename_leaves_the_target_absent(tmp_path: Path,
                                                                   point: str) -> None:
    assert run_killed(WRITE_TWO, tmp_path, f"{point}:2") == -signal.SIGKILL

    assert (tmp_path / "first.txt").read_text() == "the first page, whole\n"
    assert not (tmp_path / "second.txt").exists()
    temps = list(tmp_path.glob(".second.txt*.tmp"))
    assert len(temps) == 1  # what the killed writer left: never read as a page
    content = temps[0].read_bytes()
    full = b"the second page, never seen half\n"
    assert content == (full[:len(full) // 2] if point == "atomic.partial" else full)
    assert remove_stale_temp_files(tmp_path) == 1  # its writer is dead


def test_a_file_copy_killed_before_its_rename_leaves_the_target_absent(tmp_path: Path) -> None:
    """`write_file_atomic` (the corpus's files) passes the same kill points as a write of
    bytes: killed after its first block, the target is absent and the temp file partial."""
    assert run_killed(COPY_TWO, tmp_path, "atomic.partial:2") == -signal.SIGKILL

    assert (tmp_path / "first.bin").read_bytes() == (tmp_path / "source.bin").read_bytes()
    assert not (tmp_path / "second.bin").exists()
    [temp] = tmp_path.glob(".second.bin*.tmp")
    assert temp.read_bytes() == b"a" * (1 << 20)
    assert remove_stale_temp_files(tmp_path) == 1


def test_a_write_killed_after_its_rename_leaves_the_whole_target(tmp_path: Path) -> None:
    assert run_killed(WRITE_TWO, tmp_path, "atomic.renamed:2") == -signal.SIGKILL
    assert (tmp_path / "second.txt").read_text() == "the second page, never seen half\n"
    assert list(tmp_path.glob(".*.tmp")) == []


def test_a_manifest_transaction_killed_before_commit_is_rolled_back(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.sqlite"
    # The first commit registers "kept"; the second, "lost", is killed before COMMIT.
    assert run_killed(COMMIT_TWO, manifest, "manifest.commit:2") == -signal.SIGKILL

    with sqlite3.connect(manifest) as db:
        assert [r[0] for r in db.execute("SELECT partition_key FROM folders")] == ["kept"]


def test_a_malformed_kill_point_is_refused_with_the_expected_form() -> None:
    with pytest.raises(ValueError, match=r"expected <point>:<n>\[:group\]"):
        _plan("atomic.nowhere:1")
    with pytest.raises(ValueError, match="expected"):
        _plan("manifest.commit:x")
    assert _plan("atomic.renamed:3:group") == ("atomic.renamed", 3, True)
