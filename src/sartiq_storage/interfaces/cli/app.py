"""The ``sartiq-storage`` command: serve, inspect settings and keys, operate on objects.

Every failure is one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.filenames import content_type_for_extension
from sartiq_storage.core.keys import Zone, classify, parse_key
from sartiq_storage.core.tokens import SCOPES, UnknownScopeError, check_scopes, issue_token
from sartiq_storage.interfaces.cli import keys as key_commands
from sartiq_storage.interfaces.cli import operations
from sartiq_storage.interfaces.cli.datasets import datasets_app, warn_about_dataset_namespaces
from sartiq_storage.interfaces.cli.lifecycle import lifecycle_app
from sartiq_storage.interfaces.cli.output import err, out
from sartiq_storage.services.context import StorageContext, build_context

app = typer.Typer(
    name="sartiq-storage",
    help="The Sartiq storage layer: object stores, media, delivery, lifecycle and datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the settings.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Understand object keys.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(operations.orphans_app, name="orphans")
app.add_typer(operations.deadletters_app, name="deadletters")
app.add_typer(operations.legacy_app, name="legacy")
app.add_typer(datasets_app, name="datasets")
app.add_typer(lifecycle_app, name="lifecycle")
app.command("heal")(operations.heal)
app.command("worker")(operations.worker)


class CliError(StorageError):
    """A failure to report as one line and exit 1."""


def _refuse_legacy(key: str, verb: str) -> None:
    """Legacy layouts are read-only: the platform's old services still serve them."""
    zone = classify(key)
    if zone in (Zone.legacy_images, Zone.legacy_shooting_looks):
        raise CliError(f"{key}: {zone.value} keys are read-only (legacy layouts are never {verb})")


def _context() -> StorageContext:
    return build_context(load_settings())


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port out of range or already listened on, before anything is served.

    granian binds with ``SO_REUSEPORT``: a second ``serve`` on a busy port would start
    silently and share it with the first (the kernel spreading connections over both). A
    probe bound without that option fails on a port anyone listens on, so the busy port
    is one clear error instead.
    """
    import errno
    import socket

    if not 1 <= port <= 65535:
        raise CliError(f"--port must be between 1 and 65535, not {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on {host!r}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not busy
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    f"port {port} on {host} is already in use (another serve?); "
                    "stop it or pick another --port"
                ) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    app_name: Annotated[
        str, typer.Option("--app", help="backend, compute, or all (both on one port).")
    ] = "all",
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Run the HTTP service (on the embedded defaults unless settings say otherwise).

    Served by granian, the fastest ASGI server we measured (``docs/benchmarks.md``).
    """
    import os

    from granian import Granian
    from granian.constants import Interfaces

    from sartiq_storage.interfaces.http.app import APPS

    if app_name not in (*APPS, "all"):
        raise CliError(f"--app must be backend, compute or all, not {app_name!r}")
    apps = APPS if app_name == "all" else (app_name,)
    _check_port_free(host, port)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("STORAGE_SERVICE_URL", f"http://{shown_host}:{port}")
    os.environ["SARTIQ_SERVE_APPS"] = ",".join(apps)
    settings = load_settings()
    context = build_context(settings, migrate=True)  # migrate once, before the workers
    out.print(f"sartiq-storage {settings.ENVIRONMENT.value} · store: {context.store.description}")
    out.print(f"listening on [bold]http://{shown_host}:{port}[/bold] ({', '.join(apps)})")
    console = f"http://{shown_host}:{port}/console/"
    if context.jwt_secret_generated:
        token = issue_token(context.jwt_secret, "dev")
        out.print("development token (AUTH_JWT_SECRET unset; valid 7 days):")
        out.print(token, soft_wrap=True, highlight=False)
        console += f"#token={token}"  # a fragment: the browser never sends it to a server
    if "backend" in apps:
        out.print(f"console: {console}", soft_wrap=True, highlight=False)
    out.print(f"lakeFS-compatible API: [bold]http://{shown_host}:{port}/lakefs/api/v1[/bold]")
    if context.datasets_credentials_generated:
        out.print("datasets credentials (DATASETS_ACCESS_KEY_ID/_SECRET_ACCESS_KEY unset):")
        out.print(f"  access key id:     {context.datasets_access_key_id}", highlight=False)
        out.print(f"  secret access key: {context.datasets_secret_access_key}", highlight=False)
    elif context.datasets_access_key_id is None:
        out.print("  closed: set DATASETS_ACCESS_KEY_ID and DATASETS_SECRET_ACCESS_KEY to open it")
    warn_about_dataset_namespaces(context)
    context.close()
    sys.stdout.flush()
    Granian(
        "sartiq_storage.interfaces.http.app:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_enabled=False,
    ).serve()


@app.command()
def token(
    subject: Annotated[str, typer.Option("--sub", help="Who the token names.")] = "dev",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 7 * 24 * 3600,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help=f"What the token may do; repeat it. One of: {', '.join(SCOPES)}. "
            "None given: every scope.",
        ),
    ] = None,
) -> None:
    """Print a bearer token signed with AUTH_JWT_SECRET (or the embedded default's)."""
    scopes = None if scope is None else [s for v in scope for s in v.replace(",", " ").split()]
    try:
        scopes = None if scopes is None else sorted(check_scopes(scopes))
    except UnknownScopeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    context = _context()
    out.print(
        issue_token(context.jwt_secret, subject, ttl_seconds=ttl, scopes=scopes), soft_wrap=True
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (idempotent)."""
    from sartiq_storage.adapters.db.engine import Database
    from sartiq_storage.adapters.db.migrate import current_revision, upgrade
    from sartiq_storage.core.config import mask_url_password

    settings = load_settings()
    database = Database.from_settings(settings)
    try:
        upgrade(database, revision)
        out.print(
            f"database {mask_url_password(settings.database_url)} "
            f"at revision {current_revision(database)}"
        )
    finally:
        database.dispose()


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show every setting, secrets masked."""
    shown = load_settings().masked()
    if as_json:
        out.print_json(json.dumps(shown))
        return
    table = Table("setting", "value")
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)


@keys_app.command("explain")
def keys_explain(
    key: Annotated[str, typer.Argument(help="An object key, e.g. media/<uuid>/file.webp")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Parse a key: its zone, entity, ids, retention and public URL."""
    key_commands.show_key(key, as_json)


keys_app.command("build")(key_commands.build)


@app.command("ls")
def list_objects(
    prefix: Annotated[str, typer.Argument(help="Key prefix (plain string, as on S3).")] = "",
    limit: Annotated[int, typer.Option(help="Stop after this many objects (0: all).")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List objects under a prefix, in key order."""
    context = _context()
    table = Table("key", "size", "last modified")
    for count, info in enumerate(context.store.list(prefix), start=1):
        if as_json:
            row = {"key": info.key, "size": info.size, "etag": info.etag}
            row["last_modified"] = info.last_modified.isoformat()
            print(json.dumps(row))
        else:
            table.add_row(
                info.key, str(info.size), info.last_modified.isoformat(timespec="seconds")
            )
        if limit and count >= limit:
            break
    if not as_json:
        out.print(table)


@app.command("put")
def put_object(
    source: Annotated[Path, typer.Argument(help="Local file to upload.")],
    key: Annotated[str, typer.Argument(help="Destination key.")],
    content_type: Annotated[str | None, typer.Option(help="Defaults from the extension.")] = None,
    cache_control: Annotated[str | None, typer.Option(help="Cache-Control to store.")] = None,
    if_absent: Annotated[bool, typer.Option(help="Refuse to replace an existing object.")] = False,
) -> None:
    """Upload a local file to a key."""
    if not source.is_file():
        raise CliError(f"no such file: {source}")
    parsed = parse_key(key)
    _refuse_legacy(parsed.key, "written")
    context = _context()
    kind = content_type or content_type_for_extension(source.suffix)
    with source.open("rb") as handle:
        result = context.store.put(
            parsed.key, handle, content_type=kind, cache_control=cache_control, if_absent=if_absent
        )
    out.print(f"stored {result.key} ({result.size} bytes, etag {result.etag})")


@app.command("get")
def get_object(
    key: Annotated[str, typer.Argument(help="Key to download.")],
    destination: Annotated[str, typer.Argument(help="File to write, or - for stdout.")] = "-",
) -> None:
    """Download an object to a file or to standard output."""
    context = _context()
    with context.store.get(key) as stream:
        if destination == "-":
            for chunk in stream:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        target = Path(destination)
        partial = target.with_name(target.name + ".part")
        with partial.open("wb") as handle:
            for chunk in stream:
                handle.write(chunk)
        partial.replace(target)
    err.print(f"wrote {target} ({stream.info.size} bytes)")


@app.command("rm")
def remove_objects(
    keys: Annotated[list[str], typer.Argument(help="Keys to delete.")],
) -> None:
    """Delete objects (a missing object counts as deleted). Legacy images/ and shooting_looks/
    keys are refused: they are read-only, and nothing is deleted when one is named."""
    for key in keys:
        _refuse_legacy(key, "deleted")
    context = _context()
    failures = context.store.delete_many(keys)
    for failure in failures:
        err.print(f"[red]failed[/red] {failure.key}: {failure.error}")
    out.print(f"deleted {len(keys) - len(failures)} of {len(keys)}")
    if failures:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point: run the app, turning known errors into one line and exit 1."""
    try:
        # Without standalone mode Click returns a command's `typer.Exit(code)` instead of
        # exiting with it: pass it on, or every "exit 1" would leave as 0.
        code = app(standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except (StorageError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        err.print(f"[red]error:[/red] database: {reason}", highlight=False)
        sys.exit(1)
    except Exception as exc:
        # Click's usage errors (Typer vendors its own copy of Click) know how to show
        # themselves; anything else is a bug and keeps its traceback.
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
