"""The datasets packages keep graveler's seams (``docs/decisions.md``): small modules and
classes, no import cycle, no module named like the standard library, GC free of the engine."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import sartiq_storage

ROOT = Path(sartiq_storage.__file__).parent
PACKAGES = ["core/datasets", "adapters/datasets", "services/datasets"]
MAX_LINES = 500
MAX_METHODS = 30


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every import of another datasets module, TYPE_CHECKING ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # ``from package import module`` names the module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep) :], dep] if dep in trail else [name, dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_retention_does_not_know_the_engine() -> None:
    modules = _modules()
    imported = _imports(modules["sartiq_storage.services.datasets.retention"], modules)
    assert not any("engine" in name for name in imported)


def test_no_module_named_like_the_standard_library() -> None:
    clashes = [
        str(path.relative_to(ROOT))
        for path in _modules().values()
        if path.stem in sys.stdlib_module_names
    ]
    assert clashes == []


def test_modules_and_classes_stay_small() -> None:
    too_big = []
    for path in _modules().values():
        text = path.read_text("utf-8")
        if text.count("\n") > MAX_LINES:
            too_big.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.name != "DatasetStore":  # the protocol
                methods = [
                    n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                if len(methods) > MAX_METHODS:
                    too_big.append(f"{path.name}: {node.name} has {len(methods)} methods")
    assert too_big == []
