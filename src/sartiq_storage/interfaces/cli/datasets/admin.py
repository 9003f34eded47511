"""``datasets import`` and ``datasets gc``: bring existing objects in, collect dead blobs."""

from __future__ import annotations

from typing import Annotated

import typer

from sartiq_storage.core.datasets.errors import NotFoundError
from sartiq_storage.core.datasets.model import GcRules
from sartiq_storage.interfaces.cli.datasets.common import Committer, JsonOption, engine, plain
from sartiq_storage.interfaces.cli.output import out, print_json


def import_prefix(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    source: Annotated[str, typer.Argument(help="Key prefix of existing objects on the store.")],
    destination: Annotated[str, typer.Option("--dest", "-d", help="Path prefix in the repo.")] = "",
    message: Annotated[str, typer.Option("--message", "-m")] = "",
    committer: Committer = "sartiq-storage",
) -> None:
    """Zero-copy import: entries point at the existing objects, then one commit."""
    result = engine().import_prefix(
        repo,
        branch,
        source,
        destination,
        message=message or f"Import {source}",
        committer=committer,
    )
    out.print(f"imported {source} into {repo}/{branch}/{destination}: {result.id[:12]}")


def gc(
    repo: Annotated[str, typer.Argument()],
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete; without it, only report.")
    ] = False,
    grace_hours: Annotated[
        float, typer.Option(help="Never touch blobs younger than this.", min=0)
    ] = 6.0,
    retention_days: Annotated[
        int | None, typer.Option(help="Set the repository's default retention first.", min=0)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Garbage-collect blobs no active commit or staged change references."""
    store = engine()
    if retention_days is not None:
        try:
            branches = dict(store.get_gc_rules(repo).branches)
        except NotFoundError:  # no rules set yet
            branches = {}
        store.set_gc_rules(repo, GcRules(retention_days, branches))
    report = store.gc(repo, dry_run=not apply, grace_seconds=int(grace_hours * 3600))
    if as_json:
        print_json(plain(report), indent=2)
        return
    verb = "deleted" if apply else "would delete"
    out.print(
        f"{report.active_commits} active commit(s), {report.reachable_addresses} reachable "
        f"blob(s); {verb} {len(report.candidates)} blob(s)"
        + (f" ({report.deleted} deleted)" if apply else "")
    )
