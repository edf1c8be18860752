"""Atomic writes: a reader sees the old file or the whole new one, and nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocr_assets.engine.manifest.leases import process_id
from ocr_assets.engine.store import atomic
from ocr_assets.engine.store.atomic import (
    remove_stale_temp_files,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_writes_create_parents_and_replace_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "ocr" / "box-001" / "page_1.tif.txt"
    write_text_atomic(target, "first version, longer than the second\n")
    write_text_atomic(target, "Grüße\n")
    assert target.read_bytes() == "Grüße\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["page_1.tif.txt"]


def test_json_is_utf8_with_sorted_keys(tmp_path: Path) -> None:
    target = tmp_path / "facts.json"
    write_json_atomic(target, {"z": 1, "a": "Übung", "m": [1, None]})
    raw = target.read_text(encoding="utf-8")
    assert "Übung" in raw
    assert list(json.loads(raw)) == ["a", "m", "z"]


class Interrupted(Exception):
    pass


def failing_fsync(fd: int) -> None:
    raise Interrupted("power cut while flushing")


def test_an_interrupted_first_write_leaves_no_file_at_all(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    target = tmp_path / "page.txt"

    with pytest.raises(Interrupted):
        write_text_atomic(target, "half a page")

    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_rewrite_keeps_the_old_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "page.txt"
    write_text_atomic(target, "the complete old text")
    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)

    with pytest.raises(Interrupted):
        write_bytes_atomic(target, b"the new text, never finished")

    assert target.read_text() == "the complete old text"
    assert [p.name for p in tmp_path.iterdir()] == ["page.txt"]


def test_a_keyboard_interrupt_during_the_write_also_cleans_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(tmp_path / "page.txt", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "page.txt"
    target.mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        write_text_atomic(target, "text")
    assert target.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["page.txt"]


def test_stale_temp_files_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".page_1.tif.txt.k2j3h4.tmp").write_text("half")
    (tmp_path / ".page_2.tif.json.abcd.tmp").write_text("{")
    (tmp_path / "page_3.tif.txt").write_text("a finished page")
    (tmp_path / "notes.tmp").write_text("not ours: no leading dot")

    assert remove_stale_temp_files(tmp_path) == 2

    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "page_3.tif.txt"]
    assert remove_stale_temp_files(tmp_path) == 0
    assert remove_stale_temp_files(tmp_path / "missing") == 0


def test_a_temp_file_is_in_the_targets_directory_and_matches_the_cleanup_pattern(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    write_text_atomic(tmp_path / ("x" * 200 + ".txt"), "text")

    temp = Path(seen[0])
    assert temp.parent == tmp_path
    assert temp.name.startswith(".") and temp.name.endswith(".tmp")
    assert len(temp.name) < 255


def test_a_temp_file_of_a_live_writer_is_kept_and_one_of_a_dead_writer_removed(
        tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "from ocr_assets.engine.manifest.leases import "
                           "process_id; print(process_id())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    live = tmp_path / f".page_1.tif.txt~{process_id()}~abc123.tmp"
    killed = tmp_path / f".page_2.tif.txt~{dead}~def456.tmp"
    live.write_text("being written by a run that is still at work")
    killed.write_text("half")

    assert remove_stale_temp_files(tmp_path) == 1

    assert [p.name for p in tmp_path.iterdir()] == [live.name]


def test_a_temp_file_of_a_zombie_writer_is_removed(tmp_path: Path) -> None:
    """A killed run's orphaned workers may linger as zombies (pid and start time unchanged)
    until init reaps them; they will never write again, so their temp files go."""
    child = subprocess.Popen([sys.executable, "-c", "from ocr_assets.engine.manifest.leases import "
                              "process_id; print(process_id(), flush=True)"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    writer = child.stdout.readline().strip()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    try:
        zombie = tmp_path / f".page_3.tif.txt~{writer}~0a1b2c.tmp"
        zombie.write_text("half")

        assert remove_stale_temp_files(tmp_path) == 1
        assert not zombie.exists()
    finally:
        child.wait()
        child.stdout.close()
