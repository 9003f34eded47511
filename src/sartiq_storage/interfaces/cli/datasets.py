"""``sartiq-storage datasets``: versioned datasets (lakeFS semantics) from the terminal.

Every command works on the engine the settings choose (the embedded one, or a real lakeFS
when ``LAKEFS_ENDPOINT`` is set). Tables for people by default, ``--json`` for scripts.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.datasets.errors import InvalidArgumentError, NotFoundError
from sartiq_storage.core.datasets.model import CommonPrefix, Entry, GcRules
from sartiq_storage.core.datasets.protocol import DatasetStore, DiffMode
from sartiq_storage.core.filenames import content_type_for_extension
from sartiq_storage.interfaces.cli.output import err, out

if TYPE_CHECKING:
    from sartiq_storage.services.context import StorageContext

logger = logging.getLogger("sartiq_storage.datasets")

datasets_app = typer.Typer(
    help="Versioned datasets: repositories, branches, commits, merges (lakeFS semantics).",
    no_args_is_help=True,
)
repo_app = typer.Typer(help="Repositories.", no_args_is_help=True)
branch_app = typer.Typer(help="Branches.", no_args_is_help=True)
tag_app = typer.Typer(help="Tags.", no_args_is_help=True)
datasets_app.add_typer(repo_app, name="repo")
datasets_app.add_typer(branch_app, name="branch")
datasets_app.add_typer(tag_app, name="tag")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Committer = Annotated[str, typer.Option(help="Who the commit names.")]


def _engine() -> DatasetStore:
    from sartiq_storage.services.context import open_datasets

    return open_datasets(load_settings())


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _emit(rows: Sequence[Any], columns: Sequence[str], as_json: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps([_plain(r) for r in rows], default=str, indent=2))
        return
    table = Table(*columns, title=title or None)
    for row in rows:
        data = _plain(row)
        table.add_row(*(_cell(data.get(c), date=c in _EPOCH_COLUMNS) for c in columns))
    out.print(table)


_EPOCH_COLUMNS = frozenset({"creation_date", "date", "mtime"})
"""Unix seconds in lakeFS's model: shown as UTC dates in tables (``--json`` keeps numbers)."""


def _cell(value: Any, *, date: bool = False) -> str:
    if value is None:
        return ""
    if date and isinstance(value, int) and not isinstance(value, bool):
        return _when(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v)[:12] for v in value)
    return str(value)


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ref(ref: str, branch: str | None = None, *, repo: str | None = None) -> str:
    """A ref expression as lakeFS takes it, plus git's ``HEAD``.

    lakeFS resolves ``main``, tags, commit ids and prefixes, ``~N``/``^N`` and a trailing ``@``
    or ``$``, but has no ``HEAD``. Here ``HEAD`` (with any modifiers: ``HEAD~1``, ``HEAD^2``,
    ``HEAD@``) stands for the branch the command works on, or, in a command without one, the
    repository's default branch, as ``HEAD`` names the checked-out branch in git. Everything
    else goes to the engine unchanged, so both engines answer the same way.
    """
    if ref != "HEAD" and not ref.startswith(("HEAD~", "HEAD^", "HEAD@", "HEAD$")):
        return ref
    if branch is None:
        if repo is None:  # pragma: no cover - every caller passes one of them
            raise InvalidArgumentError("HEAD needs a branch or a repository")
        branch = _engine().get_repository(repo).default_branch
    return branch + ref[len("HEAD") :]


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"--meta takes KEY=VALUE, not {item!r}")
        pairs[name] = value
    return pairs


# -- repositories ------------------------------------------------------------------------------


@repo_app.command("create")
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
    repo = _engine().create_repository(name, storage_namespace, default_branch=default_branch)
    if as_json:
        print(json.dumps(_plain(repo)))
        return
    out.print(f"created repository {repo.name} at {repo.storage_namespace} ({repo.default_branch})")


@repo_app.command("list")
def repo_list(as_json: JsonOption = False) -> None:
    """List repositories."""
    engine = _engine()
    rows = list(_all_pages(lambda after: engine.list_repositories(after=after, amount=1000)))
    _emit(rows, ["name", "default_branch", "storage_namespace", "creation_date"], as_json)


def namespace_conflicts(engine: DatasetStore) -> list[tuple[str, str]] | None:
    """``(repository, why)`` for repositories inside a content zone or another repository's
    namespace; None when the engine is a real lakeFS (its storage is not ours to judge)."""
    from sartiq_storage.services.datasets import NativeDatasetEngine

    if not isinstance(engine, NativeDatasetEngine):
        return None
    return engine.namespace_conflicts()


def warn_about_dataset_namespaces(context: StorageContext) -> None:
    """At ``serve``'s start: one warning log line per overlapping repository."""
    if context.settings.LAKEFS_ENDPOINT:
        return  # a real lakeFS: nothing of ours to check, and no call to it at start
    for name, why in namespace_conflicts(context.datasets) or []:
        logger.warning("dataset repository %r: %s (run 'sartiq-storage datasets check')", name, why)


@datasets_app.command("check")
def datasets_check(as_json: JsonOption = False) -> None:
    """Report repositories whose storage namespace overlaps a content zone or another
    repository (exit 1 if any): the orphan scan or the sweep could take their objects."""
    found = namespace_conflicts(_engine())
    rows = [{"repository": name, "problem": why} for name, why in found or []]
    if as_json:
        print(json.dumps(rows, indent=2))
    elif found is None:
        out.print("datasets live on a real lakeFS: nothing to check here")
    elif not rows:
        out.print("every repository's storage namespace is its own, outside the content zones")
    else:
        for row in rows:
            err.print(f"[red]overlap:[/red] {row['repository']}: {row['problem']}", highlight=False)
    if rows:
        raise typer.Exit(1)


def _all_pages(fetch: Any) -> Iterator[Any]:
    after = ""
    while True:
        page = fetch(after)
        yield from page
        if len(page) < 1000:
            return
        after = page[-1].name


# -- branches ----------------------------------------------------------------------------------


@branch_app.command("create")
def branch_create(
    repo: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    source: Annotated[
        str,
        typer.Option("--source", "-s", help="Ref to branch from (default: the default branch)."),
    ] = "HEAD",
) -> None:
    """Create a branch (O(1): a pointer, no data copied)."""
    branch = _engine().create_branch(repo, name, _ref(source, repo=repo))
    out.print(f"created branch {branch.name} at {branch.commit_id[:12]}")


@branch_app.command("list")
def branch_list(
    repo: Annotated[str, typer.Argument()],
    prefix: Annotated[str, typer.Option(help="Only names starting with this.")] = "",
    as_json: JsonOption = False,
) -> None:
    """List branches with their head commits."""
    engine = _engine()
    rows = list(
        _all_pages(
            lambda after: engine.list_branches(repo, prefix=prefix, after=after, amount=1000)
        )
    )
    _emit(rows, ["name", "commit_id"], as_json)


@branch_app.command("delete")
def branch_delete(
    repo: Annotated[str, typer.Argument()], name: Annotated[str, typer.Argument()]
) -> None:
    """Delete a branch (never the default one)."""
    _engine().delete_branch(repo, name)
    out.print(f"deleted branch {name}")


# -- objects -----------------------------------------------------------------------------------


def _files_to_upload(sources: Sequence[Path], destination: str) -> list[tuple[Path, str]]:
    plan: list[tuple[Path, str]] = []
    base = destination.strip("/")
    for source in sources:
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                relative = file.relative_to(source).as_posix()
                plan.append((file, f"{base}/{relative}" if base else relative))
        elif source.is_file():
            plan.append((source, f"{base}/{source.name}" if base else source.name))
        else:
            raise InvalidArgumentError(f"no such file or folder: {source}")
    return plan


@datasets_app.command("upload")
def upload(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    sources: Annotated[list[Path], typer.Argument(help="Files or folders to upload.")],
    destination: Annotated[
        str, typer.Option("--dest", "-d", help="Path prefix inside the repository.")
    ] = "",
) -> None:
    """Stage files (folders recursively) on a branch, with a progress bar."""
    engine = _engine()
    plan = _files_to_upload(sources, destination)
    total = sum(path.stat().st_size for path, _ in plan)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"uploading {len(plan)} file(s)", total=total)
        for path, target in plan:
            with path.open("rb") as handle:
                engine.put_object(
                    repo,
                    branch,
                    target,
                    handle,
                    content_type=content_type_for_extension(path.suffix),
                )
            progress.advance(task, path.stat().st_size)
    out.print(f"staged {len(plan)} object(s), {total} bytes, on {repo}/{branch}")


@datasets_app.command("ls")
def list_objects(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    prefix: Annotated[str, typer.Argument(help="Path prefix.")] = "",
    recursive: Annotated[bool, typer.Option(help="No folders: every object.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List objects at a ref (folders first collapse at '/', unless --recursive)."""
    engine = _engine()
    rows: list[dict[str, Any]] = []
    after = ""
    while True:
        page = engine.list_objects(
            repo,
            _ref(ref, repo=repo),
            prefix=prefix,
            delimiter="" if recursive else "/",
            after=after,
        )
        for item in page.items:
            if isinstance(item, CommonPrefix):
                rows.append({"path": item.path, "type": "prefix"})
            else:
                rows.append(_entry_row(item))
        if not page.has_more:
            break
        after = page.next_offset
    _emit(rows, ["path", "type", "size", "checksum", "content_type"], as_json)


def _entry_row(entry: Entry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "type": "object",
        "size": entry.size,
        "checksum": entry.checksum,
        "content_type": entry.content_type,
        "metadata": dict(entry.metadata),
        "mtime": entry.mtime,
    }


@datasets_app.command("cat")
def cat(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    path: Annotated[str, typer.Argument()],
) -> None:
    """Write one object at a ref to standard output."""
    for chunk in _engine().get_object(repo, _ref(ref, repo=repo), path):
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@datasets_app.command("download")
def download(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    path: Annotated[str, typer.Argument(help="An object, or a prefix ending in '/'.")],
    destination: Annotated[Path, typer.Argument(help="File or folder to write.")],
) -> None:
    """Download an object, or every object under a prefix, at a ref."""
    engine = _engine()
    ref = _ref(ref, repo=repo)
    if not path.endswith("/"):
        _download_one(engine, repo, ref, path, destination)
        out.print(f"wrote {destination}")
        return
    count, after = 0, ""
    while True:
        page = engine.list_objects(repo, ref, prefix=path, after=after)
        for item in page.items:
            if isinstance(item, Entry):
                relative = item.path[len(path) :]
                target = destination / relative
                if not target.resolve().is_relative_to(destination.resolve()):
                    raise InvalidArgumentError(
                        f"{item.path} would be written outside {destination}"
                    )
                _download_one(engine, repo, ref, item.path, target)
                count += 1
        if not page.has_more:
            break
        after = page.next_offset
    out.print(f"wrote {count} object(s) under {destination}")


def _download_one(engine: DatasetStore, repo: str, ref: str, path: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as handle:
        for chunk in engine.get_object(repo, ref, path):
            handle.write(chunk)
    partial.replace(target)


# -- versions ----------------------------------------------------------------------------------


@datasets_app.command("commit")
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
    result = _engine().commit(
        repo,
        branch,
        message,
        committer=committer,
        metadata=_pairs(meta),
        allow_empty=allow_empty,
    )
    if as_json:
        print(json.dumps(_plain(result)))
        return
    out.print(f"committed {result.id[:12]} on {branch}: {result.message}")


@datasets_app.command("log")
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
    commits = _engine().log(
        repo,
        _ref(ref, repo=repo),
        amount=amount,
        objects=path,
        prefixes=prefix,
        first_parent=first_parent,
    )
    if as_json:
        print(json.dumps([_plain(c) for c in commits], indent=2))
        return
    table = Table("commit", "date", "committer", "message", "parents")
    for c in commits:
        table.add_row(
            c.id[:12],
            _when(c.creation_date),
            c.committer,
            c.message,
            " ".join(p[:12] for p in c.parents),
        )
    out.print(table)


@datasets_app.command("diff")
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
    engine = _engine()
    rows: list[Any] = []
    after = ""
    while True:
        if right is None:
            page = engine.diff_uncommitted(repo, _ref(left, repo=repo), prefix=prefix, after=after)
        else:
            mode: DiffMode = "two_dot" if two_dot else "three_dot"
            page = engine.diff(
                repo,
                _ref(left, repo=repo),
                _ref(right, repo=repo),
                mode=mode,
                prefix=prefix,
                after=after,
            )
        rows.extend(page)
        if len(page) < 1000:
            break
        after = page[-1].path
    _emit(rows, ["type", "path", "size_bytes"], as_json)


@datasets_app.command("merge")
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
    result = _engine().merge(
        repo,
        _ref(source, destination),
        destination,
        message=message,
        committer=committer,
        strategy=strategy,  # type: ignore[arg-type]
        squash=squash,
    )
    out.print(f"merged {source} into {destination}: {result.id[:12]}")


@datasets_app.command("revert")
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
    result = _engine().revert(
        repo, branch, _ref(ref, branch), parent_number=parent, committer=committer
    )
    out.print(f"reverted {ref} on {branch}: {result.id[:12]}")


@datasets_app.command("reset")
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
    engine = _engine()
    if to is not None:
        if path or prefix:
            raise InvalidArgumentError("--to moves the whole branch: drop --path/--prefix")
        moved = engine.hard_reset(repo, branch, _ref(to, branch), force=force, actor="cli")
        out.print(f"{branch} now at {moved.commit_id[:12]} (undo with the reflog)")
        return
    if path and prefix:
        raise InvalidArgumentError("give --path or --prefix, not both")
    if path:
        engine.reset_changes(repo, branch, "object", path)
    elif prefix:
        engine.reset_changes(repo, branch, "common_prefix", prefix)
    else:
        engine.reset_changes(repo, branch, "reset")
    out.print(f"discarded uncommitted changes on {branch}")


@datasets_app.command("reflog")
def reflog(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    as_json: JsonOption = False,
) -> None:
    """The branch's recorded rollbacks (hard resets), to undo one."""
    _emit(
        _engine().reflog(repo, branch),
        ["date", "previous_commit_id", "new_commit_id", "reason", "actor"],
        as_json,
    )


# -- tags --------------------------------------------------------------------------------------


@tag_app.command("create")
def tag_create(
    repo: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument(help="What the tag names.")],
) -> None:
    """Tag a commit (immutable)."""
    tag = _engine().create_tag(repo, name, _ref(ref, repo=repo))
    out.print(f"tagged {tag.commit_id[:12]} as {tag.name}")


@tag_app.command("list")
def tag_list(repo: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """List tags."""
    engine = _engine()
    rows = list(_all_pages(lambda after: engine.list_tags(repo, after=after, amount=1000)))
    _emit(rows, ["name", "commit_id"], as_json)


@tag_app.command("delete")
def tag_delete(
    repo: Annotated[str, typer.Argument()], name: Annotated[str, typer.Argument()]
) -> None:
    """Delete a tag."""
    _engine().delete_tag(repo, name)
    out.print(f"deleted tag {name}")


# -- administration ----------------------------------------------------------------------------


@datasets_app.command("import")
def import_prefix(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    source: Annotated[str, typer.Argument(help="Key prefix of existing objects on the store.")],
    destination: Annotated[str, typer.Option("--dest", "-d", help="Path prefix in the repo.")] = "",
    message: Annotated[str, typer.Option("--message", "-m")] = "",
    committer: Committer = "sartiq-storage",
) -> None:
    """Zero-copy import: entries point at the existing objects, then one commit."""
    result = _engine().import_prefix(
        repo,
        branch,
        source,
        destination,
        message=message or f"Import {source}",
        committer=committer,
    )
    out.print(f"imported {source} into {repo}/{branch}/{destination}: {result.id[:12]}")


@datasets_app.command("gc")
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
    engine = _engine()
    if retention_days is not None:
        try:
            branches = dict(engine.get_gc_rules(repo).branches)
        except NotFoundError:  # no rules set yet
            branches = {}
        engine.set_gc_rules(repo, GcRules(retention_days, branches))
    report = engine.gc(repo, dry_run=not apply, grace_seconds=int(grace_hours * 3600))
    if as_json:
        print(json.dumps(_plain(report), indent=2))
        return
    verb = "deleted" if apply else "would delete"
    out.print(
        f"{report.active_commits} active commit(s), {report.reachable_addresses} reachable "
        f"blob(s); {verb} {len(report.candidates)} blob(s)"
        + (f" ({report.deleted} deleted)" if apply else "")
    )
