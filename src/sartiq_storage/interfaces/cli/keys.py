"""``sartiq-storage keys explain|build``: read a key into its parts, or write one from them.

``build`` uses the same typed keys the services write with (``core/keys/``), so a key built
here is exactly what an upload, an ingest or the compute server would produce, and ``explain``
reads it back into the same fields. Legacy zones are refused: they are never written.
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.filenames import normalize_extension, safe_filename
from sartiq_storage.core.keys import ComputeResultKey, MediaKey, TempUploadKey, parse_key
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.interfaces.cli.output import out, show_json

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

LEGACY_ZONES = ("images", "legacy_images", "shooting_looks", "legacy_shooting_looks")


class BuildZone(StrEnum):
    media = "media"
    temp = "temp"
    compute = "compute"


class KeyUsageError(StorageError, ValueError):
    """Options that do not fit the zone asked for (printed as one line, exit 1)."""

    status = 400


def show_key(key: str, as_json: bool) -> None:
    """Print a key's zone, entity, parsed fields, retention and public URL."""
    parsed = parse_key(key)
    fields: dict[str, object] = dict(parsed.as_dict())
    fields["key"] = parsed.key
    fields["public_url"] = UrlResolver.from_settings(load_settings()).public_url(parsed.key)
    if as_json:
        show_json(fields, default=str)
        return
    table = Table("field", "value", show_header=False)
    table.columns[1].overflow = "fold"
    for name, value in fields.items():
        table.add_row(name, "" if value is None else str(value))
    out.print(table)


def explain(
    key: Annotated[str, typer.Argument(help="An object key, e.g. media/<uuid>/file.webp")],
    as_json: JsonOption = False,
) -> None:
    """Parse a key: its zone, entity, ids, retention and public URL."""
    show_key(key, as_json)


def _only(zone: str, given: dict[str, object]) -> None:
    extra = [name for name, value in given.items() if value is not None]
    if extra:
        verb = "does" if len(extra) == 1 else "do"
        raise KeyUsageError(f"{', '.join(extra)} {verb} not apply to {zone} keys")


def build(
    zone: Annotated[
        str,
        typer.Argument(
            help="media, temp or compute (legacy images/ and shooting_looks/ are never written)."
        ),
    ],
    resource_id: Annotated[
        str | None, typer.Option("--id", help="media: the resource UUID (default: a new one).")
    ] = None,
    ext: Annotated[
        str | None, typer.Option("--ext", help="media: the extension (JPEG → jpg).")
    ] = None,
    filename: Annotated[
        str | None, typer.Option(help="temp: the uploaded file's name (made safe).")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option(help="temp: its Content-Type (decides the extension).")
    ] = None,
    file_id: Annotated[
        str | None, typer.Option(help="temp: the upload id (default: a new one).")
    ] = None,
    timestamp: Annotated[
        int | None, typer.Option(help="temp: Unix seconds (default: now).", min=0)
    ] = None,
    task_type: Annotated[
        str | None, typer.Option(help="compute: the task type, e.g. generation.")
    ] = None,
    task_id: Annotated[str | None, typer.Option(help="compute: the task id.")] = None,
    index: Annotated[
        int | None, typer.Option(help="compute: the result's index (default 0).", min=0)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Build a key from its parts, as the service would write it, and explain it."""
    if zone in LEGACY_ZONES:
        raise KeyUsageError(
            f"{zone} keys are read-only: legacy layouts are never written, so none is built"
        )
    try:
        chosen = BuildZone(zone)
    except ValueError:
        raise KeyUsageError(f"zone must be media, temp or compute, not {zone!r}") from None
    temp_options = {
        "--filename": filename,
        "--content-type": content_type,
        "--file-id": file_id,
        "--timestamp": timestamp,
    }
    compute_options = {"--task-type": task_type, "--task-id": task_id, "--index": index}
    media_options = {"--id": resource_id, "--ext": ext}
    key: str
    if chosen is BuildZone.media:
        _only("media", {**temp_options, **compute_options})
        if ext is None:
            raise KeyUsageError("media keys need --ext (e.g. --ext webp)")
        try:
            rid = uuid.UUID(resource_id) if resource_id is not None else uuid.uuid4()
        except ValueError:
            raise KeyUsageError(f"--id must be a UUID, not {resource_id!r}") from None
        key = MediaKey(rid, normalize_extension(ext)).key
    elif chosen is BuildZone.temp:
        _only("temp", {**media_options, **compute_options})
        if filename is None:
            raise KeyUsageError("temp keys need --filename (e.g. --filename photo.jpg)")
        key = TempUploadKey(
            file_id or uuid.uuid4().hex,
            int(time.time()) if timestamp is None else timestamp,
            safe_filename(filename, content_type=content_type),
        ).key
    else:
        _only("compute", {**media_options, **temp_options})
        if task_type is None or task_id is None:
            raise KeyUsageError("compute keys need --task-type and --task-id (and --index)")
        key = ComputeResultKey(task_type, task_id, 0 if index is None else index).key
    show_key(key, as_json)
