"""``POST /api/v1/uploads/presigned-url`` as a minimal ASGI handler, for its common case.

Every browser upload starts with a presign, and under load the route spent most of its time
in the stack around it (the body gate's router walk, dependency solving, validation of the
answer, a worker thread per call; ``docs/benchmarks.md``) rather than in signing and
recording. This handler answers a well-formed request with a valid token itself: the same
token check (``context.tokens``), the same body model, the same service call, the same JSON,
CORS headers, ``no-store``, ``X-Request-ID`` and access line.

Anything else goes through the documented route unchanged, the body replayed if it was
read: a missing or refused token, another content type, a chunked or oversized body, a body
the model or the service refuses (refusals happen before anything is written), a failed
intent write, an ``Origin`` under a ``*`` CORS policy, a host application's own auth. So
every refusal and error is the route's own answer, byte for byte.
"""

from __future__ import annotations

import asyncio
from json.encoder import encode_basestring as _string  # json.dumps's, ensure_ascii=False
from logging import INFO
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.tokens import TokenError
from sartiq_storage.interfaces.http.fast_files import add_cors
from sartiq_storage.interfaces.http.gate import MAX_JSON_BODY_BYTES
from sartiq_storage.interfaces.http.middleware import access_log
from sartiq_storage.interfaces.http.middleware.access_log import (
    CALLER,
    REQUEST_ID,
    incoming_id,
    log_answer,
    loggable_target,
    logger,
    new_request_id,
)
from sartiq_storage.interfaces.http.middleware.no_store import add_no_store
from sartiq_storage.interfaces.http.routes.uploads import PresignBody
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.uploads import PresignedUpload

PATH = "/api/v1/uploads/presigned-url"
SCOPE = "uploads"
JSON_TYPE = (b"content-type", b"application/json")


class _Fallback(Exception):
    """This request is the documented route's to answer."""


def _json_type(value: bytes) -> bool:
    return value.split(b";", 1)[0].strip().lower() == b"application/json"


class FastPresign:
    """:meth:`handle` answers the common case and hands everything else to ``fallback``
    (the app's full stack, its layers included)."""

    def __init__(self, context: StorageContext, limit: int = MAX_JSON_BODY_BYTES) -> None:
        self.context = context
        self.limit = limit
        self.origins = {o.encode("latin-1") for o in context.settings.cors_origins}
        self.active = b"*" not in self.origins
        """A ``*`` policy answers differently (no ``Vary``); the CORS middleware does it."""

    def _caller(self, scope: Scope) -> tuple[str, int]:
        """The token's subject and the declared body length, or :class:`_Fallback`."""
        authorization = content_type = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"content-type":
                content_type = content_type or value
            elif name == b"content-length":
                length = length or value
            elif name == b"transfer-encoding":
                raise _Fallback
        if authorization is None or content_type is None or length is None:
            raise _Fallback
        if not _json_type(content_type) or not length.isdigit() or int(length) > self.limit:
            raise _Fallback
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Fallback
        try:
            caller = self.context.tokens.verify(token)
        except TokenError:
            raise _Fallback from None
        if not caller.allows(SCOPE):
            raise _Fallback
        return caller.subject, int(length)

    async def _body(self, receive: Receive, length: int) -> tuple[bytes, bool] | None:
        """The body, and whether more of it is still to come (more than it declared); None
        when the client went away."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
            if size > length or not more:
                return b"".join(chunks), more

    async def _answer(self, scope: Scope, body: bytes, subject: str) -> tuple[bytes, list[Any]]:
        try:
            parsed = PresignBody.model_validate_json(body)  # refuses more (a BOM): the route's
            upload, intent = self.context.uploads.prepare(
                parsed.filename, parsed.content_type, parsed.size, requester=subject
            )
        except (ValueError, StorageError):  # pydantic's ValidationError is a ValueError
            raise _Fallback from None
        try:
            await self.context.uploads.intents.insert_async(intent)
        except Exception:  # noqa: BLE001 - the route tries again and answers its own error
            raise _Fallback from None
        content = _answer_json(upload)
        headers = [(b"content-length", b"%d" % len(content)), JSON_TYPE]
        add_cors(scope, self.origins, headers, b"Origin")
        add_no_store(headers)
        return content, headers

    async def handle(self, scope: Scope, receive: Receive, send: Send, fallback: ASGIApp) -> None:
        """Answer ``scope`` (a POST to :data:`PATH`), or let ``fallback`` answer it."""
        started = perf_counter()
        try:
            subject, length = self._caller(scope)
        except _Fallback:
            await fallback(scope, receive, send)
            return
        rid = incoming_id(scope) or new_request_id()
        body, more = b"", False
        status = 0
        try:
            read = await self._body(receive, length)
            if read is None:  # the client went away
                log_answer(scope["method"], loggable_target(scope), 499, started, rid, subject)
                return
            body, more = read
            if more or len(body) != length:
                raise _Fallback
            content, headers = await self._answer(scope, body, subject)
            scope[REQUEST_ID] = rid
            scope[CALLER] = subject
            headers.append((b"x-request-id", rid.encode("latin-1")))
            status = 200
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        except _Fallback:
            pass  # answered below, outside this block: the fallback logs its own line
        except asyncio.CancelledError:
            log_answer(scope["method"], loggable_target(scope), 499, started, rid, subject)
            raise  # the client went away
        except BaseException as exc:
            target = loggable_target(scope)
            log_answer(scope["method"], target, status or 500, started, rid, subject, exc)
            raise
        if status == 0:
            await fallback(scope, _replay(body, more, receive), send)
            return
        if logger.isEnabledFor(INFO):
            writer = access_log.direct_writer
            if writer is None:
                log_answer(scope["method"], loggable_target(scope), 200, started, rid, subject)
            else:
                duration_ms = (perf_counter() - started) * 1000
                writer(scope["method"], loggable_target(scope), 200, duration_ms, rid, subject)


def _answer_json(upload: PresignedUpload) -> bytes:
    """``json.dumps`` of the answer (``ensure_ascii=False``, compact), its fixed parts written
    once: the C string encoder for the strings, ``int.__repr__`` for the numbers, as it does."""
    headers = ",".join(
        f"{_string(name)}:{_string(value)}" for name, value in upload.upload_headers.items()
    )
    return (
        f'{{"upload_url":{_string(upload.upload_url)},"file_url":{_string(upload.file_url)},'
        f'"upload_method":{_string(upload.upload_method)},"upload_headers":{{{headers}}},'
        f'"expires_in_seconds":{int.__repr__(upload.expires_in_seconds)},'
        f'"max_file_size":{int.__repr__(upload.max_file_size)}}}'
    ).encode()


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` with the part of the body already read handed out first."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": more}
        return await receive()

    return replay
