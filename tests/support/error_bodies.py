"""No answer may carry database, driver or interpreter text.

Every HTTP response the suites receive through httpx (their clients, Starlette's
``TestClient``, the ASGI transport) and through ``tests/support/asgi.request`` is checked
by the autouse fixture in ``tests/conftest.py``: an error body (status 400 or more) that
quotes the driver (``psycopg``, ``UniqueViolation``…), SQLAlchemy, a traceback or SQL fails
the test that received it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

LEAK = re.compile(
    r"psycopg|sqlalchemy|sqlalche\.me|sqlite3|UniqueViolation|IntegrityError|OperationalError"
    r"|ProgrammingError|StaleDataError|Traceback \(most recent call last\)",
    re.IGNORECASE,
)
SQL = re.compile(r"\b(?:INSERT INTO|DELETE FROM|UPDATE \w+ SET|SELECT .{1,300}? FROM)\b", re.DOTALL)
"""In capitals only: prose says "select" and "from" too."""


def leak_in(status: int, body: bytes) -> str | None:
    """The leaked text in an error answer's body, or None."""
    if status < 400:
        return None
    text = body[:100_000].decode("utf-8", "replace")
    match = LEAK.search(text) or SQL.search(text)
    return match.group(0) if match else None


class ErrorBodyWatch:
    """What the current test received that leaked, to fail it at its end."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, status: int, body: bytes, where: str) -> None:
        leaked = leak_in(status, body)
        if leaked is not None:
            self.found.append(f"{where} -> {status}: {leaked!r} in {body[:300]!r}")


WATCH: ErrorBodyWatch | None = None
"""The current test's watch (set by the fixture); helpers outside httpx report to it."""


def report(status: int, body: bytes, where: str) -> None:
    if WATCH is not None:
        WATCH.check(status, body, where)


@contextmanager
def watching_httpx() -> Iterator[ErrorBodyWatch]:
    """Check every non-streamed httpx response for the length of the block."""
    global WATCH
    watch = ErrorBodyWatch()
    sync_send: Callable[..., httpx.Response] = httpx.Client.send
    async_send: Callable[..., Any] = httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = sync_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            watch.check(response.status_code, response.content, f"{request.method} {request.url}")
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response: httpx.Response = await async_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            watch.check(response.status_code, response.content, f"{request.method} {request.url}")
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
    WATCH = watch
    try:
        yield watch
    finally:
        httpx.Client.send = sync_send  # type: ignore[method-assign]
        httpx.AsyncClient.send = async_send  # type: ignore[method-assign]
        WATCH = None
