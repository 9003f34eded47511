"""A TCP proxy on 127.0.0.1 that counts every byte it relays, each way.

Put in front of ``serve`` for the lakeFS clients: whatever object bytes the API carried would
have to pass it, so its totals bound what the server proxied independently of the server's own
counters. Presigned URLs point at the store (or, on the embedded backend, at the service URL,
not at this proxy), so they bypass it, as they bypass the API.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class ByteProxy:
    url: str
    to_server: int = 0
    to_client: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, upstream: bool, count: int) -> None:
        with self._lock:
            if upstream:
                self.to_server += count
            else:
                self.to_client += count

    @property
    def total(self) -> int:
        with self._lock:
            return self.to_server + self.to_client


def _pump(source: socket.socket, sink: socket.socket, proxy: ByteProxy, upstream: bool) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            proxy.add(upstream, len(chunk))
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(listener: socket.socket, target: tuple[str, int], proxy: ByteProxy) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        server = socket.create_connection(target)
        for source, sink, upstream in ((client, server, True), (server, client, False)):
            threading.Thread(
                target=_pump, args=(source, sink, proxy, upstream), daemon=True
            ).start()


@contextmanager
def byte_proxy(target_host: str, target_port: int) -> Iterator[ByteProxy]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    proxy = ByteProxy(f"http://127.0.0.1:{port}")
    thread = threading.Thread(
        target=_serve, args=(listener, (target_host, target_port), proxy), daemon=True
    )
    thread.start()
    try:
        yield proxy
    finally:
        listener.close()
