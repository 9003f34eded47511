"""A request body as the payload's bytes, checked while it streams (never held whole).

* a declared hex SHA-256: hashed as it comes, compared at the end
  (``XAmzContentSHA256Mismatch``);
* ``UNSIGNED-PAYLOAD``: not hashed (pre-signed URLs, clients over HTTPS);
* ``aws-chunked`` (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` and its ``-TRAILER`` form, and
  ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, what boto3 1.36+ and the AWS CLI send): the chunk
  framing is removed and every chunk signature (chained from the seed signature) and the
  trailer signature are checked;
* ``Content-MD5`` and the flexible checksums (``x-amz-checksum-crc32``, ``-sha1``,
  ``-sha256``, in a header or a trailer) are compared at the end (``BadDigest``);
  ``crc32c`` and ``crc64nvme`` are accepted unchecked (no implementation in the standard
  library).

The end checks run before the last bytes are handed on, so a write fed from here fails
before anything is staged: the engine stages an entry only once its bytes are all stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from starlette.types import Receive

from sartiq_storage.interfaces.s3_gateway.errors import S3Error
from sartiq_storage.interfaces.s3_gateway.sigv4 import (
    CHUNKED_MODES,
    EMPTY_SHA256,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED,
    Verified,
    sign,
)

MAX_LINE = 4096
PIECE = 1024 * 1024


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


_CHECKSUMS: dict[str, Callable[[], _Hasher]] = {
    "x-amz-checksum-crc32": _Crc32,
    "x-amz-checksum-sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "x-amz-checksum-sha256": hashlib.sha256,
}


def _bad_digest(what: str) -> S3Error:
    return S3Error("BadDigest", f"The {what} you specified did not match what we received.", 400)


class _Checks:
    """The end-of-body comparisons: declared SHA-256, Content-MD5, flexible checksums."""

    def __init__(self, verified: Verified, headers: dict[str, str]) -> None:
        self.sha256 = None
        payload = verified.payload
        if payload != UNSIGNED and payload not in CHUNKED_MODES:
            if len(payload) != 64:
                raise S3Error("InvalidArgument", "x-amz-content-sha256 must be a hex SHA-256", 400)
            self.sha256 = hashlib.sha256()
        self.declared_sha256 = payload.lower()
        self.md5 = None
        self.declared_md5 = headers.get("content-md5", "")
        if self.declared_md5:
            self.md5 = hashlib.md5(usedforsecurity=False)
        self.checksums: dict[str, _Hasher] = {}
        self.declared: dict[str, str] = {}
        trailer = headers.get("x-amz-trailer", "").lower()
        for name, make in _CHECKSUMS.items():
            if name in headers or name == trailer:
                self.checksums[name] = make()
                if name in headers:
                    self.declared[name] = headers[name]
        self.size = 0

    def update(self, data: bytes) -> None:
        self.size += len(data)
        for hasher in (self.sha256, self.md5, *self.checksums.values()):
            if hasher is not None:
                hasher.update(data)

    def finish(self, trailers: dict[str, str]) -> None:
        if self.sha256 is not None and self.sha256.hexdigest() != self.declared_sha256:
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )
        if self.md5 is not None:
            try:
                declared = base64.b64decode(self.declared_md5, validate=True)
            except ValueError:
                raise S3Error(
                    "InvalidDigest", "The Content-MD5 you specified is not valid.", 400
                ) from None
            if declared != self.md5.digest():
                raise _bad_digest("Content-MD5")
        for name, hasher in self.checksums.items():
            value = trailers.get(name, self.declared.get(name))
            if value is None:
                raise S3Error("InvalidRequest", f"the trailer {name} is missing", 400)
            if base64.b64encode(hasher.digest()).decode() != value.strip():
                raise _bad_digest(name)


async def _raw(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise S3Error("IncompleteBody", "the client went away before the body ended", 400)
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class _Buffer:
    """Bytes from the raw stream, read by lines and by counts."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self.source = source
        self.data = bytearray()

    async def _fill(self) -> bool:
        try:
            self.data += await anext(self.source)
        except StopAsyncIteration:
            return False
        return True

    async def line(self) -> str:
        while (end := self.data.find(b"\r\n")) < 0:
            if len(self.data) > MAX_LINE or not await self._fill():
                raise S3Error("IncompleteBody", "the aws-chunked body is cut or malformed", 400)
        text = bytes(self.data[:end]).decode("latin-1")
        del self.data[: end + 2]
        return text

    async def take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes (at least one), from what is buffered or the next read."""
        if not self.data and not await self._fill():
            raise S3Error("IncompleteBody", "the aws-chunked body is cut short", 400)
        piece = bytes(self.data[:limit])
        del self.data[: len(piece)]
        return piece


def _chunk_header(line: str, signed: bool) -> tuple[int, str]:
    size_text, _, extension = line.partition(";")
    try:
        size = int(size_text, 16)
    except ValueError:
        raise S3Error("IncompleteBody", "an aws-chunked chunk size is not hex", 400) from None
    signature = ""
    if signed:
        name, _, signature = extension.partition("=")
        if name != "chunk-signature" or not signature:
            raise S3Error("SignatureDoesNotMatch", "a chunk has no chunk-signature", 403)
    return size, signature


async def _chunked(
    receive: Receive, verified: Verified, checks: _Checks
) -> AsyncIterator[tuple[bytes, dict[str, str]]]:
    """Decoded pieces of an aws-chunked body; the last item carries the trailers."""
    signed = verified.payload != STREAMING_UNSIGNED_TRAILER
    buffer = _Buffer(_raw(receive))
    previous = verified.seed_signature
    prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{verified.amz_date}\n{verified.scope}\n"

    def check(signature: str, digest: str) -> None:
        nonlocal previous
        expected = sign(verified.signing_key, f"{prefix}{previous}\n{EMPTY_SHA256}\n{digest}")
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise S3Error(
                "SignatureDoesNotMatch", "a chunk signature does not match its bytes", 403
            )
        previous = signature

    while True:
        size, signature = _chunk_header(await buffer.line(), signed)
        chunk_hash = hashlib.sha256()
        remaining = size
        while remaining:
            piece = await buffer.take(min(remaining, PIECE))
            remaining -= len(piece)
            chunk_hash.update(piece)
            checks.update(piece)
            if remaining:
                yield piece, {}
            else:
                if signed:
                    check(signature, chunk_hash.hexdigest())
                yield piece, {}
        if size:
            if await buffer.line() != "":
                raise S3Error("IncompleteBody", "an aws-chunked chunk is longer than said", 400)
            continue
        if signed:
            check(signature, EMPTY_SHA256)
        break
    trailers: dict[str, str] = {}
    trailer_text = ""
    trailer_signature = ""
    if verified.payload in CHUNKED_MODES[1:]:
        while line := await buffer.line():
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                trailer_signature = value.strip()
            else:
                trailers[name] = value.strip()
                trailer_text += f"{name}:{value.strip()}\n"
        if signed:
            text = (
                f"AWS4-HMAC-SHA256-TRAILER\n{verified.amz_date}\n{verified.scope}\n{previous}\n"
                f"{hashlib.sha256(trailer_text.encode()).hexdigest()}"
            )
            expected = sign(verified.signing_key, text)
            if not hmac.compare_digest(expected.encode(), trailer_signature.encode()):
                raise S3Error("SignatureDoesNotMatch", "the trailer signature does not match", 403)
    yield b"", trailers


async def payload(
    receive: Receive, verified: Verified, headers: dict[str, str]
) -> AsyncIterator[bytes]:
    """The payload's bytes; raises :class:`S3Error` when a check fails (at the latest,
    before the final piece is handed on)."""
    checks = _Checks(verified, headers)
    if verified.payload in CHUNKED_MODES:
        declared = headers.get("x-amz-decoded-content-length", "")
        held = b""
        async for piece, trailers in _chunked(receive, verified, checks):
            if piece:
                if held:
                    yield held
                held = piece
                continue
            if declared.isdigit() and int(declared) != checks.size:
                raise S3Error(
                    "IncompleteBody", "x-amz-decoded-content-length is not the decoded size", 400
                )
            checks.finish(trailers)
        if held:
            yield held
        return
    held = b""
    async for chunk in _raw(receive):
        if held:
            yield held
        checks.update(chunk)
        held = chunk
    checks.finish({})
    if held:
        yield held


async def read_all(
    receive: Receive, verified: Verified, headers: dict[str, str], limit: int
) -> bytes:
    """A small body (an XML request), checked, at most ``limit`` bytes."""
    out = bytearray()
    async for piece in payload(receive, verified, headers):
        out += piece
        if len(out) > limit:
            raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
    return bytes(out)
