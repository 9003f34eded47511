"""One mapping from the package's errors to HTTP answers with a JSON ``detail``."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException

from sartiq_storage.core.errors import StorageError
from sartiq_storage.interfaces.http.middleware.access_log import record_error, request_id


def _document_string_details(app: FastAPI) -> None:
    """Say in the OpenAPI schema what our 422s carry: FastAPI documents every 422 as its own
    validation error (``detail``: a list), but a refusal the service decides itself (a
    :class:`MediaError`, an unknown ``/files`` parameter…) says why in one string."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error is not None:
            listed = {k: v for k, v in error["properties"]["detail"].items() if k != "title"}
            error["properties"]["detail"] = {
                "title": "Detail",
                "anyOf": [listed, {"type": "string"}],
                "description": "Field errors from request validation, or one message",
            }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: Starlette) -> None:
    if isinstance(app, FastAPI):
        _document_string_details(app)

    async def storage_error(request: Request, exc: Exception) -> JSONResponse:
        # Each error class names its status; a 5xx without Retry-After is a fault (its
        # cause logged, the request id answered), anything else a refusal saying why.
        assert isinstance(exc, StorageError)
        if exc.status >= 500 and exc.retry_after is None:
            return server_error(request, exc, exc.status, str(exc))
        retry = exc.retry_after
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    app.add_exception_handler(StorageError, storage_error)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's shape ({"detail": …}) for plain Starlette apps too (the /files fast path).
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(StarletteHTTPException, http_error)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's 422, which quotes each rejected value back: one that JSON cannot carry
        # (a lone surrogate escaped in the body, a number such as 1e999) made it a 500.
        assert isinstance(exc, RequestValidationError)
        errors = jsonable_encoder(exc.errors())
        try:
            return JSONResponse({"detail": errors}, status_code=422)
        except ValueError:  # UnicodeEncodeError included
            return JSONResponse({"detail": _json_safe(errors)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request, exc, 503, DATABASE_UNAVAILABLE)

    for error_type in DATABASE_DOWN:
        app.add_exception_handler(error_type, database_unavailable)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's outermost handler: a bug answers JSON too, the traceback goes to the log.
        return server_error(request, exc, 500, "internal server error")

    app.add_exception_handler(Exception, unexpected)


def _json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot carry spelled out: a non-finite float as its text, a
    string's lone surrogates as ``\\udXXX`` escapes."""
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


DATABASE_DOWN = (OperationalError, InterfaceError)
"""The database did not answer (down, unreachable, locked): 503, like a store outage."""
DATABASE_UNAVAILABLE = "database unavailable"


def server_error(
    request: Request, exc: Exception, status: int, detail: str, key: str = "detail"
) -> JSONResponse:
    """A 5xx: a short ``detail`` and the request id; the cause goes to the access log."""
    record_error(request.scope, exc)
    return JSONResponse({key: detail, "request_id": request_id(request.scope)}, status)
