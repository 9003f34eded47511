"""HTTP read off a plain socket, for tests that must see what a server sends and when."""

from __future__ import annotations

import socket


def answer_head(sock: socket.socket) -> bytes:
    """The answer's status line and headers, and what of its body came with them; less if
    the server closes first (the socket's timeout bounds the wait)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
