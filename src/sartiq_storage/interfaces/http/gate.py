"""The body gate: authenticate before any request body is read, and cap every body.

FastAPI reads and parses a request's whole body before it runs the route's dependencies,
the token check among them: a 400 MB JSON body without a token was read, parsed and held
(1.4 GB of memory, 15 s) before its 401. This pure ASGI middleware runs before the router.
For a request that carries a body it finds the route the router will pick and:

- asks the route's own guards (its auth dependencies, :class:`Guard`) whether they would
  refuse the request, and answers their 401/403 without reading a byte of the body;
- answers 413 when the declared ``Content-Length`` is over the route's limit, and otherwise
  counts what the app pulls, answering 413 as soon as it passes the limit (chunked bodies
  too). A route takes :data:`MAX_JSON_BODY_BYTES` unless it declares more with
  :func:`body_limit` (the upload routes).

Requests without a body go straight on; so does a mount (its app has its own gate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BODY_BYTES = 2 * 1024 * 1024
"""Every JSON body: the largest legitimate one (1,000 keys of 1,024 bytes) fits."""

MULTIPART_SLACK_BYTES = 64 * 1024
"""What a multipart upload may add around its file (boundaries, part headers, small fields)."""

_F = TypeVar("_F", bound=Callable[..., Any])


@runtime_checkable
class Guard(Protocol):
    """An auth dependency the gate can ask before the body is read."""

    def refuse(self, scope: Scope) -> Response | None:
        """The 401/403 the route would answer, or None when the request may go on."""


def body_limit(limit: int) -> Callable[[_F], _F]:
    """Declare a route's body limit in bytes, for a route that takes more than JSON."""

    def mark(endpoint: _F) -> _F:
        endpoint.__body_limit__ = limit  # type: ignore[attr-defined]
        return endpoint

    return mark


@dataclass(frozen=True, slots=True)
class _Rule:
    guards: tuple[Guard, ...]
    limit: int


class _TooLarge(Exception):
    pass


def _detail(message: str) -> dict[str, str]:
    return {"detail": message}


def guards_of(route: BaseRoute) -> tuple[Guard, ...]:
    """The route's dependencies (and theirs) that are guards, in the order FastAPI runs them."""
    found: list[Guard] = []
    dependant = getattr(route, "dependant", None)
    pending = list(dependant.dependencies) if dependant is not None else []
    while pending:
        dependant = pending.pop(0)
        if isinstance(dependant.call, Guard) and dependant.call not in found:
            found.append(dependant.call)
        pending[:0] = dependant.dependencies
    return tuple(found)


def flat_routes(routes: list[BaseRoute]) -> list[Any]:
    """The routes in the router's order; FastAPI ≥ 0.16x keeps included routers as one entry
    each, whose routes are its ``effective_route_contexts()`` (each with ``matches`` and the
    ``dependant`` the route runs, router dependencies included)."""
    flat: list[Any] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        flat.extend(contexts() if contexts is not None else [route])
    return flat


def _may_have_body(scope: Scope, headers: Headers) -> bool:
    """HTTP/1 announces a body (a length or chunks); HTTP/2 and 3 may send one unannounced."""
    length = headers.get("content-length")
    if length is not None:
        return length.strip() != "0"
    return "transfer-encoding" in headers or not scope.get("http_version", "1.1").startswith("1")


def _closing_unless_read(receive: Receive, send: Send) -> tuple[Receive, Send]:
    """``receive`` and ``send``, the answer saying ``Connection: close`` when it starts before
    the body was read to its end (a refusal, a 413, a route that never reads it).

    Left on a keep-alive connection, the unread body is what the server reads next: a client
    that sent ``Expect: 100-continue`` and, refused, reuses the connection without the body
    (curl above 1 MB) had its next request swallowed as the refused one's body, then the
    connection dropped without an answer. Closing is what HTTP asks of a server that does
    not read the body it answers (RFC 9112, 9.6); the body stays unread.
    """
    done = False

    async def tracking_receive() -> Message:
        nonlocal done
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            done = True
        return message

    async def closing_send(message: Message) -> None:
        if message["type"] == "http.response.start" and not done:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return tracking_receive, closing_send


class BodyGate:
    """Pure ASGI middleware; ``error_body`` shapes the 413 (``{"detail"}`` by default)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        json_limit: int = MAX_JSON_BODY_BYTES,
        error_body: Callable[[str], dict[str, str]] = _detail,
    ) -> None:
        self.app = app
        self.json_limit = json_limit
        self.error_body = error_body
        self._rules: dict[int, tuple[Any, _Rule]] = {}
        """By route id; the route is kept with its rule, so its id is never reused."""

    def _rule(self, route: Any) -> _Rule:
        known = self._rules.get(id(route))
        if known is not None:
            return known[1]
        endpoint = getattr(route, "endpoint", None)
        rule = _Rule(guards_of(route), getattr(endpoint, "__body_limit__", self.json_limit))
        self._rules[id(route)] = (route, rule)
        return rule

    def _rule_for(self, scope: Scope) -> _Rule | None:
        """The rule of the route the router will dispatch to; None for a mount.

        A path no route takes, or a method the route does not take (a 404 or 405 that reads
        no body), gets no guard and the JSON limit.
        """
        for route in flat_routes(scope["app"].router.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                original = getattr(route, "original_route", route)
                return None if isinstance(original, Mount) else self._rule(route)
        return _Rule((), self.json_limit)

    def _too_large(self, limit: int) -> Response:
        return JSONResponse(self.error_body(f"request body is larger than {limit} bytes"), 413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _may_have_body(scope, headers):
            await self.app(scope, receive, send)
            return
        rule = self._rule_for(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if scope.get("http_version", "1.1").startswith("1"):
            receive, send = _closing_unless_read(receive, send)
        overrides = getattr(scope["app"], "dependency_overrides", {})
        for guard in rule.guards:
            # FastAPI runs an override instead of the guard (a host's own auth,
            # ``host_auth.py``): only a replacement that is a guard itself can answer here.
            runs = overrides.get(guard, guard)
            if not isinstance(runs, Guard):
                continue
            refusal = runs.refuse(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > rule.limit:
            await self._too_large(rule.limit)(scope, receive, send)
            return
        await self._capped(scope, receive, send, rule.limit)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # whatever the app makes of the cut body, the answer is the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:  # the app's own failure; a cut body's is answered below
                raise
        if over and not started:
            started = True
            await self._too_large(limit)(scope, receive, send)
