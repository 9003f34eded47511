"""The ``/files`` fast path skips the ASGI layers and does their work itself
(``FastFiles.logged``): its answers must be what the layers give the documented route, the
request id, ``no-store`` on errors, the 302's own Cache-Control and one access line each."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.http.middleware.logs import configure_logging, reset_logging
from sartiq_storage.services.context import StorageContext
from tests.support.asgi import Reply, make_app, make_context, request

KEY = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
CASES: list[tuple[str, bytes, list[tuple[str, str]]]] = [
    ("GET", f"/files/{KEY}".encode(), []),
    ("GET", f"/files/{KEY}?type=webp".encode(), []),
    ("GET", f"/files/{KEY}?type=auto".encode(), [("accept", "image/webp")]),
    ("GET", f"/files/{KEY}".encode(), [("x-request-id", "trace-7f3a.b:1")]),
    ("GET", f"/files/{KEY}".encode(), [("x-request-id", "no spaces allowed")]),
    ("GET", b"/files/a/../b.png", [("origin", "http://localhost:3000")]),
    ("GET", f"/files/{KEY}?type=gif".encode(), []),
    ("GET", f"/files/{KEY}?X-Amz-Signature=abc&token=t".encode(), []),
    ("GET", b"/files/temp/0_0_photo.png", []),
]


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    return make_context(monkeypatch, tmp_path)


def _ids(reply: Reply) -> list[bytes]:
    return [v for n, v in reply.headers if n == b"x-request-id"]


def _answers(context: StorageContext, fast: bool, fmt: str, level: str) -> tuple[list[Reply], str]:
    stream = io.StringIO()
    configure_logging(load_settings(LOG_FORMAT=fmt, LOG_LEVEL=level, _env_file=None), stream)
    try:
        app = make_app(context, fast=fast)

        async def run() -> list[Reply]:
            return [await request(app, m, t, headers=h) for m, t, h in CASES]

        return asyncio.run(run()), stream.getvalue()
    finally:
        reset_logging()


def _same_but_id(line: dict[str, Any], rid: str) -> dict[str, Any]:
    assert line.pop("request_id") == rid
    assert isinstance(line.pop("duration_ms"), float)
    line.pop("time")
    return {**line, "message": line["message"].split(" ")[:3]}


def test_fast_answers_and_lines_are_the_layers_own(context: StorageContext) -> None:
    fast, fast_log = _answers(context, True, "json", "INFO")
    routed, routed_log = _answers(context, False, "json", "INFO")
    fast_lines = [json.loads(x) for x in fast_log.splitlines()]
    routed_lines = [json.loads(x) for x in routed_log.splitlines()]
    assert len(fast_lines) == len(routed_lines) == len(CASES)  # exactly one line each
    statuses = set()
    rows = zip(CASES, fast, routed, fast_lines, routed_lines, strict=True)
    for case, a, b, line_a, line_b in rows:
        statuses.add(a.status)
        assert a.status == b.status, case
        assert len(_ids(a)) == len(_ids(b)) == 1, case
        for name in ("cache-control", "location", "vary", "access-control-allow-origin"):
            assert a.header(name) == b.header(name), (case, name)
        rid_a, rid_b = (r.header("x-request-id") for r in (a, b))
        assert rid_a
        assert rid_b
        assert _same_but_id(line_a, rid_a) == _same_but_id(line_b, rid_b), case
    assert {302, 400, 404, 422} <= statuses
    assert fast[0].header("cache-control") == "public, max-age=31536000, immutable"
    assert fast[5].header("cache-control") == "no-store"  # an error chooses no caching
    assert fast[3].header("x-request-id") == "trace-7f3a.b:1"  # a sane id is the caller's
    assert fast[4].header("x-request-id") != "no spaces allowed"
    assert "abc" not in fast_log
    assert "X-Amz-Signature=REDACTED&token=REDACTED" in fast_log


def test_fast_text_lines_and_quiet_levels(context: StorageContext) -> None:
    fast, text = _answers(context, True, "text", "INFO")
    lines = text.splitlines()
    assert len(lines) == len(CASES)
    for reply, line in zip(fast, lines, strict=True):
        assert " INFO sartiq_storage.access " in line
        assert f"request_id={reply.header('x-request-id')} sub=-" in line
    assert f" GET /files/{KEY} 302 " in lines[0]
    quiet, nothing = _answers(context, True, "text", "WARNING")
    assert nothing == ""  # WARNING drops the lines of answered requests
    assert all(len(_ids(reply)) == 1 for reply in quiet)  # the ids stay


def test_fast_lines_go_through_logging_when_it_is_not_ours(
    context: StorageContext, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(context)
    with caplog.at_level(logging.INFO, "sartiq_storage.access"):
        reply = asyncio.run(request(app, "GET", f"/files/{KEY}".encode()))
    (record,) = [r for r in caplog.records if r.name == "sartiq_storage.access"]
    assert record.request_id == reply.header("x-request-id")  # type: ignore[attr-defined]
    assert record.status == 302  # type: ignore[attr-defined]
    assert record.duration_ms == round(record.duration_ms, 2)  # type: ignore[attr-defined]


def test_kept_redirects_answer_as_the_first_and_refusals_are_never_kept(
    context: StorageContext,
) -> None:
    app = make_app(context)
    targets = [f"/files/{KEY}", f"/files/{KEY}?type=webp", "/files/a/../b.png", "/files/temp/x.png"]

    async def run() -> list[Reply]:
        return [await request(app, "GET", t.encode()) for t in targets * 3]

    replies = asyncio.run(run())
    answers = [(r.status, r.header("location"), r.header("cache-control")) for r in replies]
    assert [a[0] for a in answers[:4]] == [302, 302, 400, 404]
    assert answers[:4] == answers[4:8] == answers[8:]
