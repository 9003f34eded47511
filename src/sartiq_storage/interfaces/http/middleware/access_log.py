"""One structured log line per request, and the request id that ties it to the caller.

Pure ASGI (not ``BaseHTTPMiddleware``): bodies stream through untouched. It wraps the whole
service, the lakeFS sub-app included (the ``/files`` fast path does the same work itself,
``FastFiles.logged``: a layer costs about what its answer costs), so every answer, refusals
and conflicts included, is logged with its method, path (signed-URL query values redacted),
status, duration, request id and the caller's ``sub`` when the request was authenticated.
A 5xx is logged at ERROR with the traceback of what caused it (the full cause of a store
outage lives here, never in the answer).

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
from sartiq_storage.interfaces.http.middleware.no_store import add_no_store

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
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    rid: str,
    sub: str | None,
    head: str = "",
    tail: str = "",
) -> str:
    """The text of an access line (its ``message``), between ``head`` and ``tail`` (a text
    line's timestamp and newline, built in the same step). A ``sub`` with a newline or any
    other control character is escaped: it would otherwise start a line of its own."""
    if sub is not None and not sub.isprintable():
        sub = sub.encode("unicode_escape").decode("ascii")
    return (
        f"{head}{method} {path} {status} {duration_ms:.2f}ms request_id={rid} sub={sub or '-'}"
        f"{tail}"
    )


direct_writer: Callable[[str, str, int, float, str, str | None], None] | None = None
"""Set by :func:`~sartiq_storage.interfaces.http.middleware.logs.configure_logging`: writes an
answered request's line as the installed formatter would, without building a ``LogRecord``
(a third of the cost of a ``/files`` 302 otherwise, ``docs/benchmarks.md``); the duration
comes unrounded (the writer rounds it as the line shows it). 5xx lines, and
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


def incoming_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` when it is sane."""
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
    if path.isprintable() or not _HAS_CONTROL.search(path):  # isprintable: the cheap test
        return path
    return path.translate(_CONTROL)


class AccessLog(HttpLayer):
    """The access line, ``X-Request-ID`` and ``no-store``, in one layer: one closure and one
    look at the start message per request (two layers cost ~1.5 µs more, ``docs/benchmarks.md``).
    The ``/files`` fast path does the same work itself and skips this layer (``fast_files.py``)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = incoming_id(scope) or new_request_id()
        scope[REQUEST_ID] = rid
        target = loggable_target(scope)  # before a mount rewrites the scope's path
        header = (b"x-request-id", rid.encode("latin-1"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if type(headers) is not list:
                    headers = list(headers or ())
                    message = {**message, "headers": headers}
                # In place, as Starlette's own middleware does (every response sends a list
                # of its own).
                add_no_store(headers)
                headers.append(header)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            log_answer(scope["method"], target, status or 499, started, rid, scope.get(CALLER))
            raise  # the client went away
        except BaseException as exc:
            log_answer(scope["method"], target, status or 500, started, rid, scope.get(CALLER), exc)
            raise
        sub, error = scope.get(CALLER), scope.get(ERROR)
        log_answer(scope["method"], target, status, started, rid, sub, error)


def log_answer(
    method: str,
    target: str,
    status: int,
    started: float,
    rid: str,
    sub: str | None,
    exc: BaseException | None = None,
) -> None:
    """Write the access line of an answered request (``started``: its ``perf_counter``).

    A 5xx goes out at ERROR with ``exc``'s traceback; the rest at INFO, through
    :data:`direct_writer` when it is set.
    """
    level = logging.ERROR if status >= 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    duration_ms = (time.perf_counter() - started) * 1000
    if direct_writer is not None and level == logging.INFO:
        direct_writer(method, target, status, duration_ms, rid, sub)
        return
    values = (method, target, status, round(duration_ms, 2), rid, sub)
    logger.log(
        level,
        "%s",
        access_message(*values),
        exc_info=exc if status >= 500 and exc is not None else None,
        extra=dict(zip(FIELDS, values, strict=True)),
    )
