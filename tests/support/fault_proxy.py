"""An HTTP proxy on 127.0.0.1 that injects S3 faults in front of moto's server.

``decide(method, path, count)`` returns None to forward the request, or a fault name:
``"503"`` (SlowDown), ``"500"`` (InternalError) or ``"reset"`` (close without answering).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Decide = Callable[[str, str, int], str | None]

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


class FaultProxy:
    def __init__(self, upstream: str, decide: Decide) -> None:
        self.upstream = upstream
        self.decide = decide
        self.count = 0
        self.faults = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=30)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.count += 1
                    number = proxy.count
                fault = proxy.decide(self.command, self.path, number)
                if fault is not None:
                    with proxy._lock:
                        proxy.faults += 1
                if fault == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault in _BODIES:
                    status, payload = _BODIES[fault]
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = proxy._client.request(
                    self.command, self.path, content=body, headers=headers
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(name, value)
                content = answer.content
                if self.command == "HEAD":  # a HEAD answer states the object's length
                    length_header = answer.headers.get("content-length", "0")
                else:
                    length_header = str(len(content))
                self.send_header("Content-Length", length_header)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler


@contextmanager
def fault_proxy(upstream: str, decide: Decide) -> Iterator[tuple[str, FaultProxy]]:
    proxy = FaultProxy(upstream, decide)
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
