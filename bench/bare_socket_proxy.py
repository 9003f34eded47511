"""``bench/bare_proxy.py`` with the store's body read from a plain socket instead of obstore:
what a Python proxy's floor would be with a leaner HTTP client than obstore's.

A probe, not a design: plain HTTP only (the bench's moto), no retries, no resumption, any
answer but a 200 with a Content-Length refused. The request is obstore's presigned URL;
the body arrives by ``loop.sock_recv`` (the kernel copies straight into the ``bytes`` granian
is given: obstore instead zero-fills, copies and hands over each chunk from a thread pool),
with ``SO_RCVLOWAT`` so the loop wakes once per 256 KiB rather than per segment. Run as a
fourth side of ``bench_s3_gateway``'s GET case with ``BENCH_S3_GATEWAY_SOCKET_FLOOR=1``.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import obstore

from bench.bare_proxy import STORE  # the same store, the same settings

CHUNK = 1024 * 1024
WAKE = 256 * 1024


async def _open(key: str) -> tuple[socket.socket, int, bytes]:
    """A connection answering GET of ``key``: (socket, body size, body bytes already read)."""
    url = urlsplit(await obstore.sign_async(STORE, "GET", key, timedelta(minutes=5)))
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, (url.hostname or "127.0.0.1", url.port or 80))
    request = f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    received = b""
    while b"\r\n\r\n" not in received:
        more = await loop.sock_recv(sock, 65536)
        if not more:
            raise ConnectionError("the store closed the connection")
        received += more
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if lines[0].split()[1] != "200" or "content-length" not in fields:
        sock.close()
        raise ConnectionError(f"the store answered {lines[0]!r}")
    return sock, int(fields["content-length"]), rest


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    key = scope["path"].lstrip("/").partition("/")[2]  # bucket: ignored
    if not key:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    sock, size, first = await _open(key)
    loop = asyncio.get_running_loop()
    headers = [(b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    try:
        if first:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        sent = len(first)
        while sent < size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, min(WAKE, size - sent))
            chunk = await loop.sock_recv(sock, min(CHUNK, size - sent))
            if not chunk:
                raise ConnectionError("the store's body was cut")
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        sock.close()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
