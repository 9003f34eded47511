"""HTTP basic auth with the datasets access key pair, as lakeFS checks its own keys."""

from __future__ import annotations

import base64
import hmac
import threading
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers, State
from starlette.responses import Response
from starlette.types import Scope

from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.interfaces.http.lakefs.errors import error
from sartiq_storage.interfaces.http.middleware.access_log import record_caller
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.users import ADMIN, DatasetUsers

USER_ID = ADMIN
"""The built-in user the configured key pair belongs to."""

_basic = HTTPBasic(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="lakefs"'}
_users_lock = threading.Lock()


def _context(request: Request) -> StorageContext:
    context: StorageContext = request.app.state.context
    return context


def users_of(state: State | Any) -> DatasetUsers | None:
    """The users and keys the API manages, kept in the native engine's KV store (built on
    first use); None behind a real lakeFS, where only the configured pair is known here.
    ``state``: anything holding ``context`` and room for ``users`` (the app's state, the S3
    gateway)."""
    users: DatasetUsers | None = getattr(state, "users", None)
    if users is not None:
        return users
    context: StorageContext = state.context
    engine = context.datasets
    if not isinstance(engine, NativeDatasetEngine):
        return None
    with _users_lock:
        users = getattr(state, "users", None)
        if users is None:
            key_id, secret = context.datasets_access_key_id, context.datasets_secret_access_key
            users = DatasetUsers(
                engine.kv,
                encryption_secret=context.jwt_secret,
                configured=(key_id, secret) if key_id and secret else None,
                clock=engine.clock,
            )
            state.users = users
    return users


def _check(state: State, credentials: HTTPBasicCredentials | None) -> str:
    """The user whose key pair ``credentials`` are (the configured pair is admin's), or 401."""
    context: StorageContext = state.context
    key_id, secret = context.datasets_access_key_id, context.datasets_secret_access_key
    if credentials is None:
        if key_id is None or secret is None:
            raise HTTPException(
                401, "error authenticating request: no datasets credentials are set"
            )
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    if key_id is not None and secret is not None:
        key_ok = hmac.compare_digest(credentials.username.encode(), key_id.encode())
        secret_ok = hmac.compare_digest(credentials.password.encode(), secret.encode())
        if key_ok and secret_ok:
            return USER_ID
    users = users_of(state)
    user = None if users is None else users.authenticate(credentials.username, credentials.password)
    if user is None:
        raise HTTPException(401, "error authenticating request", headers=_CHALLENGE)
    return user


class BasicGuard:
    """The dependency of every authenticated route; the body gate asks it first too."""

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ) -> str:
        user = _check(request.app.state, credentials)
        assert credentials is not None  # _check refuses a request without them
        record_caller(request.scope, credentials.username)  # the key id, in the access log
        return user

    def refuse(self, scope: Scope) -> Response | None:
        """The 401 this request gets, or None; read from the headers alone (no body)."""
        try:
            credentials = _parse_basic(Headers(scope=scope).get("authorization"))
            _check(scope["app"].state, credentials)
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
