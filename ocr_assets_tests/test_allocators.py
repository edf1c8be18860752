"""Arrow's allocator in the processes the project starts (`orchestration/allocators.py`): the
`ocr-assets` command is executed again, once, with it in its environment; `dagster dev` and
what it starts get it; a value the user set is kept."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ocr_assets.cli import main as cli_main
from ocr_assets.orchestration.allocators import ALLOCATOR_ENVIRONMENT, with_allocators
from ocr_assets.ui import dev_environment

POOL = "ARROW_DEFAULT_MEMORY_POOL"


def test_the_system_allocator_is_added_and_a_users_choice_kept() -> None:
    assert with_allocators({"PATH": "/bin"}) == {"PATH": "/bin", POOL: "system"}
    assert with_allocators({POOL: "jemalloc"}) == {POOL: "jemalloc"}
    assert ALLOCATOR_ENVIRONMENT == {POOL: "system"}


def test_the_command_is_executed_again_once_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    executed: list[tuple[str, list[str], dict[str, str]]] = []

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        executed.append((path, argv, env))
        raise SystemExit(0)  # what the new image's exit would be; execve never returns

    monkeypatch.setattr(cli_main.os, "execve", execve)
    monkeypatch.setattr(cli_main, "main", lambda: 7)
    monkeypatch.setattr(sys, "argv", ["ocr-assets", "run", "--workers", "2"])
    monkeypatch.delenv(POOL, raising=False)
    with pytest.raises(SystemExit):
        cli_main.console_main()
    [(path, argv, env)] = executed
    assert (path, argv[1:]) == (sys.executable, ["-m", "ocr_assets.cli", "run", "--workers", "2"])
    assert env[POOL] == "system" and env["PATH"] == os.environ["PATH"]

    monkeypatch.setenv(POOL, "system")  # the process executed again: main runs, no new exec
    with pytest.raises(SystemExit) as exited:
        cli_main.console_main()
    assert exited.value.code == 7 and len(executed) == 1


def test_dagster_dev_and_what_it_starts_get_it(tmp_path: Path) -> None:
    environment, _ = dev_environment({"OCR_ASSETS_DATA": str(tmp_path)})
    assert environment[POOL] == "system"
    environment, _ = dev_environment({"OCR_ASSETS_DATA": str(tmp_path), POOL: "mimalloc"})
    assert environment[POOL] == "mimalloc"
