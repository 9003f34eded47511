"""``sartiq-storage put`` for big files: in parts, with a progress bar, resumable.

The work is :class:`~sartiq_storage.services.file_parts.FilePartUpload`; this module shows it.
The state of an unfinished upload lives under the data folder (``<data>/uploads/``), one file
per (source, key) pair, so running the same command again resumes it.
"""

from __future__ import annotations

from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sartiq_storage.core.errors import InvalidUploadError
from sartiq_storage.core.multipart import MAX_PART_BYTES, MIN_PART_BYTES
from sartiq_storage.interfaces.cli.errors import CliError
from sartiq_storage.interfaces.cli.output import err, out
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.file_parts import FilePartUpload, state_path


def put_in_parts(
    context: StorageContext,
    source: Path,
    key: str,
    *,
    content_type: str,
    cache_control: str | None,
    part_size: int,
    concurrency: int,
    resume: bool,
) -> None:
    if not MIN_PART_BYTES <= part_size <= MAX_PART_BYTES:
        raise CliError(f"--part-size must be {MIN_PART_BYTES} to {MAX_PART_BYTES} bytes")
    state_file = state_path(context.settings.data_dir / "uploads", source, key)
    upload = FilePartUpload(
        context.store,
        source,
        key,
        state_file=state_file,
        content_type=content_type,
        cache_control=cache_control,
        part_size=part_size,
        concurrency=concurrency,
    )
    size = source.stat().st_size
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(f"put {source.name}", total=size)
            result = upload.run(resume=resume, progress=lambda n: progress.advance(task, n))
    except KeyboardInterrupt:
        err.print(f"interrupted: run the same command again to resume ({state_file})")
        raise
    except InvalidUploadError as exc:
        raise CliError(str(exc)) from None
    except Exception:
        if state_file.exists():
            err.print(f"upload interrupted: run the same command again to resume ({state_file})")
        raise
    if result.resumed_parts:
        err.print(f"resumed: {result.resumed_parts} of {result.parts} parts were already stored")
    info = result.info
    out.print(f"stored {info.key} ({info.size} bytes in {result.parts} parts, etag {info.etag})")
