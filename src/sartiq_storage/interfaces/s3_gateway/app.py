"""The S3 gateway: lakeFS's ``s3://{repository}/{ref}/{path}`` for every S3 client.

A plain ASGI application (no router: S3 picks the operation from the method, the path
depth and the query), served by ``sartiq-storage serve --s3-gateway-port`` on its own port.
Path-style addressing (``http://host:port/{repository}/{ref}/{path}``); every request is
verified with AWS Signature V4 against the datasets key pair before anything is read.
Operations map as lakeFS's ``pkg/gateway`` maps them (see ``docs/datasets.md``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.http.lakefs.auth import users_of
from sartiq_storage.interfaces.s3_gateway import listing, multipart, objects
from sartiq_storage.interfaces.s3_gateway.common import PATHSEND, Call, xml_response
from sartiq_storage.interfaces.s3_gateway.errors import S3Error
from sartiq_storage.interfaces.s3_gateway.sigv2 import verify_v2
from sartiq_storage.interfaces.s3_gateway.sigv4 import is_v2, query_pairs, verify
from sartiq_storage.interfaces.s3_gateway.xml import document
from sartiq_storage.services.context import StorageContext, build_context

log = logging.getLogger("sartiq_storage.s3_gateway")
Handler = Callable[[Call], Awaitable[Response]]
_UNSUPPORTED = (
    "acl",
    "policy",
    "lifecycle",
    "cors",
    "website",
    "tagging",
    "versions",
    "encryption",
    "replication",
    "notification",
    "logging",
    "object-lock",
    "accelerate",
    "requestPayment",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "ownershipControls",
    "publicAccessBlock",
    "policyStatus",
    "torrent",
    "retention",
    "legal-hold",
    "attributes",
    "restore",
    "select",
)


async def _head_bucket(call: Call) -> Response:
    await call.check_bucket()
    return Response(status_code=200, headers={"x-amz-bucket-region": "us-east-1"})


async def _bucket_get(call: Call) -> Response:
    if "location" in call.query:
        await call.check_bucket()
        return xml_response(document("LocationConstraint", []))
    if "versioning" in call.query:
        await call.check_bucket()
        return xml_response(document("VersioningConfiguration", []))
    if "uploads" in call.query:
        return await multipart.list_uploads(call)
    return await listing.list_objects(call)


async def _put_bucket(call: Call) -> Response:
    await call.check_bucket()
    raise S3Error(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        resource=call.resource,
    )


async def _bucket_post(call: Call) -> Response:
    if "delete" in call.query:
        return await objects.delete_objects(call)
    raise _not_supported(call)


def _not_supported(call: Call) -> S3Error:
    return S3Error(
        "NotImplemented",
        "This operation is not supported by this S3 gateway",
        501,
        resource=call.resource,
    )


def _route(call: Call) -> Handler:
    """The operation for this method, path depth and query (S3's own dispatch)."""
    query, method = call.query, call.method
    if any(name in query for name in _UNSUPPORTED):
        raise _not_supported(call)
    if not call.bucket:
        if method in ("GET", "HEAD"):
            return listing.list_buckets
        raise S3Error("MethodNotAllowed", "The specified method is not allowed", 405)
    if not call.key:
        bucket: dict[str, Handler] = {
            "GET": _bucket_get,
            "HEAD": _head_bucket,
            "PUT": _put_bucket,
            "POST": _bucket_post,
        }
        if method in bucket:
            return bucket[method]
        raise _not_supported(call)
    if method == "GET":
        return multipart.list_parts if "uploadId" in query else objects.get_object
    if method == "HEAD":
        return objects.head_object
    if method == "PUT":
        return multipart.upload_part if "uploadId" in query else objects.put_object
    if method == "POST":
        if "uploads" in query:
            return multipart.create
        if "uploadId" in query:
            return multipart.complete
    if method == "DELETE":
        return multipart.abort if "uploadId" in query else objects.delete_object
    raise S3Error("MethodNotAllowed", "The specified method is not allowed", 405)


_V4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def requested_key_id(headers: dict[str, str], query: dict[str, str]) -> str | None:
    """The access key id a request is signed with (V4 or V2, header or query), unverified."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("AWS "):
        return authorization[4:].partition(":")[0] or None
    found = _V4_CREDENTIAL.search(authorization)
    if found:
        return found.group(1)
    credential = query.get("X-Amz-Credential")
    if credential:
        return credential.partition("/")[0] or None
    return query.get("AWSAccessKeyId") or None


class S3Gateway:
    """The ASGI application; ``context`` supplies the engine and the datasets key pair."""

    def __init__(self, context: StorageContext, *, clock: Callable[[], datetime] | None = None):
        self.context = context
        self.users: object | None = None
        """The lakeFS API's users and keys (built on first use, as the API builds them)."""
        self.clock = clock or (lambda: datetime.now(UTC))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = uuid.uuid4().hex[:16].upper()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = _Body(receive)
        try:
            response = await self._answer(scope, body, headers, request_id)
        except S3Error as exc:
            response = _error(exc, request_id, scope["method"])
        except Exception:
            log.exception("S3 gateway request failed")
            error = S3Error("InternalError", "We encountered an internal error.", 500)
            response = _error(error, request_id, scope["method"])
        response.headers["x-amz-request-id"] = request_id
        if _declares_body(headers) and not (
            body.signed and _drainable(headers) and await body.drain()
        ):
            # Never read for a request that did not prove who sent it, nor past what
            # draining may take: answered at once, and the connection closes instead.
            response.headers["connection"] = "close"
        await response(scope, body.receive, send)

    async def _answer(
        self, scope: Scope, body: _Body, headers: dict[str, str], request_id: str
    ) -> Response:
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1").split("?", 1)[0] if raw else quote(scope["path"])
        pairs = query_pairs(scope.get("query_string", b""))
        query = dict(pairs)
        key_id, secret = self._pair(headers, query)
        now = self.clock()
        if is_v2(headers, query):
            verified = verify_v2(
                method=scope["method"],
                raw_path=raw_path,
                pairs=pairs,
                headers=headers,
                access_key_id=key_id,
                secret=secret,
                now=now,
            )
        else:
            verified = verify(
                method=scope["method"],
                raw_path=raw_path,
                query_string=scope.get("query_string", b""),
                headers=headers,
                access_key_id=key_id,
                secret=secret,
                now=now,
            )
        body.signed = True
        bucket, _, key = scope["path"].lstrip("/").partition("/")
        call = Call(
            scope["method"],
            bucket,
            key,
            query,
            headers,
            body.receive,
            verified,
            self.context.datasets,
            request_id,
            PATHSEND in scope.get("extensions", {}),
        )
        return await _route(call)(call)

    def _pair(
        self, headers: dict[str, str], query: dict[str, str]
    ) -> tuple[str | None, str | None]:
        """The key pair the request names: a stored user's (``GET /user`` and credentials of
        the lakeFS API), else the configured one, which the verifier then holds it to."""
        key_id = requested_key_id(headers, query)
        users = users_of(self)
        found = users.secret_for(key_id) if users is not None and key_id else None
        if key_id and found is not None:
            return key_id, found[1]
        return self.context.datasets_access_key_id, self.context.datasets_secret_access_key

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.context.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


DRAIN_LIMIT = 16 * 1024 * 1024
"""The most of a refused request's unread body read and dropped to keep the connection
(a signed request's only: an unsigned or forged one is never read)."""


def _declares_body(headers: dict[str, str]) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in (
        "",
        "0",
    )


def _drainable(headers: dict[str, str]) -> bool:
    """Whether the body may be read and dropped: chunked (cut at :data:`DRAIN_LIMIT`), or a
    declared length within it (a longer one would only be read in part, then closed)."""
    length = headers.get("content-length", "").strip()
    return not length.isdigit() or int(length) <= DRAIN_LIMIT


class _Body:
    """``receive``, remembering whether the request's body has been read to its end.

    A request refused before its body is read (a write to a tag, a missing upload, a bad
    signature) must still have that body taken off the connection: the server otherwise
    reads the declared length out of the client's next request on the same keep-alive
    connection (boto3 sends ``Expect: 100-continue`` and, refused, reuses the connection
    without sending the body), which then fails as ``SignatureDoesNotMatch``.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False
        self.signed = False
        """Set once the request's signature is verified."""

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.done = True
        return message

    async def drain(self) -> bool:
        """Reads what is left of the body (up to :data:`DRAIN_LIMIT`); False when more is
        left, and the connection must close instead."""
        read = 0
        while not self.done:
            if read > DRAIN_LIMIT:
                return False
            message = await self.receive()
            read += len(message.get("body", b""))
        return True


def _error(exc: S3Error, request_id: str, method: str) -> Response:
    headers = {**exc.headers}
    if method == "HEAD":  # no body on HEAD: the status says it, S3 sends none either
        return Response(status_code=exc.status, headers=headers)
    return Response(exc.body(request_id), exc.status, headers=headers, media_type="application/xml")


def create_s3_gateway(context: StorageContext) -> S3Gateway:
    return S3Gateway(context)


def app_from_environment() -> S3Gateway:
    """Factory for the ASGI server that ``serve --s3-gateway-port`` starts."""
    from sartiq_storage.interfaces.http.middleware.logs import configure_logging

    settings = load_settings()
    configure_logging(settings)
    return create_s3_gateway(build_context(settings))
