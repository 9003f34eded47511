"""The payload checks on their own: AWS's published aws-chunked example (Signature V4
streaming, "Example: PUT Object" in the S3 API reference), cut and tampered variants, and
the end-of-body comparisons."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from sartiq_storage.interfaces.s3_gateway.body import payload
from sartiq_storage.interfaces.s3_gateway.errors import S3Error
from sartiq_storage.interfaces.s3_gateway.sigv4 import Verified, verify

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNKS = [
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]
HEADERS = {
    "host": "s3.amazonaws.com",
    "x-amz-date": "20130524T000000Z",
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
    "authorization": (
        f"AWS4-HMAC-SHA256 Credential={KEY}/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
    ),
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": "66560",
    "content-length": "66824",
}
NOW = datetime(2013, 5, 24, 0, 1, tzinfo=UTC)


def _body(chunks: Iterable[tuple[int, str]]) -> bytes:
    return b"".join(
        f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n"
        for size, sig in chunks
    )


def _drain(data: bytes, verified: Verified, headers: dict[str, str], piece: int = 7000) -> bytes:
    messages = [
        {"type": "http.request", "body": data[i : i + piece], "more_body": i + piece < len(data)}
        for i in range(0, len(data), piece)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]

    async def run() -> bytes:
        queue = iter(messages)

        async def receive() -> dict[str, Any]:
            return next(queue)

        out = bytearray()
        async for chunk in payload(receive, verified, headers):
            out += chunk
        return bytes(out)

    return asyncio.run(run())


def _verified() -> Verified:
    return verify(
        method="PUT",
        raw_path="/examplebucket/chunkObject.txt",
        query_string=b"",
        headers=HEADERS,
        access_key_id=KEY,
        secret=SECRET,
        now=NOW,
    )


def test_aws_published_streaming_example_verifies_and_decodes() -> None:
    verified = _verified()
    assert verified.seed_signature == SEED
    assert len(_body(CHUNKS)) == 66824
    assert _drain(_body(CHUNKS), verified, HEADERS) == b"a" * 66560


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_body([CHUNKS[0], (1024, "0" * 64), CHUNKS[2]]), "SignatureDoesNotMatch"),
        (_body(CHUNKS[:2]), "IncompleteBody"),
        (_body(CHUNKS).replace(b"a" * 10, b"b" * 10, 1), "SignatureDoesNotMatch"),
        (_body([CHUNKS[1], CHUNKS[0], CHUNKS[2]]), "SignatureDoesNotMatch"),
    ],
    ids=["forged chunk", "cut short", "tampered bytes", "reordered"],
)
def test_tampered_streams_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(S3Error) as refused:
        _drain(body, _verified(), HEADERS)
    assert refused.value.code == code


def test_the_seed_signature_is_checked() -> None:
    headers = {**HEADERS, "x-amz-storage-class": "STANDARD"}
    with pytest.raises(S3Error) as refused:
        verify(
            method="PUT",
            raw_path="/examplebucket/chunkObject.txt",
            query_string=b"",
            headers=headers,
            access_key_id=KEY,
            secret=SECRET,
            now=NOW,
        )
    assert refused.value.code == "SignatureDoesNotMatch"


def _plain(payload_hash: str) -> Verified:
    return Verified(KEY, payload_hash, b"", "", "", "")


def test_declared_sha256_md5_and_crc32_are_compared() -> None:
    data = b"hello gateway" * 1000
    sha = hashlib.sha256(data).hexdigest()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {"content-md5": md5, "x-amz-checksum-crc32": crc}
    assert _drain(data, _plain(sha), headers) == data
    for bad_headers, bad_hash, code in (
        ({}, hashlib.sha256(b"other").hexdigest(), "XAmzContentSHA256Mismatch"),
        ({"content-md5": base64.b64encode(b"x" * 16).decode()}, sha, "BadDigest"),
        ({"x-amz-checksum-crc32": "AAAAAA=="}, "UNSIGNED-PAYLOAD", "BadDigest"),
    ):
        with pytest.raises(S3Error) as refused:
            _drain(data, _plain(bad_hash), bad_headers)
        assert refused.value.code == code


def test_unsigned_trailer_stream_with_crc32() -> None:
    data = b"x" * 5000 + b"y" * 123
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    framed = (
        f"{5000:x}\r\n".encode()
        + data[:5000]
        + b"\r\n"
        + f"{123:x}\r\n".encode()
        + data[5000:]
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    )
    headers = {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": "5123"}
    verified = _plain("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert _drain(framed, verified, headers, piece=333) == data
    with pytest.raises(S3Error) as refused:
        _drain(framed.replace(crc.encode(), b"AAAAAA=="), verified, headers)
    assert refused.value.code == "BadDigest"
