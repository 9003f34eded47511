"""``datasets branch create|list|delete`` and ``datasets tag create|list|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from sartiq_storage.interfaces.cli.datasets.common import (
    PAGE,
    JsonOption,
    all_pages,
    emit,
    engine,
    resolve_ref,
)
from sartiq_storage.interfaces.cli.output import out


def branch_create(
    repo: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    source: Annotated[
        str,
        typer.Option("--source", "-s", help="Ref to branch from (default: the default branch)."),
    ] = "HEAD",
) -> None:
    """Create a branch (O(1): a pointer, no data copied)."""
    branch = engine().create_branch(repo, name, resolve_ref(source, repo=repo))
    out.print(f"created branch {branch.name} at {branch.commit_id[:12]}")


def branch_list(
    repo: Annotated[str, typer.Argument()],
    prefix: Annotated[str, typer.Option(help="Only names starting with this.")] = "",
    as_json: JsonOption = False,
) -> None:
    """List branches with their head commits."""
    store = engine()
    rows = list(
        all_pages(lambda after: store.list_branches(repo, prefix=prefix, after=after, amount=PAGE))
    )
    emit(rows, ["name", "commit_id"], as_json)


def branch_delete(
    repo: Annotated[str, typer.Argument()], name: Annotated[str, typer.Argument()]
) -> None:
    """Delete a branch (never the default one)."""
    engine().delete_branch(repo, name)
    out.print(f"deleted branch {name}")


def tag_create(
    repo: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument(help="What the tag names.")],
) -> None:
    """Tag a commit (immutable)."""
    tag = engine().create_tag(repo, name, resolve_ref(ref, repo=repo))
    out.print(f"tagged {tag.commit_id[:12]} as {tag.name}")


def tag_list(repo: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """List tags."""
    store = engine()
    rows = list(all_pages(lambda after: store.list_tags(repo, after=after, amount=PAGE)))
    emit(rows, ["name", "commit_id"], as_json)


def tag_delete(
    repo: Annotated[str, typer.Argument()], name: Annotated[str, typer.Argument()]
) -> None:
    """Delete a tag."""
    engine().delete_tag(repo, name)
    out.print(f"deleted tag {name}")
