"""One mapping from the package's errors to HTTP answers with a JSON ``detail``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException

from sartiq_storage.core.errors import (
    InvalidKeyError,
    MediaError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
    StoreUnavailableError,
)
from sartiq_storage.core.signing import SignatureError
from sartiq_storage.core.urls import ForeignUrlError

_STATUS: list[tuple[type[Exception], int]] = [
    (InvalidKeyError, 400),
    (ForeignUrlError, 422),
    (ObjectNotFoundError, 404),
    (PreconditionFailedError, 412),
    (SignatureError, 403),
    (StoreUnavailableError, 503),
]


def install_error_handlers(app: Starlette) -> None:
    for error_type, status in _STATUS:

        async def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        app.add_exception_handler(error_type, handler)

    async def media_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 422)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    app.add_exception_handler(MediaError, media_error)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's shape ({"detail": …}) for plain Starlette apps too (the /files fast path).
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(StarletteHTTPException, http_error)

    async def storage_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    app.add_exception_handler(StorageError, storage_error)
