"""An HTTP proxy on 127.0.0.1 that injects S3 faults in front of a test S3 server.

It forwards each request as the client signed it, ``Host`` included (Signature V4 covers it,
and a strict server such as SeaweedFS checks it); what it sends on its own (the HEADs of
``conditional_copy``, a ``DeleteObjects`` whose body it rebuilt) it signs with the tests'
credentials.

``decide(method, path, count)`` returns None to forward the request, or a fault name:

* ``"503"``: a ``SlowDown`` error answer (S3's throttling), the request never forwarded;
* ``"500"``: an ``InternalError`` answer, never forwarded;
* ``"reset"``: the connection is reset (RST) mid-request, after at most half the body was read;
  nothing is forwarded;
* ``"timeout"``: the request is read, then held for ``stall`` seconds (longer than the client's
  read timeout) and the connection closed; nothing is forwarded;
* ``"lost"``: applied but lost. The request is forwarded and the server applies it, then the
  connection is reset instead of answering: the client cannot tell it from a failure;
* ``"truncate"``: forwarded and answered, but the answer's body is cut after half its
  declared length and the connection reset (a read must fail, never return short bytes).

:class:`FaultPlan` is a seeded ``decide``: the same seed gives the same faults on the same
request sequence. ``delete_errors`` makes a ``DeleteObjects`` call fail for chosen keys the way
S3 does: HTTP 200 with a per-key ``<Error>`` entry, those keys left in place.
``conditional_copy`` answers CopyObject's create-only headers the way S3 (``If-None-Match: *``)
and R2 (``cf-copy-destination-if-none-match: *``) do, which moto does not (and SeaweedFS
does for the first only): 412 when the destination exists (checked with a HEAD, so only sound
for one client at a time). It also answers ``x-amz-copy-source-if-match`` as both do (moto
ignores it; SeaweedFS honours it, and checks again behind the proxy): 412 when the source's
ETag is another.
"""

from __future__ import annotations

import base64
import hashlib
import random
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, moto_client

Decide = Callable[[str, str, int], str | None]
DeleteErrors = Callable[[str], str | None]
"""Key → the error code a ``DeleteObjects`` reports for it, or None to delete it."""

FAULT_KINDS = ("500", "503", "reset", "timeout", "lost", "truncate")

_BODIES = {
    "503": (
        503,
        b"<Error><Code>SlowDown</Code><Message>Reduce your rate.</Message></Error>",
    ),
    "500": (
        500,
        b"<Error><Code>InternalError</Code><Message>Internal error.</Message></Error>",
    ),
}
_XML = {"Content-Type": "application/xml"}
_PRECONDITION = (
    b"<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you "
    b"specified did not hold</Message></Error>"
)
_HOP_BY_HOP = ("content-length", "transfer-encoding", "connection", "content-encoding")
_RESIGNED = (
    "host",
    "content-length",
    "content-md5",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-content-sha256",
    "x-amz-date",
    "authorization",
)
"""What a rebuilt body invalidates: its digests, length and the signature over them."""


class FaultPlan:
    """A seeded ``decide``: request ``n`` gets a fault with probability ``rate``.

    The draw for request ``n`` depends only on ``(seed, n)``, so one sequential client sees
    the same faults on every run. ``kinds`` weights the fault kinds; ``enabled`` switches
    all faults off (and on again) mid-run.
    """

    def __init__(
        self,
        rate: float,
        seed: int,
        kinds: Mapping[str, float] | None = None,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within [0, 1]")
        weights = dict(kinds) if kinds is not None else dict.fromkeys(FAULT_KINDS, 1.0)
        unknown = set(weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.rate = rate
        self.seed = seed
        self.kinds = [k for k, w in weights.items() if w > 0]
        self.weights = [weights[k] for k in self.kinds]
        self.enabled = True

    def __call__(self, method: str, path: str, n: int) -> str | None:
        if not self.enabled or not self.kinds:
            return None
        rng = random.Random(f"{self.seed}:{n}")
        if rng.random() >= self.rate:
            return None
        return rng.choices(self.kinds, self.weights)[0]


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        decide: Decide,
        *,
        stall: float = 2.0,
        delete_errors: DeleteErrors | None = None,
        conditional_copy: bool = False,
    ) -> None:
        self.upstream = upstream
        self.conditional_copy = conditional_copy
        self.decide = decide
        self.stall = stall
        self.delete_errors = delete_errors
        self.count = 0
        self.faults = 0
        self.by_kind: Counter[str] = Counter()
        self.retries = 0
        """Requests repeating the faulted request just before them (one sequential client)."""
        self.delete_errors_sent: list[str] = []
        self.history: deque[str] = deque(maxlen=12)
        """The latest requests with their faults, for failure messages."""
        self._last_faulted: str | None = None
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=60)
        self._s3: Any = None

    def _etag(self, bucket: str, key: str) -> str | None:
        """A HEAD straight to the server, signed with the tests' credentials: the ETag,
        unquoted, or None when there is no such object."""
        if self._s3 is None:
            self._s3 = moto_client(self.upstream, TEST_KEY_ID, TEST_SECRET)
        try:
            return str(self._s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
        except ClientError:
            return None

    def _exists(self, bucket: str, key: str) -> bool:
        return self._etag(bucket, key) is not None

    def _next(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def _note(self, signature: str, fault: str | None) -> None:
        """Count a fault, and a retry when this request repeats the last faulted one."""
        with self._lock:
            last = self._last_faulted
            if last is not None and (signature == last or signature.startswith(last)):
                self.retries += 1
            self._last_faulted = signature if fault is not None else None
            self.history.append(f"#{self.count} {signature[:120]} -> {fault or 'forwarded'}")
            if fault is not None:
                self.faults += 1
                self.by_kind[fault] += 1

    def _delete_objects(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Forward a DeleteObjects without the keys chosen to fail; report those as errors."""
        assert self.delete_errors is not None
        root = ET.fromstring(body)
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        failing: list[tuple[str, str]] = []
        kept: list[str] = []
        for obj in root.findall(f"{ns}Object"):
            key = obj.findtext(f"{ns}Key") or ""
            code = self.delete_errors(key)
            if code is None:
                kept.append(key)
            else:
                failing.append((key, code))
        quiet = (root.findtext(f"{ns}Quiet") or "false").strip().lower()
        with self._lock:
            self.delete_errors_sent += [key for key, _ in failing]
        errors = "".join(
            f"<Error><Key>{escape(key)}</Key><Code>{code}</Code>"
            f"<Message>injected per-key failure</Message></Error>"
            for key, code in failing
        )
        if not kept:
            doc = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{errors}'
                "</DeleteResult>"
            ).encode()
            return 200, {"Content-Type": "application/xml"}, doc
        rebuilt = (
            '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            + "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in kept)
            + f"<Quiet>{quiet}</Quiet></Delete>"
        ).encode()
        answer = self._client.request(
            "POST", path, content=rebuilt, headers=self._resign("POST", path, rebuilt, headers)
        )
        content = answer.content
        if answer.status_code == 200 and errors:
            marker = b"</DeleteResult>"
            content = content.replace(marker, errors.encode() + marker)
        return answer.status_code, dict(answer.headers), content

    def _resign(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """``headers`` for a body the proxy rebuilt: the old body's digests and signature
        dropped, a Content-MD5 (DeleteObjects needs one) added, signed anew with the tests'
        credentials for the upstream host."""
        kept = {
            k: v
            for k, v in headers.items()
            if k.lower() not in _RESIGNED and not k.lower().startswith("x-amz-checksum-")
        }
        md5 = hashlib.md5(body, usedforsecurity=False).digest()
        kept["Content-MD5"] = base64.b64encode(md5).decode()
        request = AWSRequest(method=method, url=self.upstream + path, data=body, headers=kept)
        S3SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "s3", "us-east-1").add_auth(request)
        return dict(request.headers.items())

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reset(self) -> None:
                """Close with an RST, as a crashed peer or a middlebox would."""
                self.close_connection = True
                with suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                self.connection.close()

            def _answer(
                self, status: int, headers: Mapping[str, str], content: bytes, cut: int = -1
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                if self.command == "HEAD":  # a HEAD answer states the object's length
                    length = {k.lower(): v for k, v in headers.items()}.get("content-length", "0")
                else:
                    length = str(len(content))
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content if cut < 0 else content[:cut])
                    self.wfile.flush()

            def _handle(self) -> None:
                try:
                    self._proxy()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up first
                    self.close_connection = True

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fault = proxy.decide(self.command, self.path, proxy._next())
                if fault == "reset":  # mid-request: part of the body read, then RST
                    if length:
                        self.rfile.read(length // 2)
                    proxy._note(f"{self.command} {self.path} ", fault)
                    self._reset()
                    return
                body = self.rfile.read(length) if length else b""
                digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
                proxy._note(f"{self.command} {self.path} {digest}", fault)
                if fault == "timeout":
                    time.sleep(proxy.stall)
                    self._reset()
                    return
                if fault in _BODIES:
                    status, payload = _BODIES[fault]
                    self._answer(status, {"Content-Type": "application/xml"}, payload)
                    return
                # Host as the client sent it: Signature V4 covers it.
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                if self._copy_refused(headers):
                    status, answer_headers, content = 412, _XML, _PRECONDITION
                elif self.command == "POST" and "delete" in query and proxy.delete_errors:
                    status, answer_headers, content = proxy._delete_objects(
                        self.path, body, headers
                    )
                else:
                    answer = proxy._client.request(
                        self.command, self.path, content=body, headers=headers
                    )
                    status, answer_headers, content = (
                        answer.status_code,
                        dict(answer.headers),
                        answer.content,
                    )
                if fault == "lost":  # the server applied it; the client never hears so
                    self._reset()
                    return
                if fault == "truncate" and self.command != "HEAD" and len(content) > 1:
                    self._answer(status, answer_headers, content, cut=len(content) // 2)
                    self._reset()
                    return
                self._answer(status, answer_headers, content)

            def _copy_refused(self, headers: Mapping[str, str]) -> bool:
                if not (proxy.conditional_copy and self.command == "PUT"):
                    return False
                lower = {k.lower(): v for k, v in headers.items()}
                if "x-amz-copy-source" not in lower:
                    return False
                pinned = lower.get("x-amz-copy-source-if-match")
                if pinned is not None:
                    source = unquote(lower["x-amz-copy-source"]).lstrip("/").split("?")[0]
                    source_bucket, _, source_key = source.partition("/")
                    if proxy._etag(source_bucket, source_key) != pinned.strip('"'):
                        return True
                create_only = "*" in (
                    lower.get("if-none-match"),
                    lower.get("cf-copy-destination-if-none-match"),
                )
                if not create_only:
                    return False
                bucket, _, key = unquote(urlsplit(self.path).path).lstrip("/").partition("/")
                return proxy._exists(bucket, key)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler


@contextmanager
def fault_proxy(
    upstream: str,
    decide: Decide,
    *,
    stall: float = 2.0,
    delete_errors: DeleteErrors | None = None,
    conditional_copy: bool = False,
) -> Iterator[tuple[str, FaultProxy]]:
    proxy = FaultProxy(
        upstream,
        decide,
        stall=stall,
        delete_errors=delete_errors,
        conditional_copy=conditional_copy,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        server.shutdown()
        server.server_close()
        proxy._client.close()
