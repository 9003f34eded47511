"""``GET /files/{path}`` as a minimal ASGI handler: the platform's hottest route.

Every image on every page goes through it, and it only needs the path, one query parameter
and at most two headers. So it reads them straight from the ASGI scope and answers with the
same 302 (and the same JSON errors and CORS headers) the documented FastAPI route describes,
without building request objects, solving dependencies or walking the router.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from logging import INFO
from time import perf_counter
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from sartiq_storage.core.errors import InvalidKeyError, MediaError
from sartiq_storage.core.http_headers import CORS_EXPOSE_HEADERS
from sartiq_storage.interfaces.http.middleware import access_log
from sartiq_storage.interfaces.http.middleware.access_log import (
    REQUEST_ID,
    incoming_id,
    log_answer,
    loggable_target,
    logger,
    new_request_id,
)
from sartiq_storage.interfaces.http.middleware.no_store import add_no_store
from sartiq_storage.services.context import StorageContext

PREFIX = "/files/"
EXPOSE = ", ".join([*CORS_EXPOSE_HEADERS, "X-Request-ID"]).encode("latin-1")
"""As the CORS middleware exposes them: the request id too, which every answer carries."""
NOSNIFF = (b"x-content-type-options", b"nosniff")


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
"""Status, raw headers and body."""
Target = tuple[bytes, bytes, bytes]
"""A 302's Location, Cache-Control and Vary."""
TARGETS_KEPT = 1024
"""Redirects kept per process: a few MB at worst (a valid key is at most 1,024 bytes)."""


def add_cors(
    scope: Scope, origins: set[bytes], headers: list[tuple[bytes, bytes]], vary: bytes
) -> None:
    """The CORS middleware's headers on a simple request, for answers that skip it: the
    exposed headers whenever the request names an origin, that origin when it is allowed."""
    origin = None
    for name, value in scope["headers"]:
        if name == b"origin":
            origin = value
            break
    if origin is not None:
        headers.append((b"access-control-expose-headers", EXPOSE))
        if origin in origins:
            headers.append((b"access-control-allow-origin", origin))
    headers.append((b"vary", vary))


class FastFiles:
    """Called bare (:meth:`__call__`) when the app has no layers; :meth:`logged` does the
    layers' work too: ``X-Request-ID``, ``no-store`` on its errors, the access line."""

    def __init__(self, context: StorageContext, kept: int = TARGETS_KEPT) -> None:
        self.context = context
        self.origins = {o.encode("latin-1") for o in context.settings.cors_origins}
        self._kept_target = (
            lru_cache(maxsize=kept)(self._no_accept_target) if kept else self._no_accept_target
        )
        """A redirect is pure computation on the path and type (key validation is half of a
        302's cost); refusals raise, so they are never kept. ``kept=0``: none (benchmarks)."""

    def _no_accept_target(self, path: str, type_: str | None) -> Target:
        return self._target(path, type_, None)

    def _cors(self, scope: Scope, headers: list[tuple[bytes, bytes]], vary: bytes) -> None:
        add_cors(scope, self.origins, headers, vary)

    def _error(self, scope: Scope, status: int, detail: str) -> Answer:
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            NOSNIFF,
        ]
        self._cors(scope, headers, b"Origin")
        return status, headers, body

    def answer(self, scope: Scope) -> Answer:
        """The answer to ``scope``: pure computation, nothing sent yet."""
        type_: str | None = None
        query = scope.get("query_string", b"")
        if query:
            params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            unknown = sorted({k for k, _ in params} - {"type"})
            if unknown:
                return self._error(scope, 422, f"unknown query parameters: {', '.join(unknown)}")
            if params:  # "?&" has a query string but no parameter at all
                type_ = params[-1][1]
        accept = None
        if type_ == "auto":
            accept = next(
                (v.decode("latin-1") for n, v in scope["headers"] if n == b"accept"), None
            )
        path = scope["path"][len(PREFIX) :]
        try:
            if accept is None:
                location, cache_control, vary = self._kept_target(path, type_)
            else:  # ?type=auto: negotiated per request, never kept
                location, cache_control, vary = self._target(path, type_, accept)
        except InvalidKeyError as exc:
            return self._error(scope, 400, str(exc))
        except MediaError as exc:
            return self._error(scope, exc.status, str(exc))
        headers = [
            (b"location", location),
            (b"cache-control", cache_control),
            (b"content-length", b"0"),
            NOSNIFF,
        ]
        self._cors(scope, headers, vary)
        return 302, headers, b""

    def _target(self, path: str, type_: str | None, accept: str | None) -> Target:
        target = self.context.delivery.redirect(path, type_, accept)
        vary = b"Accept, Origin" if target.vary else b"Origin"
        return target.location.encode("latin-1"), target.cache_control.encode("latin-1"), vary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, headers, body = self.answer(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def logged(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What :class:`~sartiq_storage.interfaces.http.middleware.access_log.AccessLog` and
        ``no-store`` would add, done here: as a layer they cost about what this whole answer
        costs (``docs/benchmarks.md``). The same header order, line and fields as theirs."""
        started = perf_counter()
        rid = incoming_id(scope) or new_request_id()
        scope[REQUEST_ID] = rid
        status = 0
        try:
            status, headers, body = self.answer(scope)
            if status != 302:
                add_no_store(headers)  # errors choose no caching of their own; the 302 does
            headers.append((b"x-request-id", rid.encode("latin-1")))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except asyncio.CancelledError:
            log_answer(scope["method"], loggable_target(scope), status or 499, started, rid, None)
            raise  # the client went away
        except BaseException as exc:
            target = loggable_target(scope)
            log_answer(scope["method"], target, status or 500, started, rid, None, exc)
            raise
        write_access_line(scope, status, started, rid)


def write_access_line(scope: Scope, status: int, started: float, rid: str) -> None:
    """The access line of a fast-path answer, as the access-log layer writes it; the target
    is worked out only for a line written."""
    if status >= 500 or not logger.isEnabledFor(INFO):
        if status >= 500:
            log_answer(scope["method"], loggable_target(scope), status, started, rid, None)
        return
    writer = access_log.direct_writer
    if writer is None:
        log_answer(scope["method"], loggable_target(scope), status, started, rid, None)
        return
    duration_ms = (perf_counter() - started) * 1000
    writer(scope["method"], loggable_target(scope), status, duration_ms, rid, None)
