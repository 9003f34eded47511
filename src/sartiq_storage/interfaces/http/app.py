"""The FastAPI application: one factory, routes grouped by concern."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from sartiq_storage import __version__
from sartiq_storage.core.config import Settings, load_settings
from sartiq_storage.interfaces.http.errors import install_error_handlers
from sartiq_storage.interfaces.http.routes import (
    compute,
    embedded,
    files,
    health,
    media,
    tags,
    uploads,
)
from sartiq_storage.services.context import StorageContext, build_context

APPS = ("backend", "compute")


def create_app(
    settings: Settings | None = None,
    context: StorageContext | None = None,
    *,
    apps: tuple[str, ...] = APPS,
) -> FastAPI:
    """Build the service: the backend's routes, the compute server's, or both (the default).

    Settings are read from the environment when not given.
    """
    if context is None:
        context = build_context(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    app = FastAPI(title="sartiq-storage", version=__version__, lifespan=lifespan)
    app.state.context = context
    app.add_middleware(
        CORSMiddleware,
        allow_origins=context.settings.WEB_APP_ORIGINS,
        allow_methods=["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"],
        allow_headers=["*"],
        expose_headers=["ETag", "Content-Length", "Content-Range"],
        max_age=3600,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(embedded.router)
    if "backend" in apps:
        app.include_router(files.router)
        app.include_router(uploads.router)
        app.include_router(media.router)
        app.include_router(tags.router)
    if "compute" in apps:
        app.include_router(compute.router)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ASGI servers (``--factory``)."""
    return create_app()
