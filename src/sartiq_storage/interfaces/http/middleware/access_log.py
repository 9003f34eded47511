"""One structured log line per request, and the request id that ties it to the caller.

Pure ASGI (not ``BaseHTTPMiddleware``): bodies stream through untouched and the ``/files``
fast path pays a few microseconds (``docs/benchmarks.md``). It wraps the whole service, the
fast path and the lakeFS sub-app included, so every answer, refusals and conflicts included,
is logged with its method, path (signed-URL query values redacted), status, duration, request
id and the caller's ``sub`` when the request was authenticated. A 5xx is logged at ERROR with
the traceback of what caused it (the full cause of a store outage lives here, never in the
answer).

The request id is the caller's ``X-Request-ID`` when it is sane (1-128 characters of
``[A-Za-z0-9._:/+=@-]``), else a new one (a random prefix per process and a counter); it is
answered as ``X-Request-ID`` and error bodies carry it as ``request_id``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from sartiq_storage.interfaces.http.middleware.base import HttpLayer

logger = logging.getLogger("sartiq_storage.access")

REQUEST_ID = "sartiq.request_id"
CALLER = "sartiq.caller"
ERROR = "sartiq.error"
"""Keys this layer and the routes share in the ASGI scope (a mounted sub-app's scope is the
same dict, so what a route records is seen here)."""

_SANE_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}", re.ASCII)
_SECRET_PARAM = re.compile(r"sig|token|secret|credential|password|auth", re.IGNORECASE)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
_HAS_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes and restarts (a random prefix per process, then a counter):
    an id needs no secrecy, and this costs no system call per request."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


FIELDS = ("method", "path", "status", "duration_ms", "request_id", "sub")
"""An access line's fields, in order (the JSON keys of its line)."""


def access_message(
    method: str, path: str, status: int, duration_ms: float, rid: str, sub: str | None
) -> str:
    """The text of an access line (its ``message``)."""
    return f"{method} {path} {status} {duration_ms:.2f}ms request_id={rid} sub={sub or '-'}"


direct_writer: Callable[[str, str, int, float, str, str | None], None] | None = None
"""Set by :func:`~sartiq_storage.interfaces.http.middleware.logs.configure_logging`: writes an
answered request's line as the installed formatter would, without building a ``LogRecord``
(a third of the cost of a ``/files`` 302 otherwise, ``docs/benchmarks.md``). 5xx lines, and
every line when logging was not configured by us (a host application, the tests' caplog),
go through :mod:`logging`."""


def request_id(scope: Scope) -> str | None:
    """The id of the request ``scope`` belongs to (None outside this layer)."""
    value = scope.get(REQUEST_ID)
    return value if isinstance(value, str) else None


def record_caller(scope: MutableMapping[str, Any], subject: str) -> None:
    """Name the authenticated caller in the access log line."""
    scope[CALLER] = subject


def record_error(scope: MutableMapping[str, Any], exc: BaseException) -> None:
    """Keep the exception behind a handled 5xx, for the access log line's traceback."""
    scope[ERROR] = exc


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def loggable_target(scope: Scope) -> str:
    """The request target as received, signed-URL query values redacted, controls escaped
    (a logged path cannot forge a line of its own)."""
    raw = scope.get("raw_path")
    path: str = raw.decode("latin-1") if raw else scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        pieces = []
        for piece in query.split("&"):
            name, eq, _ = piece.partition("=")
            pieces.append(f"{name}=REDACTED" if eq and _SECRET_PARAM.search(name) else piece)
        path = f"{path}?{'&'.join(pieces)}"
    return path.translate(_CONTROL) if _HAS_CONTROL.search(path) else path


class AccessLog(HttpLayer):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = _incoming_id(scope) or new_request_id()
        scope[REQUEST_ID] = rid
        target = loggable_target(scope)  # before a mount rewrites the scope's path
        header = (b"x-request-id", rid.encode("latin-1"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if type(headers) is list:  # in place, as Starlette's own middleware does
                    headers.append(header)
                else:
                    message = {**message, "headers": [*(headers or ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            self._log(scope, target, status or 499, started, None)  # the client went away
            raise
        except BaseException as exc:
            self._log(scope, target, status or 500, started, exc)
            raise
        self._log(scope, target, status, started, scope.get(ERROR))

    @staticmethod
    def _log(
        scope: Scope, target: str, status: int, started: float, exc: BaseException | None
    ) -> None:
        level = logging.ERROR if status >= 500 else logging.INFO
        if not logger.isEnabledFor(level):
            return
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        method, rid, sub = scope["method"], scope[REQUEST_ID], scope.get(CALLER)
        if direct_writer is not None and level == logging.INFO:
            direct_writer(method, target, status, duration_ms, rid, sub)
            return
        values = (method, target, status, duration_ms, rid, sub)
        message = access_message(*values)
        fields = dict(zip(FIELDS, values, strict=True))
        logger.log(
            level,
            "%s",
            message,
            exc_info=exc if status >= 500 and exc is not None else None,
            extra=fields,
        )
