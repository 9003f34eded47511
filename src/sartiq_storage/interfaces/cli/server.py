"""``sartiq-storage serve`` and ``token``: run the HTTP service, sign a bearer token for it."""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
from typing import Annotated

import typer

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import SCOPES, UnknownScopeError, check_scopes, issue_token
from sartiq_storage.interfaces.cli.datasets.repos import warn_about_dataset_namespaces
from sartiq_storage.interfaces.cli.errors import CliError
from sartiq_storage.interfaces.cli.output import flush, out
from sartiq_storage.services.context import build_context


def _check_port_free(host: str, port: int, option: str = "--port") -> None:
    """Refuse a port out of range or already listened on, before anything is served.

    granian binds with ``SO_REUSEPORT``: a second ``serve`` on a busy port would start
    silently and share it with the first (the kernel spreading connections over both). A
    probe bound without that option fails on a port anyone listens on, so the busy port
    is one clear error instead.
    """
    import errno
    import socket

    if not 1 <= port <= 65535:
        raise CliError(f"{option} must be between 1 and 65535, not {port}")
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
                    f"stop it or pick another {option}"
                ) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    app_name: Annotated[
        str, typer.Option("--app", help="backend, compute, or all (both on one port).")
    ] = "all",
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    s3_gateway_port: Annotated[
        int | None,
        typer.Option(
            "--s3-gateway-port",
            help="Also serve the datasets' S3 gateway on this port "
            "(default: DATASETS_S3_GATEWAY_PORT; unset: no gateway).",
        ),
    ] = None,
) -> None:
    """Run the HTTP service (on the embedded defaults unless settings say otherwise).

    Served by granian, the fastest ASGI server we measured (``docs/benchmarks.md``). With an
    S3 gateway port, a second granian serves lakeFS's S3 gateway there, in a child process
    stopped with the service.
    """
    import os

    from sartiq_storage.interfaces.http.app import APPS

    if app_name not in (*APPS, "all"):
        raise CliError(f"--app must be backend, compute or all, not {app_name!r}")
    apps = APPS if app_name == "all" else (app_name,)
    _check_port_free(host, port)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    os.environ.setdefault("STORAGE_SERVICE_URL", f"http://{shown_host}:{port}")
    os.environ["SARTIQ_SERVE_APPS"] = ",".join(apps)
    settings = load_settings()
    # `is None`, not `or`: --s3-gateway-port 0 is refused as out of range, not read as unset
    gateway_port = (
        s3_gateway_port if s3_gateway_port is not None else settings.DATASETS_S3_GATEWAY_PORT
    )
    if gateway_port is not None:
        if gateway_port == port:
            raise CliError("--s3-gateway-port must differ from --port")
        _check_port_free(host, gateway_port, "--s3-gateway-port")
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
    if gateway_port is not None:
        out.print(
            f"S3 gateway: [bold]http://{shown_host}:{gateway_port}[/bold] "
            "(s3://<repository>/<ref>/<path>, path-style, the datasets key pair)"
        )
    warn_about_dataset_namespaces(context)
    context.close()
    flush()
    gateway = None if gateway_port is None else _start_gateway(host, gateway_port, workers)
    try:
        _serve_api(host, port, workers)
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.join(15)
            if gateway.is_alive():
                gateway.kill()


WORKER_STOP_SECONDS = 20
"""How long a stopping server waits for a worker to finish its requests before it kills it:
a request that never ends must not keep a stopping server alive (``docs/operations.md``)."""

API_APP = "sartiq_storage.interfaces.http.app:app_from_environment"
GATEWAY_APP = "sartiq_storage.interfaces.s3_gateway.app:app_from_environment"


def _granian(target: str, host: str, port: int, workers: int) -> None:
    """One granian serving an app factory: the API here, the S3 gateway in a child process."""
    from granian.constants import Interfaces

    from sartiq_storage.interfaces.cli.granian_server import SignalSafeServer

    SignalSafeServer(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_enabled=False,
        workers_kill_timeout=WORKER_STOP_SECONDS,
    ).serve()


def _serve_api(host: str, port: int, workers: int) -> None:
    _granian(API_APP, host, port, workers)


def _serve_gateway(host: str, port: int, workers: int) -> None:
    """The S3 gateway's own granian (the target of a child process)."""
    _granian(GATEWAY_APP, host, port, workers)


def _start_gateway(host: str, port: int, workers: int) -> multiprocessing.process.BaseProcess:
    """A child process (spawned: a clean interpreter) serving the S3 gateway; it shares the
    environment, so the same settings, store and metadata as the API."""
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_gateway, args=(host, port, workers), name="s3-gateway"
    )
    process.start()
    return process


def token(
    subject: Annotated[str, typer.Option("--sub", help="Who the token names.")] = "dev",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = 7 * 24 * 3600,
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
    if not subject.strip():  # the service refuses a token that names no one
        raise typer.BadParameter("a token names its caller: give a name", param_hint="--sub")
    scopes = None if scope is None else [s for v in scope for s in v.replace(",", " ").split()]
    try:
        scopes = None if scopes is None else sorted(check_scopes(scopes))
    except UnknownScopeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    context = build_context(load_settings())
    out.print(
        issue_token(context.jwt_secret, subject, ttl_seconds=ttl, scopes=scopes), soft_wrap=True
    )
