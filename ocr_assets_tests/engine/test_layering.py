"""The engine has no Dagster import: it is the plain-Python layer that the Dagster definitions
(and the command line, benchmarks and harnesses) call, and it must run without Dagster."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ocr_assets.engine

ENGINE = Path(ocr_assets.engine.__file__).resolve().parent
DAGSTER_SIDE = ("dagster", "dagster_", "ocr_assets.defs", "ocr_assets.definitions",
                "ocr_assets.cli", "ocr_assets.orchestration", "ocr_assets.ui")
"""Dagster and its integrations, and the project's modules that import them."""


def imported_modules(source: Path) -> list[str]:
    """Every module an engine file imports, at its top or inside a function."""
    modules = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return modules


def test_no_engine_module_imports_dagster_or_the_dagster_layer() -> None:
    sources = sorted(ENGINE.rglob("*.py"))
    assert len(sources) > 20  # the scan found the engine
    offending = {f"{source.name}: {module}" for source in sources
                 for module in imported_modules(source)
                 if module.startswith(DAGSTER_SIDE)}
    assert not offending, f"engine modules importing the Dagster side: {sorted(offending)}"


def test_importing_the_engine_and_running_a_worker_module_loads_no_dagster() -> None:
    """Indirect imports too (through a third-party module): checked in a fresh interpreter."""
    probe = ("import sys, ocr_assets.engine, ocr_assets.engine.page.worker, "
             "ocr_assets.engine.folder.batch, ocr_assets.engine.folder.retry, "
             "ocr_assets.engine.corpus.build, ocr_assets.engine.folder.planning; "
             "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, timeout=120, cwd=ENGINE.parents[1])
    assert found.stdout.strip() == "[]", found.stdout
