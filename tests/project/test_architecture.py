"""The layers import in one direction: core → adapters → services → interfaces → the public
modules at the top (``sartiq_storage/*.py``), which nothing below them may import."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import sartiq_storage

LAYERS = ["core", "adapters", "services", "interfaces"]
ROOT = Path(sartiq_storage.__file__).parent
PUBLIC = sorted(
    [p.stem for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    + [p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in LAYERS]
)
"""The top-level modules and packages (``testing``): the public surface, the outermost layer."""


def _names_an_importer(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def _imports_in(source: str, module: str) -> set[str]:
    """Every module ``source`` imports, wherever the statement is (inside functions too),
    with ``from package import name`` also read as ``package.name`` and relative imports
    resolved against ``module`` (the dotted name of the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call) and _names_an_importer(node.func) and node.args:
            first = node.args[0]  # importlib.import_module("sartiq_storage.x")
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _imports(path: Path) -> set[str]:
    dotted = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    return _imports_in(path.read_text("utf-8"), dotted)


def _reaches(name: str, forbidden: list[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def _upward_imports() -> list[str]:
    violations = []
    for rank, layer in enumerate(LAYERS):
        forbidden = [f"sartiq_storage.{upper}" for upper in [*LAYERS[rank + 1 :], *PUBLIC]]
        for path in (ROOT / layer).rglob("*.py"):
            for name in sorted(_imports(path)):
                if _reaches(name, forbidden):
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    return violations


def test_no_upward_imports() -> None:
    assert _upward_imports() == []


def test_the_check_sees_lazy_imports_of_the_public_modules() -> None:
    """The import that once slipped through (a function in ``services/context.py`` reaching
    up into ``sartiq_storage.datasets``), in each form it could take."""
    forbidden = [f"sartiq_storage.{name}" for name in PUBLIC]
    assert {"datasets", "media", "testing"} <= set(PUBLIC)
    for source in (
        "def f():\n    from sartiq_storage.datasets import open_engine\n",
        "def f():\n    import sartiq_storage.datasets\n",
        "def f():\n    from sartiq_storage import media\n",
        "def f():\n    from ... import datasets\n",
        "import importlib\nimportlib.import_module('sartiq_storage.media')\n",
        "def f():\n    from sartiq_storage.testing.media import image_bytes\n",
    ):
        found = _imports_in(source, "sartiq_storage.services.media.x")
        assert any(_reaches(name, forbidden) for name in found), source


def test_the_package_init_imports_nothing_of_ours() -> None:
    """``import sartiq_storage`` must stay cheap and cycle-free (the layers import
    ``__version__`` from it)."""
    assert not {
        name for name in _imports(ROOT / "__init__.py") if name.startswith("sartiq_storage")
    }


def test_public_modules_declare_and_document_their_names() -> None:
    """Each top-level module lists what it exports, every listed name exists, and the
    package's docstring names the module."""
    documented = sartiq_storage.__doc__ or ""
    assert {"api", "config", "datasets", "media", "stores", "testing"} <= set(PUBLIC)
    for name in PUBLIC:
        module = importlib.import_module(f"sartiq_storage.{name}")
        exported = getattr(module, "__all__", None)
        assert exported, f"sartiq_storage.{name} has no __all__"
        assert len(set(exported)) == len(exported), f"sartiq_storage.{name}: __all__ repeats"
        missing = [n for n in exported if not hasattr(module, n)]
        assert missing == [], f"sartiq_storage.{name} lists missing names {missing}"
        assert f"sartiq_storage.{name}" in documented, f"__init__ does not name {name}"


def test_bench_does_not_import_the_tests() -> None:
    """The benchmarks take their helpers from ``sartiq_storage.testing``, never from
    ``tests/``: the suite can be reorganised without breaking a benchmark."""
    bench = Path(__file__).resolve().parents[2] / "bench"
    offenders = [
        f"{path.relative_to(bench)} imports {name}"
        for path in sorted(bench.rglob("*.py"))
        for name in sorted(_imports_in(path.read_text("utf-8"), f"bench.{path.stem}"))
        if _reaches(name, ["tests"])
    ]
    assert list(bench.glob("*.py")), "bench/ not found at the root of the repository"
    assert offenders == []


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


def _module_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports at run time, at any depth of the module
    (functions included), ``if TYPE_CHECKING:`` blocks aside (they never run)."""
    modules: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
        for node in ast.iter_child_nodes(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
                continue
            yield node
            yield from runtime_nodes(node)

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in runtime_nodes(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # ``from package import module`` names the module
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycle_anywhere() -> None:
    """Issue 15: no module imports, directly or through others, one that imports it back, not
    even lazily inside a function (a lazy import is how a cycle hides)."""
    graph = _module_graph()
    assert len(graph) > 150  # the walk sees the whole package
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
