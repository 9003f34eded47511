"""Writes beside deletes on the embedded store, against ``serve``: never a 5xx.

Deleting the last object of a folder prunes the folder (and its empty parents). A write
that had just made that folder then moved its file into nothing: ``FileNotFoundError``, a
500 on an upload PUT, a compute POST or an ingest's copy. Four clients each writing and
deleting their own keys under one folder met it about once a second.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import get_once_up, serve_process

SECRET = "folder-race-" + "f" * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 32
SECONDS = 6.0


def test_writes_beside_deletes_in_one_folder_never_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1/storage/images"
    auth = {"Authorization": f"Bearer {issue_token(SECRET, 'race')}"}
    answers: Counter[int] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + SECONDS

    def client(n: int) -> None:
        with httpx.Client(timeout=30, headers=auth) as http:
            while time.monotonic() < deadline and not failures:
                path = f"race/{n}-{uuid.uuid4().hex}.png"
                put = http.post(f"{base}/{path}", files={"file": ("a.png", PNG, "image/png")})
                gone = http.delete(f"{base}/{path}")
                answers.update((put.status_code, gone.status_code))
                if (put.status_code, gone.status_code) != (201, 204):
                    failures.append(f"{put.status_code} {put.text[:200]} / {gone.status_code}")

    with serve_process(tmp_path, port):
        get_once_up(f"http://127.0.0.1:{port}/api/v1/storage/health", attempts=200)
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    assert not failures, failures[:3]
    assert answers[201] > 50, answers
