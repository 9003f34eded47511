"""Bearer-token authentication for mutating routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sartiq_storage.core.tokens import Caller, TokenError, verify_token
from sartiq_storage.interfaces.http.middleware.access_log import record_caller
from sartiq_storage.services.context import StorageContext

_bearer = HTTPBearer(auto_error=False)


async def get_context(request: Request) -> StorageContext:
    context: StorageContext = request.app.state.context
    return context


async def require_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """401 unless the request carries a valid HS256 bearer token."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers=challenge)
    try:
        context: StorageContext = request.app.state.context
        caller = verify_token(context.jwt_secret, credentials.credentials)
    except TokenError as exc:
        raise HTTPException(401, str(exc), headers=challenge) from None
    record_caller(request.scope, caller.subject)  # named in the access log
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
ContextDep = Annotated[StorageContext, Depends(get_context)]
