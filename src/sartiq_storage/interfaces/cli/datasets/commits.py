"""``datasets commit|log|diff|merge|revert|reset|reflog``: the history of a repository."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.datasets.protocol import DiffMode
from sartiq_storage.interfaces.cli.datasets.common import (
    PAGE,
    Committer,
    JsonOption,
    emit,
    engine,
    pairs,
    plain,
    resolve_ref,
    when,
)
from sartiq_storage.interfaces.cli.output import out, print_json


def commit(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")],
    meta: Annotated[list[str], typer.Option("--meta", help="KEY=VALUE, repeatable.")] = [],  # noqa: B006
    allow_empty: Annotated[bool, typer.Option(help="Commit even with no changes.")] = False,
    committer: Committer = "sartiq-storage",
    as_json: JsonOption = False,
) -> None:
    """Commit the branch's staged changes."""
    result = engine().commit(
        repo,
        branch,
        message,
        committer=committer,
        metadata=pairs(meta),
        allow_empty=allow_empty,
    )
    if as_json:
        print_json(plain(result))
        return
    out.print(f"committed {result.id[:12]} on {branch}: {result.message}")


def log(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[
        str, typer.Argument(help="Where to start; default: the default branch.")
    ] = "HEAD",
    amount: Annotated[int, typer.Option(help="How many commits.", min=1, max=1000)] = 20,
    path: Annotated[list[str], typer.Option("--path", help="Only commits changing it.")] = [],  # noqa: B006
    prefix: Annotated[list[str], typer.Option("--prefix", help="Only commits under it.")] = [],  # noqa: B006
    first_parent: Annotated[bool, typer.Option(help="Follow first parents only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """History from a ref, newest first."""
    commits = engine().log(
        repo,
        resolve_ref(ref, repo=repo),
        amount=amount,
        objects=path,
        prefixes=prefix,
        first_parent=first_parent,
    )
    if as_json:
        print_json([plain(c) for c in commits], indent=2)
        return
    table = Table("commit", "date", "committer", "message", "parents")
    for c in commits:
        table.add_row(
            c.id[:12],
            when(c.creation_date),
            c.committer,
            c.message,
            " ".join(p[:12] for p in c.parents),
        )
    out.print(table)


def diff(
    repo: Annotated[str, typer.Argument()],
    left: Annotated[str, typer.Argument(help="A ref; alone, a branch: its uncommitted changes.")],
    right: Annotated[str | None, typer.Argument(help="The ref to compare with.")] = None,
    two_dot: Annotated[
        bool, typer.Option(help="Compare directly, not from the merge base.")
    ] = False,
    prefix: Annotated[str, typer.Option(help="Only paths under it.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Differences between two refs, or a branch's uncommitted changes."""
    store = engine()
    rows: list[Any] = []
    after = ""
    while True:
        if right is None:
            page = store.diff_uncommitted(
                repo, resolve_ref(left, repo=repo), prefix=prefix, after=after
            )
        else:
            mode: DiffMode = "two_dot" if two_dot else "three_dot"
            page = store.diff(
                repo,
                resolve_ref(left, repo=repo),
                resolve_ref(right, repo=repo),
                mode=mode,
                prefix=prefix,
                after=after,
            )
        rows.extend(page)
        if len(page) < PAGE:
            break
        after = page[-1].path
    emit(rows, ["type", "path", "size_bytes"], as_json)


def merge(
    repo: Annotated[str, typer.Argument()],
    source: Annotated[str, typer.Argument(help="Ref to merge from.")],
    destination: Annotated[str, typer.Argument(help="Branch to merge into.")],
    strategy: Annotated[
        str | None, typer.Option(help="source-wins or dest-wins for every conflict.")
    ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m")] = None,
    squash: Annotated[bool, typer.Option(help="One parent: the destination.")] = False,
    committer: Committer = "sartiq-storage",
) -> None:
    """Three-way merge; on conflict, every conflicting path is listed."""
    if strategy not in (None, "source-wins", "dest-wins"):
        raise InvalidArgumentError("--strategy must be source-wins or dest-wins")
    result = engine().merge(
        repo,
        resolve_ref(source, destination),
        destination,
        message=message,
        committer=committer,
        strategy=strategy,  # type: ignore[arg-type]
        squash=squash,
    )
    out.print(f"merged {source} into {destination}: {result.id[:12]}")


def revert(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument(help="The commit to undo.")],
    parent: Annotated[
        int, typer.Option(help="For a merge commit: the parent to keep (1-based).")
    ] = 0,
    committer: Committer = "sartiq-storage",
) -> None:
    """Make a commit that undoes another."""
    result = engine().revert(
        repo, branch, resolve_ref(ref, branch), parent_number=parent, committer=committer
    )
    out.print(f"reverted {ref} on {branch}: {result.id[:12]}")


def reset(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    to: Annotated[
        str | None, typer.Option("--to", help="Roll the branch back to this ref (recorded).")
    ] = None,
    path: Annotated[
        str | None, typer.Option(help="Discard the uncommitted change of one object.")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Discard uncommitted changes under it.")
    ] = None,
    force: Annotated[bool, typer.Option(help="With --to: even with uncommitted changes.")] = False,
) -> None:
    """Discard uncommitted changes, or with --to move the branch to an earlier commit."""
    store = engine()
    if to is not None:
        if path or prefix:
            raise InvalidArgumentError("--to moves the whole branch: drop --path/--prefix")
        moved = store.hard_reset(repo, branch, resolve_ref(to, branch), force=force, actor="cli")
        out.print(f"{branch} now at {moved.commit_id[:12]} (undo with the reflog)")
        return
    if path and prefix:
        raise InvalidArgumentError("give --path or --prefix, not both")
    if path:
        store.reset_changes(repo, branch, "object", path)
    elif prefix:
        store.reset_changes(repo, branch, "common_prefix", prefix)
    else:
        store.reset_changes(repo, branch, "reset")
    out.print(f"discarded uncommitted changes on {branch}")


def reflog(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    as_json: JsonOption = False,
) -> None:
    """The branch's recorded rollbacks (hard resets), to undo one."""
    emit(
        engine().reflog(repo, branch),
        ["date", "previous_commit_id", "new_commit_id", "reason", "actor"],
        as_json,
    )
