"""``sartiq-storage ls|put|get|rm``: objects on the configured store, key by key.

Legacy layouts (``images/``, ``shooting_looks/``) are read-only: the platform's old services
still serve them, so ``put`` and ``rm`` refuse their keys before touching anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sartiq_storage.adapters.db.migrate import current_revision
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.filenames import content_type_for_extension
from sartiq_storage.core.keys import classify, is_legacy, parse_key
from sartiq_storage.core.policies import cache_control_for
from sartiq_storage.interfaces.cli.errors import CliError
from sartiq_storage.interfaces.cli.output import err, out, print_json, write_bytes
from sartiq_storage.interfaces.cli.parts import put_in_parts
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.media.deletions import key_status, unreferenceable

_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")
"""What ``--content-type`` and ``--cache-control`` may hold: they are stored and sent as HTTP
header values, where a control character is refused (or worse, splits the header)."""


def _refuse_legacy(key: str, verb: str) -> None:
    """Legacy layouts are read-only: the platform's old services still serve them."""
    if is_legacy(key):
        zone = classify(key)
        raise CliError(f"{key}: {zone.value} keys are read-only (legacy layouts are never {verb})")


def _refuse_referenced(
    context: StorageContext,
    keys: list[str],
    outcome: str = "nothing was deleted "
    "(remove the resource through the API, which deletes its file once unused)",
) -> None:
    """A key a media resource names is its bytes: deleting it would leave a row pointing at
    nothing (``/files`` a 404, every grid a broken image), replacing them would make its
    hash, size and dimensions lies (and the CDN, which caches them as immutable, would serve
    both). Resources are removed through the API, whose deletion runs once no row names the
    key; new bytes are ingested as a resource of their own."""
    if unreferenceable(keys) is not None:  # no media/ key: no row can name one
        return
    if current_revision(context.db) is None:  # a database never migrated holds no resource
        return
    with context.db.read_connection() as connection:
        named = sorted(key_status(connection, keys).referenced)
    if named:
        raise CliError(f"{named[0]}: a media resource still names it; {outcome}")


def _context() -> StorageContext:
    return build_context(load_settings())


def list_objects(
    prefix: Annotated[str, typer.Argument(help="Key prefix (plain string, as on S3).")] = "",
    limit: Annotated[int, typer.Option(help="Stop after this many objects (0: all).", min=0)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List objects under a prefix, in key order."""
    context = _context()
    table = Table("key", "size", "last modified")
    for count, info in enumerate(context.store.list(prefix), start=1):
        if as_json:
            row = {"key": info.key, "size": info.size, "etag": info.etag}
            row["last_modified"] = info.last_modified.isoformat()
            print_json(row)
        else:
            table.add_row(
                info.key, str(info.size), info.last_modified.isoformat(timespec="seconds")
            )
        if limit and count >= limit:
            break
    if not as_json:
        out.print(table)


def put_object(
    source: Annotated[Path, typer.Argument(help="Local file to upload.")],
    key: Annotated[str, typer.Argument(help="Destination key.")],
    content_type: Annotated[str | None, typer.Option(help="Defaults from the extension.")] = None,
    cache_control: Annotated[
        str | None,
        typer.Option(help="Cache-Control to store (default: the key's zone policy)."),
    ] = None,
    if_absent: Annotated[bool, typer.Option(help="Refuse to replace an existing object.")] = False,
    threshold: Annotated[
        int | None,
        typer.Option(
            metavar="BYTES",
            min=1,
            help="Send files this large or larger in parts "
            "(default: STORAGE_MULTIPART_THRESHOLD_BYTES).",
        ),
    ] = None,
    part_size: Annotated[
        int | None,
        typer.Option(
            metavar="BYTES",
            help="Part size, 5 MiB to 5 GiB (default: STORAGE_MULTIPART_PART_BYTES).",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Parts sent at once.")] = 4,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted upload of the same file to the same key "
            "(--no-resume: abort it and start over)."
        ),
    ] = True,
) -> None:
    """Upload a local file to a key; big files go in parts and resume.

    Above the threshold the file goes in parts with a progress bar, and an interrupted
    upload resumes when the same command runs again."""
    for option, value in (("--content-type", content_type), ("--cache-control", cache_control)):
        if value is not None and not _HEADER_VALUE.fullmatch(value):
            raise CliError(f"{option} must be printable ASCII on one line (it is an HTTP header)")
    if source.is_dir():
        raise CliError(f"{source} is a folder: put takes one file")
    if not source.is_file():
        raise CliError(f"no such file: {source}")
    parsed = parse_key(key)
    _refuse_legacy(parsed.key, "written")
    context = _context()
    _refuse_referenced(
        context,
        [parsed.key],
        "nothing was written (its bytes are the resource's: ingest the new file instead)",
    )
    kind = content_type or content_type_for_extension(source.suffix)
    # The zone's policy (docs/delivery.md), as every other writer stores it: without it a
    # media/ or compute/ object reached the CDN with no Cache-Control at all.
    cache_control = cache_control or cache_control_for(parsed.key)
    if threshold is None:
        threshold = context.settings.STORAGE_MULTIPART_THRESHOLD_BYTES
    if source.stat().st_size >= threshold:
        if if_absent and context.store.exists(parsed.key):
            raise CliError(f"{parsed.key} exists (--if-absent)")
        put_in_parts(
            context,
            source,
            parsed.key,
            content_type=kind,
            cache_control=cache_control,
            part_size=(
                context.settings.STORAGE_MULTIPART_PART_BYTES if part_size is None else part_size
            ),
            concurrency=concurrency,
            resume=resume,
        )
        return
    with source.open("rb") as handle:
        result = context.store.put(
            parsed.key, handle, content_type=kind, cache_control=cache_control, if_absent=if_absent
        )
    out.print(f"stored {result.key} ({result.size} bytes, etag {result.etag})")


def get_object(
    key: Annotated[str, typer.Argument(help="Key to download.")],
    destination: Annotated[str, typer.Argument(help="File to write, or - for stdout.")] = "-",
) -> None:
    """Download an object to a file (into a folder: under the key's last name) or to stdout."""
    target = Path(destination)
    if destination != "-":
        if target.is_dir():  # as cp does (and `datasets download`): into the folder
            target = target / key.rsplit("/", 1)[-1]
        if not target.parent.is_dir():
            raise CliError(f"no such folder: {target.parent}")
    context = _context()
    with context.store.get(key) as stream:
        if destination == "-":
            write_bytes(stream)
            return
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as handle:
                for chunk in stream:
                    handle.write(chunk)
            partial.replace(target)
        except BaseException:  # Ctrl-C, a full disk, the store failing mid-stream
            partial.unlink(missing_ok=True)  # nothing half-written stays behind
            raise
    err.print(f"wrote {target} ({stream.info.size} bytes)")


def remove_objects(
    keys: Annotated[list[str], typer.Argument(help="Keys to delete.")],
) -> None:
    """Delete objects; legacy keys and media/ keys still in use are refused.

    A missing object counts as deleted. Legacy images/ and shooting_looks/ keys are refused,
    and so is a media/ key a media resource still names: nothing is deleted when one is."""
    for key in keys:
        _refuse_legacy(key, "deleted")
    context = _context()
    _refuse_referenced(context, keys)
    failures = context.store.delete_many(keys)
    for failure in failures:
        err.print(f"[red]failed[/red] {failure.key}: {failure.error}")
    out.print(f"deleted {len(keys) - len(failures)} of {len(keys)}")
    if failures:
        raise typer.Exit(1)
