"""``datasets import`` and ``datasets gc``: bring existing objects in, collect dead blobs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sartiq_storage.core.datasets.errors import NotFoundError
from sartiq_storage.core.datasets.model import GcRules
from sartiq_storage.interfaces.cli.datasets.common import Committer, JsonOption, engine, plain
from sartiq_storage.interfaces.cli.errors import CliError
from sartiq_storage.interfaces.cli.output import err, out, print_json
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.imports import (
    ImportJob,
    ImportSource,
    SourceType,
)


def import_prefix(
    repo: Annotated[str, typer.Argument()],
    branch: Annotated[str, typer.Argument()],
    source: Annotated[
        str,
        typer.Argument(
            help="What to import: s3://bucket/prefix/ on an S3 deployment, local://prefix/ "
            "on the embedded one (ignored with --resume)."
        ),
    ] = "",
    destination: Annotated[str, typer.Option("--dest", "-d", help="Path prefix in the repo.")] = "",
    message: Annotated[str, typer.Option("--message", "-m")] = "",
    committer: Committer = "sartiq-storage",
    single_object: Annotated[
        bool, typer.Option("--object", help="SOURCE is one object; --dest is its path.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue a stopped import by its id.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            help="Objects per saved step (what a restart may redo); default DATASETS_IMPORT_BATCH.",
            min=1,
        ),
    ] = None,
) -> None:
    """Zero-copy import: entries point at the existing objects, then one commit. Progress is
    saved every --batch objects, so an interrupted import continues with --resume."""
    store = engine()
    if not isinstance(store, NativeDatasetEngine):
        if resume or single_object:
            raise CliError("--resume and --object need the native engine")
        result = store.import_prefix(
            repo,
            branch,
            source,
            destination,
            message=message or f"Import {source}",
            committer=committer,
        )
        out.print(f"imported {source} into {repo}/{branch}/{destination}: {result.id[:12]}")
        return
    if resume is None:
        if not source:
            raise CliError("give SOURCE (or --resume ID)")
        kind: SourceType = "object" if single_object else "common_prefix"
        import_id = store.start_import(
            repo,
            branch,
            [ImportSource(kind, source, destination)],
            message=message or f"Import {source}",
            committer=committer,
        )
        err.print(f"import {import_id} started", highlight=False)
    else:
        import_id = resume
    with _ImportProgress(import_id) as progress:
        job = store.run_import(repo, import_id, progress=progress, batch=batch)
    if job.state == "running":
        raise CliError(f"import {import_id} is being run by another process")
    if job.commit is None:
        raise CliError(f"import {import_id} {job.state}: {job.error}")
    out.print(
        f"imported {job.ingested} object(s) into {repo}/{branch}/{destination}: "
        f"{job.commit.id[:12]}",
        highlight=False,
    )


class _ImportProgress:
    """A Rich progress bar on stderr on a terminal; elsewhere one line per saved batch."""

    def __init__(self, import_id: str) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} object(s) ingested"),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,
        )
        self.task = self.progress.add_task(f"import {import_id}", total=None)

    def __enter__(self) -> _ImportProgress:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def __call__(self, job: ImportJob) -> None:
        self.progress.update(self.task, completed=job.ingested)
        if job.state != "running":
            self.progress.update(self.task, total=max(job.ingested, 1), completed=job.ingested)
        if not err.is_terminal:
            err.print(f"ingested {job.ingested} object(s) ({job.state})", highlight=False)


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
