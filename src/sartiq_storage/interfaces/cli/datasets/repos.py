"""``datasets repo create|list`` and ``datasets check``: repositories and their namespaces.

A repository's storage namespace must not overlap a content zone or another repository's:
the orphan scan or the sweep could take its objects. ``check`` reports the ones made before
that rule, and ``serve`` logs one warning line for each.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.cli.datasets.common import (
    PAGE,
    JsonOption,
    all_pages,
    emit,
    engine,
    plain,
)
from sartiq_storage.interfaces.cli.output import err, out, print_json

if TYPE_CHECKING:
    from sartiq_storage.services.context import StorageContext

logger = logging.getLogger("sartiq_storage.datasets")


def repo_create(
    name: Annotated[str, typer.Argument(help="Repository name (lakeFS rules: a-z, 0-9, -).")],
    namespace: Annotated[
        str | None,
        typer.Option(help="Storage namespace; default {DATASETS_NAMESPACE_PREFIX}/{name}."),
    ] = None,
    default_branch: Annotated[str, typer.Option(help="Name of the first branch.")] = "main",
    as_json: JsonOption = False,
) -> None:
    """Create a repository with its default branch and first commit."""
    settings = load_settings()
    storage_namespace = namespace or f"{settings.DATASETS_NAMESPACE_PREFIX.rstrip('/')}/{name}"
    repo = engine().create_repository(name, storage_namespace, default_branch=default_branch)
    if as_json:
        print_json(plain(repo))
        return
    out.print(f"created repository {repo.name} at {repo.storage_namespace} ({repo.default_branch})")


def repo_list(as_json: JsonOption = False) -> None:
    """List repositories."""
    store = engine()
    rows = list(all_pages(lambda after: store.list_repositories(after=after, amount=PAGE)))
    emit(rows, ["name", "default_branch", "storage_namespace", "creation_date"], as_json)


def namespace_conflicts(store: DatasetStore) -> list[tuple[str, str]] | None:
    """``(repository, why)`` for repositories inside a content zone or another repository's
    namespace; None when the engine is a real lakeFS (its storage is not ours to judge)."""
    from sartiq_storage.services.datasets import NativeDatasetEngine

    if not isinstance(store, NativeDatasetEngine):
        return None
    return store.namespace_conflicts()


def warn_about_dataset_namespaces(context: StorageContext) -> None:
    """At ``serve``'s start: one warning log line per overlapping repository."""
    if context.settings.LAKEFS_ENDPOINT:
        return  # a real lakeFS: nothing of ours to check, and no call to it at start
    for name, why in namespace_conflicts(context.datasets) or []:
        logger.warning("dataset repository %r: %s (run 'sartiq-storage datasets check')", name, why)


def check(as_json: JsonOption = False) -> None:
    """Report repositories whose storage namespace overlaps a content zone or another
    repository (exit 1 if any): the orphan scan or the sweep could take their objects."""
    found = namespace_conflicts(engine())
    rows = [{"repository": name, "problem": why} for name, why in found or []]
    if as_json:
        print_json(rows, indent=2)
    elif found is None:
        out.print("datasets live on a real lakeFS: nothing to check here")
    elif not rows:
        out.print("every repository's storage namespace is its own, outside the content zones")
    else:
        for row in rows:
            err.print(f"[red]overlap:[/red] {row['repository']}: {row['problem']}", highlight=False)
    if rows:
        raise typer.Exit(1)
