"""``sartiq-storage lifecycle``: retention as code from the command line.

``plan`` shows the policy and how the bucket's lifecycle and CORS rules differ from it,
``apply`` writes the difference, ``check`` exits 1 on drift (for CI and alarms), and ``sweep``
enforces the policy on stores without a lifecycle engine. Settings choose the store, the
environment and the policy file, exactly as for ``serve``. Errors are raised as
``StorageError``/``ValueError`` for the main CLI to print as one line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from sartiq_storage.core.config import Settings, load_settings
from sartiq_storage.core.lifecycle import LifecyclePolicy, policy_for
from sartiq_storage.interfaces.cli.output import err, out, print_json
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.lifecycle import (
    Plan,
    SweepProgress,
    SweepReport,
    apply,
    drift_lines,
    plan,
    sweep,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _open(*, for_sweep: bool = False) -> tuple[Settings, LifecyclePolicy, StorageContext]:
    settings = load_settings()
    policy = policy_for(settings)  # a broken policy file fails before anything is opened
    # The embedded store keeps its own SQLite: bring it up to date, as `serve` would. A shared
    # database is migrated by its service (`serve`, `db upgrade`), never by a maintenance run.
    context = build_context(settings, migrate=for_sweep and settings.embedded)
    return settings, policy, context


def _days(days: int | None) -> str:
    if days is None:
        return "permanent"
    return f"{days} day{'s' if days != 1 else ''}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover - the loop always returns


def _print_plan(result: Plan) -> None:
    policy = result.policy
    out.print(f"store: {result.store}")
    out.print(f"environment: {policy.environment.value} · policy: {policy.source}")
    table = Table("prefix", "retention", "description", title="policy")
    for rule in policy.rules:
        table.add_row(rule.prefix, _days(rule.expire_days), rule.description)
    if policy.abort_incomplete_multipart_days:
        table.add_row(
            "(whole bucket)",
            f"abort multipart after {_days(policy.abort_incomplete_multipart_days)}",
            "uploads never completed",
        )
    out.print(table)
    if result.lifecycle is None or result.cors is None:
        out.print(result.note or "")
        return
    rules = Table("rule", "bucket", "policy", "action", title="lifecycle rules")
    diff = result.lifecycle
    changed = {c.desired.id: c for c in diff.changed}
    missing = {r.id for r in diff.missing}
    conflicts = {id(c.rule): c.reason for c in diff.conflicts}
    for want in diff.desired:
        if want.id in missing:
            rules.add_row(want.id, "—", want.describe(), "[yellow]add[/yellow]")
        elif want.id in changed:
            rules.add_row(
                want.id,
                changed[want.id].current.describe(),
                want.describe(),
                "[yellow]update[/yellow]",
            )
        else:
            rules.add_row(want.id, want.describe(), want.describe(), "ok")
    for extra in diff.extra:
        rules.add_row(extra.id, extra.describe(), "—", "[red]remove[/red]")
    for foreign in diff.foreign:
        reason = conflicts.get(id(foreign))
        action = f"[red]keep (conflict: {reason})[/red]" if reason else "keep (foreign)"
        rules.add_row(foreign.id or "(no id)", foreign.describe(), "—", action)
    out.print(rules)
    cors_table = Table("rule", "origins", "methods", "exposes", "action", title="CORS rules")
    cors = result.cors
    if cors.desired is not None:
        action = (
            "[yellow]add[/yellow]"
            if cors.missing
            else "[yellow]update[/yellow]"
            if cors.changed
            else "ok"
        )
        wanted = cors.desired
        cors_table.add_row(
            wanted.id or "",
            ", ".join(wanted.origins),
            ", ".join(wanted.methods),
            ", ".join(wanted.expose_headers),
            action,
        )
    for cors_rule in cors.extra:
        cors_table.add_row(
            cors_rule.id or "", ", ".join(cors_rule.origins), "", "", "[red]remove[/red]"
        )
    for cors_rule in cors.foreign:
        cors_table.add_row(
            cors_rule.id or "(no id)",
            ", ".join(cors_rule.origins),
            ", ".join(cors_rule.methods),
            ", ".join(cors_rule.expose_headers),
            "keep (foreign)",
        )
    out.print(cors_table)
    out.print("in sync" if result.in_sync else "drift: `lifecycle apply` writes the changes")


def _emit_json(data: dict[str, Any]) -> None:
    print_json(data, indent=2, default=str)


def plan_command(as_json: JsonOption = False) -> None:
    """Show the policy and what the bucket's lifecycle and CORS rules lack or add."""
    settings, policy, context = _open()
    try:
        result = plan(context.store, policy, settings.WEB_APP_ORIGINS)
    finally:
        context.close()
    if as_json:
        _emit_json({**result.as_dict(), "drift": drift_lines(result)})
        return
    _print_plan(result)


def apply_command(
    remove_foreign: Annotated[
        bool,
        typer.Option(
            "--remove-foreign", help="Also remove rules not made by us (kept by default)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the policy's lifecycle rules and the Web App's CORS rule to the bucket."""
    settings, policy, context = _open()
    try:
        result = apply(
            context.store, policy, settings.WEB_APP_ORIGINS, remove_foreign=remove_foreign
        )
    finally:
        context.close()
    remaining = drift_lines(result.after)
    if as_json:
        _emit_json(
            {
                "before": result.before.as_dict(),
                "after": result.after.as_dict(),
                "lifecycle_written": result.lifecycle_written,
                "cors_written": result.cors_written,
                "drift": remaining,
            }
        )
    elif not result.before.has_engine:
        out.print(result.before.note or "")
    else:
        changes = drift_lines(result.before)
        for line in changes:
            out.print(f"applied: {line}", highlight=False)
        if remove_foreign:
            for rule in result.before.lifecycle.foreign if result.before.lifecycle else ():
                out.print(f"removed foreign lifecycle rule {rule.id or '(no id)'}")
            for cors in result.before.cors.foreign if result.before.cors else ():
                out.print(f"removed foreign CORS rule {cors.id or '(no id)'}")
        if not (result.lifecycle_written or result.cors_written):
            out.print("already in sync: nothing written")
        for line in remaining:
            err.print(f"still drifting: {line}", highlight=False)
    if remaining:
        raise typer.Exit(1)


def check_command(as_json: JsonOption = False) -> None:
    """Exit 1 when the bucket drifted from the policy, 0 when in sync (or without an engine)."""
    settings, policy, context = _open()
    try:
        result = plan(context.store, policy, settings.WEB_APP_ORIGINS)
    finally:
        context.close()
    lines = drift_lines(result)
    if as_json:
        _emit_json({"in_sync": result.in_sync, "store": result.store, "drift": lines})
    elif not result.has_engine:
        out.print(f"ok: {result.note}")
    elif result.in_sync:
        out.print(f"ok: {result.store} matches the {result.policy.environment.value} policy")
    else:
        for line in lines:
            out.print(f"drift: {line}", highlight=False)
    if not result.in_sync:
        raise typer.Exit(1)


class _ProgressBar:
    """A Rich progress display on stderr, one line per prefix (silent when not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[scanned]} scanned · {task.fields[due]} due"),
            TextColumn("· {task.fields[deleted]} deleted"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: SweepProgress) -> None:
        task = self.tasks.get(event.prefix)
        if task is None:
            task = self.progress.add_task(event.prefix, total=None, scanned=0, due=0, deleted=0)
            self.tasks[event.prefix] = task
        self.progress.update(task, scanned=event.scanned, due=event.due, deleted=event.deleted)
        if event.done:
            self.progress.update(task, total=1, completed=1)


def _print_sweep(report: SweepReport) -> None:
    title = "sweep (applied)" if report.applied else "sweep (dry run: nothing deleted)"
    table = Table(
        "prefix", "retention", "scanned", "due", "spared", "deleted", "failed", title=title
    )
    for p in report.prefixes:
        table.add_row(
            p.prefix,
            _days(p.expire_days),
            f"{p.scanned} ({_size(p.scanned_bytes)})",
            f"{p.due} ({_size(p.due_bytes)})",
            str(p.spared),
            f"{p.deleted} ({_size(p.deleted_bytes)})",
            str(p.failed),
        )
    out.print(f"store: {report.store} · now: {report.now.isoformat(timespec='seconds')}")
    out.print(table)
    for p in report.prefixes:
        for key in p.samples:
            out.print(f"  {'deleted' if report.applied else 'due'}: {key}", highlight=False)
    for failure in report.failures:
        err.print(f"[red]failed[/red] {failure.key}: {failure.error}", highlight=False)
    if report.aborted_uploads:
        verb = "aborted" if report.applied else "due for abort"
        out.print(f"{report.aborted_uploads} incomplete multipart upload(s) {verb}")
    if not report.applied and report.due:
        out.print(f"{report.due} object(s) due; pass --apply to delete them")


def sweep_command(
    apply_changes: Annotated[
        bool, typer.Option("--apply", help="Delete what is due (default: dry run).")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Evaluate as of this ISO 8601 time instead of now (dry run only).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Enforce the policy where the store has no lifecycle engine: delete what is past its
    retention, sparing uploads a live intent still covers. A dry run unless --apply."""
    now = datetime.now(UTC)
    if as_of is not None:
        if apply_changes:
            raise ValueError("--as-of is for dry runs: deleting as of another time is refused")
        try:
            now = datetime.fromisoformat(as_of)
        except ValueError:
            raise ValueError(f"--as-of must be an ISO 8601 time, got {as_of!r}") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    _settings, policy, context = _open(for_sweep=True)
    bar = _ProgressBar(err)
    try:
        with bar.progress:
            report = sweep(
                context.store, context.db, policy, now=now, apply=apply_changes, progress=bar
            )
    finally:
        context.close()
    if as_json:
        _emit_json(report.as_dict())
    else:
        _print_sweep(report)
    if report.failed:
        raise typer.Exit(1)
