"""``GET /_storage/derived/{fmt}/{key}`` answered like a static file when it is cached.

A converted image (``?type=`` on the embedded store or in development) is served by the
documented route in ``routes/files.py``: HEAD the source, derive the derivative's key from the
source's ETag, serve or make the derivative. Once made, answering it again is a static file's
work, so this handler does just that for the embedded store: two ``stat`` calls (the source
still there and unchanged, the derivative still there), headers kept from the first answer,
and the file sent by the server itself (ASGI ``pathsend``) or read in one go. Anything else
(a first request, a range, a changed or deleted source, another store) goes on to the route.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from dataclasses import dataclass
from time import perf_counter

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from sartiq_storage.adapters.image_convert import FORMATS
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.errors import StorageError
from sartiq_storage.interfaces.http.fast_files import add_cors, write_access_line
from sartiq_storage.interfaces.http.middleware.access_log import (
    REQUEST_ID,
    incoming_id,
    new_request_id,
)
from sartiq_storage.interfaces.http.responses import object_headers
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.delivery import DERIVED_ROUTE

PREFIX = DERIVED_ROUTE + "/"
KEPT = 4096
"""Derivatives whose answers are kept per process (a few hundred bytes each)."""
READ_INLINE = 256 * 1024
"""Up to this size the file is read on the event loop (page-cache reads of a thumbnail cost
less than a thread hop); larger ones are read on a worker thread."""
READ_WHOLE = 8 * 1024 * 1024
"""Without ``pathsend``, larger derivatives go to the route, which streams them."""
PATHSEND = "http.response.pathsend"

Signature = tuple[int, int, int]
"""``(inode, size, mtime_ns)``: a file replaced or rewritten gets another signature."""


def _signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True, slots=True)
class Kept:
    """What the route answered for one derivative, and the files it answered from."""

    source_path: str
    source: Signature
    derivative_path: str
    derivative: Signature
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]


class FastDerived:
    """Serves kept derivatives; :meth:`handled` says whether it answered."""

    def __init__(self, context: StorageContext, kept: int = KEPT) -> None:
        store = context.store
        self.store = store if isinstance(store, LocalStore) else None
        self.context = context
        self.origins = {o.encode("latin-1") for o in context.settings.cors_origins}
        self.kept: OrderedDict[tuple[str, str], Kept] = OrderedDict()
        self.limit = kept

    @property
    def active(self) -> bool:
        return self.store is not None and self.context.delivery.local_conversion

    async def handled(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer a request for a kept derivative; False (nothing sent) for anything else."""
        fmt, _, key = scope["path"][len(PREFIX) :].partition("/")
        if fmt not in FORMATS or not key:
            return False
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"range":
                return False  # 206 answers stay with the route
            if name == b"if-none-match":
                if_none_match = value
        kept = await self._current(fmt, key)
        if kept is None:
            return False
        started = perf_counter()
        rid = incoming_id(scope) or new_request_id()
        scope[REQUEST_ID] = rid
        headers = list(kept.headers)
        add_cors(scope, self.origins, headers, b"Origin")
        headers.append((b"x-request-id", rid.encode("latin-1")))
        status = 200
        body = b""
        pathsend = False
        if if_none_match is not None and kept.etag in if_none_match.replace(b'"', b" ").split():
            status = 304
            headers = [h for h in headers if h[0] != b"content-type"]  # no body, no type
        else:
            headers.append((b"content-length", b"%d" % kept.derivative[1]))
            if scope["method"] == "GET":
                pathsend = PATHSEND in scope.get("extensions", {})
                if not pathsend:
                    if kept.derivative[1] > READ_WHOLE:
                        return False  # the route streams it
                    try:
                        body = await self._read(kept)
                    except OSError:
                        self.kept.pop((fmt, key), None)
                        return False  # swept since the stat: the route remakes it
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if pathsend:
            await send({"type": PATHSEND, "path": kept.derivative_path})
        else:
            await send({"type": "http.response.body", "body": body})
        write_access_line(scope, status, started, rid)
        return True

    async def _current(self, fmt: str, key: str) -> Kept | None:
        """The kept answer when both files are still the ones it was made from; else the
        route's answer worked out again (None when there is no derivative yet)."""
        kept = self.kept.get((fmt, key))
        if kept is not None:
            if (
                _signature(kept.source_path) == kept.source
                and _signature(kept.derivative_path) == kept.derivative
            ):
                self.kept.move_to_end((fmt, key))
                return kept
            del self.kept[(fmt, key)]
        try:
            kept = await run_in_threadpool(self._look_up, fmt, key)
        except StorageError:
            return None  # a bad key, a missing source: the route says so
        if kept is not None:
            self.kept[(fmt, key)] = kept
            if len(self.kept) > self.limit:
                self.kept.popitem(last=False)
        return kept

    def _look_up(self, fmt: str, key: str) -> Kept | None:
        store = self.store
        assert store is not None
        source, derivative_key = self.context.delivery.derivative_for(key, fmt)
        source_path = store.file_path(source.key)
        derivative_path = store.file_path(derivative_key)
        source_sig = _signature(source_path)
        derivative_sig = _signature(derivative_path)
        if source_sig is None or derivative_sig is None:
            return None
        info = store.head(derivative_key)
        if not info.etag or info.size != derivative_sig[1]:
            return None
        # The route's headers (routes/files.py → responses.object_response), in its order.
        values = {
            **object_headers(info, derivative_key, None),
            "Content-Type": info.content_type or "application/octet-stream",
        }
        headers = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in values.items()
        )
        return Kept(
            source_path,
            source_sig,
            derivative_path,
            derivative_sig,
            info.etag.encode("latin-1"),
            headers,
        )

    @staticmethod
    async def _read(kept: Kept) -> bytes:
        def read() -> bytes:
            with open(kept.derivative_path, "rb") as handle:
                return handle.read()

        if kept.derivative[1] <= READ_INLINE:
            return read()
        return await asyncio.to_thread(read)
