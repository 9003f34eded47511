"""Errors as lakeFS answers them: a status from ``DatasetError.status`` and ``{"message": …}``.

Each message starts with lakeFS's own wording for that failure ("no changes", "conflict
found", …) so clients that match on it,
:class:`~sartiq_storage.adapters.datasets.lakefs.LakeFSEngine` among them, read our errors
as they read a real lakeFS's.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.errors import InvalidKeyError, StorageError, StoreUnavailableError
from sartiq_storage.interfaces.http.errors import (
    DATABASE_DOWN,
    DATABASE_UNAVAILABLE,
    server_error,
)

LAKEFS_WORDING: list[tuple[type[StorageError], str]] = [
    (e.MergeConflictError, "conflict found"),
    (e.AlreadyExistsError, "already exists"),
    (e.DirtyBranchError, "uncommitted changes (dirty branch)"),
    (e.NoChangesError, "no changes"),
    (e.InvalidRefError, "invalid ref"),
    (e.InvalidNameError, "invalid name"),
    (e.InvalidArgumentError, "invalid value"),
    (e.ReadOnlyRepositoryError, "read-only repository"),
    (e.ProtectedBranchError, "cannot write to protected branch"),
    (e.PreconditionFailedError, "precondition failed"),
    (e.GoneError, "object gone"),
    (e.TooManyRetriesError, "too many tries"),
    (e.NotFoundError, "not found"),
]


def message_for(exc: StorageError) -> str:
    """``<lakeFS wording>: <our detail>``, without repeating the wording when already there."""
    detail = str(exc) or type(exc).__name__
    for error_type, wording in LAKEFS_WORDING:
        if isinstance(exc, error_type):
            return detail if wording in detail.lower() else f"{wording}: {detail}"
    return detail


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message}, status_code=status, headers=dict(headers) if headers else None
    )


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(
            isinstance(route, BaseRoute)
            and route.matches({**scope, "method": method})[0] == Match.FULL
            for route in app.router.routes
        )
    ]


def install_lakefs_errors(app: FastAPI) -> None:
    async def dataset_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.DATASET_ERRORS)
        return error(exc.status, message_for(exc))

    async def invalid_key(request: Request, exc: Exception) -> JSONResponse:
        return error(400, f"invalid value: {exc}")

    async def other_error(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request, exc, 500, str(exc) or type(exc).__name__, "message")

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request, exc, 503, str(exc), "message")

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request, exc, 503, DATABASE_UNAVAILABLE, "message")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request, exc, 500, "internal server error", "message")

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
        return error(exc.status_code, str(exc.detail), headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # lakeFS answers a malformed body or parameter with 400, not FastAPI's 422.
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return error(400, f"invalid value: {problems}")

    for dataset_error_type in e.DATASET_ERRORS:
        app.add_exception_handler(dataset_error_type, dataset_error)
    app.add_exception_handler(InvalidKeyError, invalid_key)
    app.add_exception_handler(StorageError, other_error)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    for error_type in DATABASE_DOWN:
        app.add_exception_handler(error_type, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
