"""``datasets upload|ls|cat|download``: objects on a branch or at any ref."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.core.datasets.model import CommonPrefix, Entry
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.core.filenames import content_type_for_extension
from sartiq_storage.interfaces.cli.datasets.common import JsonOption, emit, engine, resolve_ref
from sartiq_storage.interfaces.cli.output import err, out, write_bytes


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


def upload(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    sources: Annotated[list[Path], typer.Argument(help="Files or folders to upload.")],
    destination: Annotated[
        str, typer.Option("--dest", "-d", help="Path prefix inside the repository.")
    ] = "",
) -> None:
    """Stage files (folders recursively) on a branch, with a progress bar."""
    store = engine()
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
                store.put_object(
                    repo,
                    branch,
                    target,
                    handle,
                    content_type=content_type_for_extension(path.suffix),
                )
            progress.advance(task, path.stat().st_size)
    out.print(f"staged {len(plan)} object(s), {total} bytes, on {repo}/{branch}")


def list_objects(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    prefix: Annotated[str, typer.Argument(help="Path prefix.")] = "",
    recursive: Annotated[bool, typer.Option(help="No folders: every object.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List objects at a ref (folders first collapse at '/', unless --recursive)."""
    store = engine()
    rows: list[dict[str, Any]] = []
    after = ""
    while True:
        page = store.list_objects(
            repo,
            resolve_ref(ref, repo=repo),
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
    emit(rows, ["path", "type", "size", "checksum", "content_type"], as_json)


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


def cat(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    path: Annotated[str, typer.Argument()],
) -> None:
    """Write one object at a ref to standard output."""
    write_bytes(engine().get_object(repo, resolve_ref(ref, repo=repo), path))


def download(
    repo: Annotated[str, typer.Argument()],
    ref: Annotated[str, typer.Argument()],
    path: Annotated[str, typer.Argument(help="An object, or a prefix ending in '/'.")],
    destination: Annotated[Path, typer.Argument(help="File or folder to write.")],
) -> None:
    """Download an object, or every object under a prefix, at a ref."""
    store = engine()
    ref = resolve_ref(ref, repo=repo)
    if not path.endswith("/"):
        if destination.is_dir():  # as cp does: into the folder, under the object's name
            destination = destination / path.rsplit("/", 1)[-1]
        _download_one(store, repo, ref, path, destination)
        out.print(f"wrote {destination}")
        return
    count, after = 0, ""
    while True:
        page = store.list_objects(repo, ref, prefix=path, after=after)
        for item in page.items:
            if isinstance(item, Entry):
                relative = item.path[len(path) :]
                target = destination / relative
                if not target.resolve().is_relative_to(destination.resolve()):
                    raise InvalidArgumentError(
                        f"{item.path} would be written outside {destination}"
                    )
                _download_one(store, repo, ref, item.path, target)
                count += 1
        if not page.has_more:
            break
        after = page.next_offset
    out.print(f"wrote {count} object(s) under {destination}")


def _download_one(store: DatasetStore, repo: str, ref: str, path: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as handle:
            for chunk in store.get_object(repo, ref, path):
                handle.write(chunk)
        partial.replace(target)
    except BaseException:  # Ctrl-C, a full disk, a missing object: no .part left behind
        partial.unlink(missing_ok=True)
        raise
