"""Every ``python`` block in ``docs/*.md`` that uses ``sartiq_storage`` runs, top to bottom
in each document, as a reader would paste it: a renamed import or a changed signature fails
here instead of in a reader's shell.

Each document's blocks share one namespace and run in a fresh folder with the embedded
defaults (``tests/conftest.py`` clears the environment and changes into ``tmp_path``). A
block whose first line is ``# not run: <reason>`` has only its import statements run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOCS = sorted((Path(__file__).resolve().parents[2] / "docs").glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
NOT_RUN = "# not run:"


def _blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text("utf-8")
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in _BLOCK.finditer(text)
        if "sartiq_storage" in match.group(1)
    ]


def _imports_only(source: str) -> str:
    tree = ast.parse(source)
    kept = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


DOCUMENTED = [path for path in DOCS if _blocks(path)]


@pytest.mark.parametrize("path", DOCUMENTED, ids=[p.name for p in DOCUMENTED])
def test_python_blocks_run(path: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for line, source in _blocks(path):
        if source.startswith(NOT_RUN):
            source = _imports_only(source)
        code = compile(source, f"{path.name}:{line}", "exec")
        exec(code, namespace)  # our own documentation's examples, nothing else


def test_the_documents_with_examples_are_found() -> None:
    names = {path.name for path in DOCUMENTED}
    assert {"embedding.md", "media.md"} <= names
