"""Bearer-token authentication and scopes.

Each protected route names the scope it needs (``core/tokens.py``: ``SCOPES``): 401 without a
valid token, 403 when the token does not grant the scope. The same guard also answers for
the body gate (``interfaces/http/gate.py``), before any request body is read.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from sartiq_storage.core.tokens import Caller, TokenError
from sartiq_storage.interfaces.http.gate import flat_routes, guards_of
from sartiq_storage.interfaces.http.middleware.access_log import record_caller
from sartiq_storage.services.context import StorageContext

logger = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_context(request: Request) -> StorageContext:
    context: StorageContext = request.app.state.context
    return context


def authorize(context: StorageContext, authorization: str | None, scope: str | None) -> Caller:
    """The caller of a request with this ``Authorization`` header, allowed ``scope``.

    Raises 401 for a missing or invalid token (the cause is logged, never answered: it can
    quote the token and the JWT library's internals) and 403 for a missing scope.
    """
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
    try:
        caller = context.tokens.verify(token)
    except TokenError as exc:
        if exc.cause:
            logger.info("bearer token refused: %s", exc.cause)
        raise HTTPException(401, str(exc), headers=_CHALLENGE) from None
    if scope is not None and not caller.allows(scope):
        raise HTTPException(403, f"this token does not grant the {scope!r} scope")
    return caller


class BearerGuard:
    """The FastAPI dependency of a protected route: the caller, when it may use ``scope``.

    ``scope=None``: any valid token.
    """

    def __init__(self, scope: str | None) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        # ``credentials`` declares the scheme in the OpenAPI; the header itself is checked.
        context: StorageContext = request.app.state.context
        caller = authorize(context, request.headers.get("authorization"), self.scope)
        record_caller(request.scope, caller.subject)  # named in the access log
        return caller

    def refuse(self, scope: Scope) -> Response | None:
        """For the body gate: the refusal this route would answer, or None to go on."""
        context: StorageContext = scope["app"].state.context
        try:
            authorize(context, Headers(scope=scope).get("authorization"), self.scope)
        except HTTPException as exc:
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return None


def document_scopes(app: FastAPI) -> None:
    """Name each operation's scope in the OpenAPI document: its bearer security requirement
    lists it (OpenAPI 3.1 allows role names there for any scheme)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for route in flat_routes(app.router.routes):
            guard = next((g for g in guards_of(route) if isinstance(g, BearerGuard)), None)
            if guard is None or guard.scope is None:
                continue
            operations = schema["paths"].get(getattr(route, "path_format", ""), {})
            for method in getattr(route, "methods", None) or ():
                operation = operations.get(method.lower())
                if operation is not None:
                    operation["security"] = [{"HTTPBearer": [guard.scope]}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


CallerDep = Annotated[Caller, Depends(BearerGuard(None))]
"""Any valid token."""
MediaReadDep = Annotated[Caller, Depends(BearerGuard("media:read"))]
MediaWriteDep = Annotated[Caller, Depends(BearerGuard("media:write"))]
UploadsDep = Annotated[Caller, Depends(BearerGuard("uploads"))]
ComputeDep = Annotated[Caller, Depends(BearerGuard("compute"))]
OpsDep = Annotated[Caller, Depends(BearerGuard("ops"))]
DatasetsReadDep = Annotated[Caller, Depends(BearerGuard("datasets:read"))]
DatasetsWriteDep = Annotated[Caller, Depends(BearerGuard("datasets:write"))]
ContextDep = Annotated[StorageContext, Depends(get_context)]
