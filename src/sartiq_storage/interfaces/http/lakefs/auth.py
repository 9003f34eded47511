"""HTTP basic auth with the datasets access key pair, as lakeFS checks its own keys."""

from __future__ import annotations

import base64
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.http.lakefs.errors import error
from sartiq_storage.interfaces.http.middleware.access_log import record_caller
from sartiq_storage.services.context import StorageContext

USER_ID = "admin"
"""The one user this API knows: what ``GET /user`` names and what commits record."""

_basic = HTTPBasic(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="lakefs"'}


def _context(request: Request) -> StorageContext:
    context: StorageContext = request.app.state.context
    return context


def _check(context: StorageContext, credentials: HTTPBasicCredentials | None) -> str:
    """401 unless ``credentials`` are the configured key pair (compared in constant time)."""
    key_id, secret = context.datasets_access_key_id, context.datasets_secret_access_key
    if key_id is None or secret is None:
        raise HTTPException(401, "error authenticating request: no datasets credentials are set")
    if credentials is None:
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    key_ok = hmac.compare_digest(credentials.username.encode(), key_id.encode())
    secret_ok = hmac.compare_digest(credentials.password.encode(), secret.encode())
    if not (key_ok and secret_ok):
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    return USER_ID


class BasicGuard:
    """The dependency of every authenticated route; the body gate asks it first too."""

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ) -> str:
        user = _check(_context(request), credentials)
        assert credentials is not None  # _check refuses a request without them
        record_caller(request.scope, credentials.username)  # the key id, in the access log
        return user

    def refuse(self, scope: Scope) -> Response | None:
        """The 401 this request gets, or None; read from the headers alone (no body)."""
        try:
            credentials = _parse_basic(Headers(scope=scope).get("authorization"))
            _check(scope["app"].state.context, credentials)
        except HTTPException as exc:
            return error(exc.status_code, str(exc.detail), exc.headers)
        return None


def _parse_basic(authorization: str | None) -> HTTPBasicCredentials | None:
    """What ``HTTPBasic(auto_error=False)`` makes of the header; a malformed one is a 401."""
    scheme, param = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "basic":
        return None
    try:
        username, separator, password = base64.b64decode(param).decode("ascii").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE) from None
    if not separator:
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    return HTTPBasicCredentials(username=username, password=password)


require_user = BasicGuard()


def get_engine(request: Request) -> DatasetStore:
    return _context(request).datasets


UserDep = Annotated[str, Depends(require_user)]
EngineDep = Annotated[DatasetStore, Depends(get_engine)]
