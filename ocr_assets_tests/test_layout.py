"""The shape of the code, as rules a change cannot break unnoticed: no import circle in
`ocr_assets`, no configuration written to the environment or read at import time, an engine in
parts with a small top level, test doubles only in the tests, benchmarks that import no test."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr_assets.engine.page.engines.registry import get_engine
from ocr_assets_tests.helpers import REPO

PACKAGE = REPO / "ocr_assets"
ENGINE_TOP_LEVEL_LIMIT = 8


def sources(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.Module, package: str) -> set[str]:
    """Every module this one imports (top level or in a function), except under
    `if TYPE_CHECKING:`, resolved against its package."""
    skipped = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
               and "TYPE_CHECKING" in ast.unparse(branch.test)
               for statement in branch.body for node in ast.walk(statement)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_no_module_of_the_package_imports_itself_in_a_circle() -> None:
    """Package `__init__` facades excepted (they import their parts by design)."""
    modules = {module_name(path): (path, tree) for path, tree in sources(PACKAGE)}
    edges: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in imports(tree, package):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and modules[imported][0].name != "__init__.py":
                targets.add(imported)
        if path.name != "__init__.py":
            edges[name] = targets
    circles = set()

    def visit(node: str, trail: list[str]) -> None:
        for target in edges.get(node, ()):
            if target in trail:
                circles.add(" -> ".join([*trail[trail.index(target):], target]))
            elif len(trail) < 40:
                visit(target, [*trail, target])

    for start in edges:
        visit(start, [start])
    assert not circles, f"import circles: {sorted(circles)[:5]}"


ENVIRONMENT_WRITERS = ("os.environ.update", "os.environ.setdefault", "os.environ.pop",
                       "os.putenv", "os.unsetenv")


def writes_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign):
        return any(ast.unparse(target).startswith("os.environ[") for target in node.targets)
    return isinstance(node, ast.Call) and ast.unparse(node.func) in ENVIRONMENT_WRITERS


def test_nothing_in_the_package_writes_the_environment() -> None:
    writes = [f"{path.name}: {ast.unparse(node)}" for path, tree in sources(PACKAGE)
              for node in ast.walk(tree) if writes_environment(node)]
    assert not writes, f"configuration written to the environment: {writes}"


def test_no_module_reads_the_environment_at_import_time() -> None:
    """A variable is read when a command, a definitions load or a call asks for it, so the
    same modules serve every configuration."""
    reads = []
    for path, tree in sources(PACKAGE):
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if "os.environ" in ast.unparse(statement) or "getenv" in ast.unparse(statement):
                reads.append(f"{path.name}: {ast.unparse(statement)[:80]}")
    assert not reads, f"environment read at import time: {reads}"


def test_the_engine_is_in_parts_with_a_small_top_level() -> None:
    engine = PACKAGE / "engine"
    top_level = sorted(path.name for path in engine.glob("*.py"))
    assert len(top_level) <= ENGINE_TOP_LEVEL_LIMIT, top_level
    parts = {path.name for path in engine.iterdir() if (path / "__init__.py").is_file()}
    assert parts >= {"page", "folder", "manifest", "store", "corpus"}


def test_test_doubles_live_in_the_tests_and_the_product_does_not_know_them() -> None:
    names = {path.stem for path in PACKAGE.rglob("*.py")}
    assert not {name for name in names if "fault" in name or "fake" in name}
    with pytest.raises(ValueError, match="unknown OCR engine 'fault'"):
        get_engine("fault:crash=*.png")
    assert (REPO / "ocr_assets_tests" / "doubles" / "fault_engine.py").is_file()


def test_an_engine_that_cannot_be_imported_says_so() -> None:
    with pytest.raises(RuntimeError, match="cannot be loaded"):
        get_engine("no_such_package.Engine")
    with pytest.raises(ValueError, match="has no NoSuchEngine"):
        get_engine("ocr_assets.engine.page.engines.base.NoSuchEngine")


def test_the_benchmarks_import_nothing_from_the_tests() -> None:
    offending = sorted(f"{path.name}: {name}" for path, tree in sources(REPO / "benchmarks")
                       for name in imports(tree, "benchmarks")
                       if name.startswith("ocr_assets_tests"))
    assert not offending, offending


def test_the_engine_imports_no_dagster_through_any_of_its_entry_points() -> None:
    """The context and the planning too, in a fresh interpreter (indirect imports count)."""
    probe = ("import sys, ocr_assets.engine.project, ocr_assets.engine.folder.planning, "
             "ocr_assets.engine.config; "
             "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, timeout=120, cwd=REPO)
    assert found.stdout.strip() == "[]", found.stdout
