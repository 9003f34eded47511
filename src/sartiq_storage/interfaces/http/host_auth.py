"""A host application's own authentication in place of our bearer tokens.

An application that mounts this service (``docs/embedding.md``) already knows who calls it:
its dependency (any FastAPI dependency: a session cookie, its own JWT, an API key) returns
the caller. :func:`use_host_auth` puts it in front of every route that checks a bearer token,
keeping each route's scope: 403 when the host's caller lacks it. The routes themselves, and
the lakeFS-compatible API (basic auth with its own keys, what lakeFS clients speak), do not
change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request

from sartiq_storage.core.tokens import Caller
from sartiq_storage.interfaces.http.auth import BearerGuard
from sartiq_storage.interfaces.http.gate import flat_routes, guards_of
from sartiq_storage.interfaces.http.middleware.access_log import record_caller

HostAuth = Callable[..., Any]
"""A FastAPI dependency returning the caller: a :class:`Caller`, anything with ``subject`` and
``scopes``, or None (401). It raises its own 401 as it would for the host's routes."""


class _Principal(Protocol):
    subject: str
    scopes: Iterable[str]


def _caller_of(principal: Caller | _Principal | None) -> Caller:
    if principal is None:
        raise HTTPException(401, "not authenticated")
    if isinstance(principal, Caller):
        return principal
    return Caller(str(principal.subject), frozenset(principal.scopes))  # unknown ones never match


def host_guard(dependency: HostAuth, scope: str | None) -> Callable[..., Any]:
    """The dependency that replaces one :class:`BearerGuard`: the host's caller, when it may
    use ``scope`` (``None``: any caller the host accepts)."""

    # ``Depends`` as the default: an ``Annotated`` naming the closure's ``dependency`` would
    # be a string here (postponed annotations) that FastAPI cannot resolve.
    async def guard(request: Request, principal: Any = Depends(dependency)) -> Caller:  # noqa: B008
        caller = _caller_of(principal)
        if scope is not None and not caller.allows(scope):
            raise HTTPException(403, f"this caller is not granted the {scope!r} scope")
        record_caller(request.scope, caller.subject)  # named in the access log
        return caller

    return guard


def use_host_auth(app: FastAPI, dependency: HostAuth) -> None:
    """Replace the bearer check of every route of ``app`` by ``dependency`` (FastAPI's
    ``dependency_overrides``, so the routes and their OpenAPI stay as they are).

    The body gate then no longer refuses before the body is read (it cannot run the host's
    dependency); it still caps every body, and the route refuses before using it.
    """
    for route in flat_routes(app.router.routes):
        for guard in guards_of(route):
            if isinstance(guard, BearerGuard) and guard not in app.dependency_overrides:
                app.dependency_overrides[guard] = host_guard(dependency, guard.scope)
