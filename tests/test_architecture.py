"""The layers import in one direction: core → adapters → services → interfaces."""

from __future__ import annotations

import ast
from pathlib import Path

import sartiq_storage

LAYERS = ["core", "adapters", "services", "interfaces"]
ROOT = Path(sartiq_storage.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_upward_imports() -> None:
    violations = []
    for rank, layer in enumerate(LAYERS):
        forbidden = [f"sartiq_storage.{upper}" for upper in LAYERS[rank + 1 :]]
        for path in (ROOT / layer).rglob("*.py"):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def test_core_does_no_io() -> None:
    io_modules = {
        "boto3",
        "obstore",
        "sqlalchemy",
        "httpx",
        "fastapi",
        "starlette",
        "os",
        "pathlib",
    }
    allowed_pathlib = {"config.py"}  # Settings holds a Path value but never touches the disk
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in io_modules and not (top == "pathlib" and path.name in allowed_pathlib):
                offenders.append(f"{path.name} imports {name}")
    assert offenders == []
