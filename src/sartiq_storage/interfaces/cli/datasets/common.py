"""What the ``datasets`` commands share: the engine, ref expressions, tables and JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.cli.output import out, print_json

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Committer = Annotated[str, typer.Option(help="Who the commit names.")]

PAGE = 1000
"""Listing page size; a shorter page is the last one."""


def engine() -> DatasetStore:
    """The dataset engine the settings choose (embedded, or a real lakeFS)."""
    from sartiq_storage.services.context import open_datasets

    return open_datasets(load_settings())


def plain(value: Any) -> Any:
    """Dataclasses, dicts and sequences as plain JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def emit(rows: Sequence[Any], columns: Sequence[str], as_json: bool, title: str = "") -> None:
    """Rows as a JSON list (``--json``) or as a table of the named columns."""
    if as_json:
        print_json([plain(r) for r in rows], default=str, indent=2)
        return
    table = Table(*columns, title=title or None)
    for row in rows:
        data = plain(row)
        table.add_row(*(_cell(data.get(c), date=c in _EPOCH_COLUMNS) for c in columns))
    out.print(table)


_EPOCH_COLUMNS = frozenset({"creation_date", "date", "mtime"})
"""Unix seconds in lakeFS's model: shown as UTC dates in tables (``--json`` keeps numbers)."""


def _cell(value: Any, *, date: bool = False) -> str:
    if value is None:
        return ""
    if date and isinstance(value, int) and not isinstance(value, bool):
        return when(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v)[:12] for v in value)
    return str(value)


def when(seconds: int) -> str:
    """Unix seconds as a UTC date, as tables show them."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def resolve_ref(expression: str, branch: str | None = None, *, repo: str | None = None) -> str:
    """A ref expression as lakeFS takes it, plus git's ``HEAD``.

    lakeFS resolves ``main``, tags, commit ids and prefixes, ``~N``/``^N`` and a trailing ``@``
    or ``$``, but has no ``HEAD``. Here ``HEAD`` (with any modifiers: ``HEAD~1``, ``HEAD^2``,
    ``HEAD@``) stands for the branch the command works on, or, in a command without one, the
    repository's default branch, as ``HEAD`` names the checked-out branch in git. Everything
    else goes to the engine unchanged, so both engines answer the same way.
    """
    if expression != "HEAD" and not expression.startswith(("HEAD~", "HEAD^", "HEAD@", "HEAD$")):
        return expression
    if branch is None:
        if repo is None:  # pragma: no cover - every caller passes one of them
            raise InvalidArgumentError("HEAD needs a branch or a repository")
        branch = engine().get_repository(repo).default_branch
    return branch + expression[len("HEAD") :]


def pairs(values: Sequence[str]) -> dict[str, str]:
    """``--meta KEY=VALUE`` options as a dict."""
    found: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"--meta takes KEY=VALUE, not {item!r}")
        found[name] = value
    return found


def all_pages(fetch: Callable[[str], Sequence[Any]]) -> Iterator[Any]:
    """Every item of a listing paged by name (repositories, branches, tags)."""
    after = ""
    while True:
        page = fetch(after)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].name
