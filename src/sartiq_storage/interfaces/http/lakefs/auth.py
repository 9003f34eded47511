"""HTTP basic auth with the datasets access key pair, as lakeFS checks its own keys."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.http.middleware.access_log import record_caller
from sartiq_storage.services.context import StorageContext

USER_ID = "admin"
"""The one user this API knows: what ``GET /user`` names and what commits record."""

_basic = HTTPBasic(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="lakefs"'}


def _context(request: Request) -> StorageContext:
    context: StorageContext = request.app.state.context
    return context


async def require_user(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """401 unless the request carries the configured key pair (compared in constant time)."""
    context = _context(request)
    key_id, secret = context.datasets_access_key_id, context.datasets_secret_access_key
    if key_id is None or secret is None:
        raise HTTPException(401, "error authenticating request: no datasets credentials are set")
    if credentials is None:
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    key_ok = hmac.compare_digest(credentials.username.encode(), key_id.encode())
    secret_ok = hmac.compare_digest(credentials.password.encode(), secret.encode())
    if not (key_ok and secret_ok):
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    record_caller(request.scope, credentials.username)  # the key id, named in the access log
    return USER_ID


def get_engine(request: Request) -> DatasetStore:
    return _context(request).datasets


UserDep = Annotated[str, Depends(require_user)]
EngineDep = Annotated[DatasetStore, Depends(get_engine)]
