"""Operator commands: orphans, heal, dead letters, the worker, the legacy migration."""

from __future__ import annotations

import signal
import uuid
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import delete

from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.cli.output import (
    err,
    error_line,
    flush,
    out,
    print_json,
    print_json_text,
)
from sartiq_storage.services import maintenance
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.operations import dead_letters, retry_now
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.services.worker import Worker


def _context() -> StorageContext:
    return build_context(load_settings(), migrate=True)


def _print_report(title: str, report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report, default=str, indent=2)
        return
    table = Table(title=title, show_header=False)
    for name, value in report.items():
        if isinstance(value, list):
            shown = f"{len(value)} shown" + (f": {value[0]} …" if value else "")
        else:
            shown = str(value)
        table.add_row(name, shown)
    out.print(table)


def orphans_scan(
    apply: Annotated[bool, typer.Option("--apply", help="Act; without it, only report.")] = False,
    grace_hours: Annotated[
        float | None, typer.Option(help="Override ORPHAN_GRACE_HOURS.", min=0.0)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Compare the bucket and the database in both directions (dry run unless --apply)."""
    context = _context()
    grace = timedelta(
        hours=grace_hours if grace_hours is not None else context.settings.ORPHAN_GRACE_HOURS
    )
    scanner = OrphanScanner(context.db, context.store, context.media)
    started = utcnow()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} objects"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("scanning", total=None)
        report = scanner.scan(grace=grace, apply=apply, progress=lambda n: bar.advance(task, n))
    maintenance.record(context.db, "orphans", report.as_dict(), applied=apply, started_at=started)
    if apply:
        context.media.deletions.run_once()
    _print_report(
        "orphan scan" + (" (applied)" if apply else " (dry run)"), report.as_dict(), as_json
    )


def heal(
    apply: Annotated[
        bool, typer.Option("--apply", help="Repair; without it, only report.")
    ] = False,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Only these resources.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Restore missing objects from known sources, fill missing metadata (dry run by default)."""
    context = _context()
    try:
        resource_ids = [uuid.UUID(i) for i in ids] if ids else None
    except ValueError:
        raise ValueError("--id takes media resource UUIDs") from None
    result = Healer(context.db, context.store).heal(resource_ids, dry_run=not apply)
    report = {
        "dry_run": result.dry_run,
        "checked": result.checked,
        "fixed": result.fixed,
        "unfixable": result.unfixable,
    }
    if as_json:
        print_json(report, indent=2)
        return
    out.print(
        f"checked {result.checked}; {'fixed' if apply else 'would fix'} {len(result.fixed)}; "
        f"unfixable {len(result.unfixable)}"
    )
    for item in result.fixed:
        out.print(f"  [green]fix[/green] {item['id']}: {item['fix']}")
    for item in result.unfixable:
        out.print(f"  [red]unfixable[/red] {item['id']}: {item['problem']}")


def deadletters_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="The HTTP API's JSON: {items, total}.")
    ] = False,
) -> None:
    """Failed deletions, oldest first."""
    context = _context()
    letters = dead_letters(context.db, limit=None)
    if as_json:
        print_json_text(letters.model_dump_json(indent=2))
        return
    table = Table("storage key", "attempts", "next attempt", "error")
    for letter in letters.items:
        table.add_row(
            letter.storage_key,
            str(letter.attempts) + (" (exhausted)" if letter.exhausted else ""),
            letter.next_attempt_at.isoformat(timespec="seconds"),
            letter.error_message,
        )
    out.print(table)
    out.print(f"{letters.total} dead letter(s)")


def deadletters_retry(
    keys: Annotated[list[str] | None, typer.Argument(help="Storage keys; none: all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The HTTP API's JSON report.")] = False,
) -> None:
    """Retry now, whatever the schedule (exhausted letters included); exit 1 while any
    still fails."""
    context = _context()
    report = retry_now(context.media.deletions, keys)
    if as_json:
        print_json_text(report.model_dump_json(indent=2))
    else:
        for key, error in report.failed.items():
            err.print(f"[red]still failing[/red] {key}: {error}", highlight=False)
        out.print(
            f"deleted {len(report.deleted)}, still failing {len(report.failed)}, "
            f"kept (in use) {len(report.kept_referenced)}"
        )
    if report.failed:
        raise typer.Exit(1)


def deadletters_purge(
    keys: Annotated[list[str] | None, typer.Argument(help="Storage keys; none: all.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really forget them.")] = False,
) -> None:
    """Forget dead letters without deleting their objects (the orphan scan will still see them)."""
    if not yes:
        raise ValueError("purge forgets failed deletions; add --yes to confirm")
    context = _context()
    with context.db.session() as session:
        statement = delete(MediaDeletionDeadLetter)
        if keys:
            statement = statement.where(MediaDeletionDeadLetter.storage_key.in_(keys))
        removed = session.execute(statement).rowcount  # type: ignore[attr-defined]
    out.print(f"purged {removed} dead letter(s)")


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="One pass of everything due, then exit.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --once: run every job, due or not.")
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="Comma-separated jobs: sweep,orphans,enrich.")
    ] = None,
) -> None:
    """Run deferred deletions, dead-letter retries and scheduled scans and sweeps."""
    context = _context()
    runner = Worker(context)
    chosen = {j.strip() for j in only.split(",")} if only else None
    if chosen is not None and not chosen <= set(runner.schedule):
        raise ValueError(f"--only takes {', '.join(runner.schedule)}")

    def stop(signum: int, _frame: object) -> None:
        err.print(f"stopping after the current step ({signal.Signals(signum).name})")
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if once:
        report = runner.run_once(force=force, only=chosen)
        print_json(
            {
                "deleted": report.deleted,
                "dead_lettered": report.dead_lettered,
                "jobs": report.jobs,
                "skipped_locked": report.skipped_locked,
            },
            default=str,
        )
        failed = {kind: job["error"] for kind, job in report.jobs.items() if "error" in job}
        for kind, reason in failed.items():
            error_line(f"job {kind} failed: {reason}")
        if failed:
            raise typer.Exit(1)
        return
    err.print(
        f"worker running (poll {context.settings.WORKER_POLL_SECONDS:g} s); "
        "SIGTERM stops it cleanly"
    )
    flush()
    runner.run_forever()
    err.print("worker stopped")


def legacy_migrate(
    apply: Annotated[
        bool, typer.Option("--apply", help="Migrate; without it, only count.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many keys.", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Backfill legacy objects into media resources, in place (dry run unless --apply)."""
    from sartiq_storage.services.legacy import LegacyMigration

    context = _context()
    started = utcnow()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} keys"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("migrating" if apply else "counting", total=None)
        report = LegacyMigration(context.media).run(
            apply=apply, limit=limit, progress=lambda n: bar.advance(task, n)
        )
    maintenance.record(context.db, "legacy", report.as_dict(), applied=apply, started_at=started)
    data = report.as_dict()
    listed = {name: data.pop(name) for name in ("skipped_keys", "unattached_keys", "failed_keys")}
    if as_json:
        _print_report("", {**data, **listed}, as_json=True)
    else:
        _print_report("legacy migration" + ("" if apply else " (dry run)"), data, as_json=False)
        for name, label, count in (
            ("unattached_keys", "not attached", report.unattached),
            ("skipped_keys", "skipped", report.skipped),
            ("failed_keys", "failed", report.failed),
        ):
            for item in listed[name]:
                out.print(f"{label}: {item['key']}: {item['reason']}", highlight=False)
            if count > len(listed[name]):
                out.print(f"{label}: … and {count - len(listed[name])} more", highlight=False)
    if report.failed:
        raise typer.Exit(1)
