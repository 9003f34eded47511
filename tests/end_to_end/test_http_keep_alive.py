"""A request refused before its body is read must not spoil the keep-alive connection, against a
running ``sartiq-storage serve`` (granian), at the socket as curl speaks.

curl sends bodies over 1 MB with ``Expect: 100-continue``; answered 401 before it sent the
body, it keeps the connection and sends its next request without the body. The server then
read that next request as the refused one's body and dropped the connection without an answer
(about nine times in ten). The refusal must either say ``Connection: close`` or leave the
connection able to answer the next request."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.moto_server import free_port
from tests.support.raw_http import answer_head
from tests.support.serve_process import get_once_up, serve_process

SECRET = "keep-alive-secret-" + "k" * 40
ATTEMPTS = 20


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder: Path = tmp_path_factory.mktemp("keep-alive")
    chosen = free_port()
    env = {"AUTH_JWT_SECRET": SECRET}
    with serve_process(folder, chosen, env=env):
        assert get_once_up(f"http://127.0.0.1:{chosen}/healthz").status_code == 200
        yield chosen


def _next_answer(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


COMPUTE_ONLY = issue_token(SECRET, "compute", scopes=["compute"])
CASES = {
    "no token": ("POST", "/api/v1/media-resources/ingest", "", 401, 100),
    "no token, large": ("POST", "/api/v1/media-resources/ingest", "", 401, 3_000_000),
    "wrong scope": (
        "POST",
        "/api/v1/media-resources/ingest",
        f"Authorization: Bearer {COMPUTE_ONLY}\r\n",
        403,
        100,
    ),
    "over the JSON limit": (
        "POST",
        "/api/v1/tags/",
        f"Authorization: Bearer {issue_token(SECRET, 'web')}\r\n",
        413,
        3 * 1024 * 1024,
    ),
    "unsigned upload": ("PUT", "/_storage/objects/temp/a_1_b.png", "", 403, 1_500_000),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refusal_before_the_body_leaves_the_connection_usable(port: int, case: str) -> None:
    method, path, extra, status, length = CASES[case]
    for _ in range(ATTEMPTS):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
                "Expect: 100-continue\r\n\r\n".encode()
            )
            head = answer_head(sock)
            assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:200]
            if b"\r\nconnection: close\r\n" in head.lower():
                continue  # the client opens a new connection: nothing is lost
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = _next_answer(sock)
            assert answer.startswith(b"HTTP/1.1 200 "), (head[:300], answer[:200])
