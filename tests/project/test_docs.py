"""What the README and docs name must exist: documents, source files, import paths.

A reader follows ``docs/lifecycle.md`` or types
``from sartiq_storage.services.media.service import MediaResourceService``; each of those is
checked here, so a rename or a document never written fails CI instead of a reader.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "sartiq_storage"
TEXTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [*sorted(PACKAGE.rglob("*.py")), *sorted(PACKAGE.rglob("*.toml"))]


def _named(pattern: str, files: list[Path]) -> list[tuple[str, str]]:
    return sorted(
        {
            (match, str(path.relative_to(ROOT)))
            for path in files
            for match in re.findall(pattern, path.read_text("utf-8"))
        }
    )


DOCUMENTS = [
    *_named(r"\b(docs/[\w-]+\.md)\b", [*TEXTS, *SOURCES]),
    *_named(r"`([\w-]+\.md)`", TEXTS),
]
DOTTED = _named(r"\b(sartiq_storage(?:\.\w+)+)", TEXTS)
IMPORTS = _named(r"(from sartiq_storage[\w.]* import \w+(?:, \w+)*)", TEXTS)


@pytest.mark.parametrize(("name", "where"), DOCUMENTS)
def test_named_documents_exist(name: str, where: str) -> None:
    assert (ROOT / name).exists() or (ROOT / "docs" / name).exists(), f"{where} names {name}"


@pytest.mark.parametrize(("name", "where"), DOTTED)
def test_dotted_names_import(name: str, where: str) -> None:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            assert hasattr(target, attribute), f"{where} names {name}"
            target = getattr(target, attribute)
        return
    pytest.fail(f"{where} names {name}, which does not import")


@pytest.mark.parametrize(("statement", "where"), IMPORTS)
def test_import_statements_work(statement: str, where: str) -> None:
    exec(statement, {})  # our own docs' import lines, nothing else


def test_the_checks_see_what_the_docs_name() -> None:
    assert ("docs/lifecycle.md", "README.md") in DOCUMENTS
    assert any(s.endswith("import MediaResourceService") for s, _ in IMPORTS)
