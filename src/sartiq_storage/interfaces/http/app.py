"""The FastAPI application: one factory, routes grouped by concern."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from sartiq_storage import __version__
from sartiq_storage.core.config import Settings, load_settings
from sartiq_storage.core.http_headers import CORS_EXPOSE_HEADERS
from sartiq_storage.interfaces.http.auth import document_scopes
from sartiq_storage.interfaces.http.errors import install_error_handlers
from sartiq_storage.interfaces.http.fast_derived import PREFIX as DERIVED_PREFIX
from sartiq_storage.interfaces.http.fast_derived import FastDerived
from sartiq_storage.interfaces.http.fast_files import FastFiles
from sartiq_storage.interfaces.http.fast_presign import PATH as PRESIGN_PATH
from sartiq_storage.interfaces.http.fast_presign import FastPresign
from sartiq_storage.interfaces.http.gate import BodyGate
from sartiq_storage.interfaces.http.host_auth import HostAuth, use_host_auth
from sartiq_storage.interfaces.http.lakefs import mount_lakefs
from sartiq_storage.interfaces.http.lakefs.app import resume_imports_in_background
from sartiq_storage.interfaces.http.middleware import install_layers
from sartiq_storage.interfaces.http.middleware.logs import configure_logging
from sartiq_storage.interfaces.http.routes import (
    compute,
    dataset_writes,
    datasets,
    embedded,
    files,
    health,
    media,
    multipart,
    observability,
    operations,
    tags,
    token,
    uploads,
)
from sartiq_storage.interfaces.web import install_console
from sartiq_storage.services.context import StorageContext, build_context

APPS = ("backend", "compute")
FAST_PREFIX = "/files/"


class StorageApp(FastAPI):
    """FastAPI, with ``GET /files/…`` answered on the way in by :class:`FastFiles`.

    ``/files`` is the hot path (every image on every page). Answering it before FastAPI's
    router, with the same errors and CORS headers, reaches bare Starlette's rate
    (``docs/benchmarks.md``); every other request, and OPTIONS on ``/files``, goes on as usual.
    """

    fast: FastFiles | None = None
    fast_derived: FastDerived | None = None
    """Cached ``?type=`` derivatives on the embedded store, answered as static files
    (``fast_derived.py``); the route answers the rest."""
    fast_presign: FastPresign | None = None
    """The presign route's common case (``fast_presign.py``); it hands the rest on."""
    outer: ASGIApp | None = None
    fast_logged = False
    """Set by ``install_layers``: the fast path skips the layers and does their work itself
    (``FastFiles.logged``)."""

    def wrap(self, layer: Callable[[ASGIApp], ASGIApp]) -> None:
        """Put an ASGI layer around everything, error answers included (``add_middleware``
        layers sit inside Starlette's 500 handler); the fast path too unless ``fast_logged``."""
        self.outer = layer(self.outer or self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.fast_logged
            and self.fast is not None
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(FAST_PREFIX)
        ):
            await self.fast.logged(scope, receive, send)
            return
        if (
            self.fast_logged
            and self.fast_presign is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PRESIGN_PATH
            and not self.dependency_overrides  # a host's auth: the route asks it
        ):
            await self.fast_presign.handle(scope, receive, send, self.outer or self._dispatch)
            return
        if (
            self.fast_logged
            and self.fast_derived is not None
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(DERIVED_PREFIX)
            and await self.fast_derived.handled(scope, receive, send)
        ):
            return
        await (self.outer or self._dispatch)(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.fast is not None
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(FAST_PREFIX)
        ):
            await self.fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _add_cors(app: Starlette, context: StorageContext) -> None:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=context.settings.cors_origins,
        allow_methods=["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"],
        allow_headers=["*"],
        expose_headers=[*CORS_EXPOSE_HEADERS, "X-Request-ID"],
        max_age=3600,
    )


def create_app(
    settings: Settings | None = None,
    context: StorageContext | None = None,
    *,
    apps: tuple[str, ...] = APPS,
    auth: HostAuth | None = None,
) -> FastAPI:
    """Build the service: the backend's routes, the compute server's, or both (the default).

    Settings are read from the environment when not given. ``auth``: a host application's
    FastAPI dependency returning the caller, in place of our bearer tokens (``host_auth.py``).
    """
    if context is None:
        context = build_context(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    app = StorageApp(title="sartiq-storage", version=__version__, lifespan=lifespan)
    app.state.context = context
    app.add_middleware(BodyGate)  # auth before any body, capped bodies; inside CORS
    _add_cors(app, context)
    install_error_handlers(app)
    install_layers(app)  # no-store on dynamic answers, access log and X-Request-ID
    app.include_router(health.router)
    app.include_router(observability.router)
    app.include_router(embedded.router)
    document_scopes(app)  # each operation's bearer scope in the OpenAPI document
    if "backend" in apps:
        app.fast = FastFiles(context)
        derived = FastDerived(context)
        app.fast_derived = derived if derived.active else None
        presign = FastPresign(context)
        app.fast_presign = presign if presign.active else None
        app.include_router(files.router)  # documents /files in the OpenAPI schema
        app.include_router(uploads.router)
        app.include_router(multipart.router)
        app.include_router(media.router)
        app.include_router(tags.router)
        app.include_router(operations.router)
        app.include_router(datasets.router)
        app.include_router(dataset_writes.router)
        app.include_router(token.router)
        install_console(app)  # the operators' page over the routes above (docs/console.md)
    if "compute" in apps:
        app.include_router(compute.router)
    # Versioned datasets, for lakeFS's own clients: both groups train and evaluate on them.
    mount_lakefs(app, context)
    if auth is not None:
        use_host_auth(app, auth)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ASGI servers (``--factory``); ``SARTIQ_SERVE_APPS`` picks the route groups."""
    import os

    chosen = tuple(a for a in os.environ.get("SARTIQ_SERVE_APPS", ",".join(APPS)).split(",") if a)
    settings = load_settings()
    configure_logging(settings)
    app = create_app(settings, apps=chosen or APPS)
    resume_imports_in_background(app.state.context)
    return app
