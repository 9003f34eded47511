"""The lakeFS-compatible API as a sub-application, mounted at ``/lakefs/api/v1``.

A sub-app rather than a router so its errors keep lakeFS's ``{"message": …}`` shape (and 400
for malformed requests) without changing the rest of the service's ``{"detail": …}``.
"""

from __future__ import annotations

import logging
import re
import threading

from fastapi import FastAPI
from starlette.routing import Mount

from sartiq_storage import __version__
from sartiq_storage.interfaces.http.gate import BodyGate
from sartiq_storage.interfaces.http.lakefs import (
    admin,
    meta,
    objects,
    refs,
    staging,
    users,
    versions,
)
from sartiq_storage.interfaces.http.lakefs.errors import install_lakefs_errors
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.datasets import NativeDatasetEngine

LAKEFS_MOUNT = "/lakefs"
LAKEFS_API_PREFIX = f"{LAKEFS_MOUNT}/api/v1"
"""Point lakeFS clients at ``<service>/lakefs/api/v1`` (the Python SDK adds ``/api/v1`` only
to a host without a path)."""


def create_lakefs_app(context: StorageContext) -> FastAPI:
    app = FastAPI(
        title="sartiq-storage lakeFS-compatible API",
        version=__version__,
        description="The subset of lakeFS's /api/v1 that the official SDKs use.",
    )
    app.state.context = context
    app.add_middleware(BodyGate, error_body=lambda message: {"message": message})
    install_lakefs_errors(app)
    app.include_router(meta.public)
    for module in (meta, users, admin, refs, versions, objects, staging):
        app.include_router(module.router)
    return app


def mount_lakefs(app: FastAPI, context: StorageContext) -> None:
    """Mount the API so every path under the prefix reaches it, a decoded line feed in a
    segment too (Starlette's mount pattern stops at one), and so answers ``{"message": …}``."""
    app.mount(LAKEFS_API_PREFIX, create_lakefs_app(context))
    mount = app.router.routes[-1]
    assert isinstance(mount, Mount)
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)


def resume_imports_in_background(context: StorageContext) -> threading.Thread:
    """What a starting ``serve`` does for imports a stopped one left running: continue each
    from its last saved batch once its runner's lease is stale (``services/datasets/
    imports.py``). Every worker tries; the lease lets one of them run each job."""

    def resume() -> None:
        try:
            engine = context.datasets
            if isinstance(engine, NativeDatasetEngine) and engine.pending_imports():
                engine.resume_imports()
        except Exception:  # a store or database down at start: the next serve tries again
            logging.getLogger(__name__).exception("resuming dataset imports failed")

    thread = threading.Thread(target=resume, daemon=True, name="resume-imports")
    thread.start()
    return thread
