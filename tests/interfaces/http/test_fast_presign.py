"""The presign fast path (``fast_presign.py``) answers as the documented route does: the same
status, headers, JSON, request id, access line and recorded intent for its common case, and
every other request handed to the route itself, its body intact."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.middleware.logs import configure_logging, reset_logging
from sartiq_storage.services.context import StorageContext
from tests.support.asgi import Reply, make_app, make_context, request

URL = b"/api/v1/uploads/presigned-url"
SECRET = "hardening-" + "x" * 40  # make_context's
BODY = {"filename": "photo.png", "content_type": "image/png", "size": 12345}
JSON = ("content-type", "application/json")


def _bearer(**claims: Any) -> tuple[str, str]:
    return ("authorization", f"Bearer {issue_token(SECRET, 'alice', **claims)}")


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


# (headers, body); content-length is added as an HTTP/1.1 client would.
CASES: list[tuple[list[tuple[str, str]], bytes]] = [
    ([_bearer(), JSON], _json(BODY)),
    (
        [_bearer(scopes=["uploads"]), ("content-type", "application/json; charset=utf-8")],
        _json(BODY),
    ),
    ([_bearer(), JSON, ("origin", "http://localhost:3000")], _json(BODY)),
    ([_bearer(), JSON, ("origin", "https://elsewhere.example")], _json(BODY)),
    ([_bearer(), JSON, ("x-request-id", "trace-7f3a.b:1")], _json({**BODY, "size": None})),
    ([_bearer(), JSON], _json({"filename": "é ../x.exe", "content_type": "image/jpeg"})),
    ([JSON], _json(BODY)),  # no token
    ([("authorization", "Bearer not-a-jwt"), JSON], _json(BODY)),
    ([("authorization", "Basic YTpi"), JSON], _json(BODY)),
    ([_bearer(scopes=["media:read"]), JSON], _json(BODY)),  # 403
    ([_bearer(), ("content-type", "text/plain")], _json(BODY)),
    ([_bearer(), JSON], b'{"filename": "photo.png",'),  # not JSON
    ([_bearer(), JSON], _json({**BODY, "extra": 1})),  # the model forbids it
    ([_bearer(), JSON], _json({**BODY, "size": 10**12})),  # over the upload limit
    ([_bearer(), JSON], _json({**BODY, "content_type": "text/html"})),
    ([_bearer(), JSON], _json([BODY])),
]
SIGNED = re.compile(r"temp/[0-9a-f]{32}_\d+_|expires=\d+|sig=[0-9a-f]{64}")


@pytest.fixture
def contexts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[StorageContext, StorageContext]:
    for name in ("fast", "routed"):
        (tmp_path / name).mkdir()
    return (
        make_context(monkeypatch, tmp_path / "fast"),
        make_context(monkeypatch, tmp_path / "routed"),
    )


def _intents(context: StorageContext) -> int:
    with context.db.read_connection() as connection:
        count = select(func.count()).select_from(UploadIntent)
        return int(connection.execute(count).scalar_one())


def _answers(context: StorageContext, fast: bool) -> tuple[list[Reply], list[dict[str, Any]]]:
    stream = io.StringIO()
    configure_logging(load_settings(LOG_FORMAT="json", LOG_LEVEL="INFO", _env_file=None), stream)
    try:
        app = make_app(context, fast=fast)
        assert (getattr(app, "fast_presign", None) is not None) is fast

        async def run() -> list[Reply]:
            replies = []
            for headers, body in CASES:
                sent = [*headers, ("content-length", str(len(body)))]
                replies.append(await request(app, "POST", URL, headers=sent, body=body))
            return replies

        replies = asyncio.run(run())
    finally:
        reset_logging()
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    return replies, [x for x in lines if x["logger"] == "sartiq_storage.access"]


def _comparable(reply: Reply) -> tuple[int, dict[bytes, bytes], Any]:
    headers = {n: v for n, v in reply.headers if n != b"x-request-id"}
    body = reply.json()
    if reply.status == 200:
        body = json.loads(SIGNED.sub("…", reply.body.decode()))
        headers.pop(b"content-length")  # the timestamp in the key may gain a digit
    elif isinstance(body, dict):
        body.pop("request_id", None)
    return reply.status, headers, body


def test_fast_answers_are_the_routes_own(contexts: tuple[StorageContext, StorageContext]) -> None:
    fast, fast_lines = _answers(contexts[0], fast=True)
    routed, routed_lines = _answers(contexts[1], fast=False)
    statuses = [r.status for r in fast]
    for case, a, b in zip(CASES, fast, routed, strict=True):
        assert _comparable(a) == _comparable(b), case
        assert len([v for n, v in a.headers if n == b"x-request-id"]) == 1, case
    assert statuses[:6] == [200] * 6
    assert {401, 403, 413, 422} <= set(statuses[6:])
    assert 200 not in statuses[6:]
    assert fast[4].header("x-request-id") == "trace-7f3a.b:1"
    assert fast[2].header("access-control-allow-origin") == "http://localhost:3000"
    assert fast[3].header("access-control-allow-origin") is None
    # One access line per request, with the caller named as the route's layer names it.
    assert len(fast_lines) == len(routed_lines) == len(CASES)
    for line_a, line_b in zip(fast_lines, routed_lines, strict=True):
        for key in ("method", "path", "status", "sub"):
            assert line_a[key] == line_b[key]
    assert fast_lines[0]["sub"] == "alice"
    # An intent for each URL handed out, none for a refusal.
    assert _intents(contexts[0]) == _intents(contexts[1]) == 6


def test_a_failed_intent_write_is_the_routes_answer(
    contexts: tuple[StorageContext, StorageContext],
) -> None:
    """The fast path hands a failed write to the route, which tries again and answers."""
    replies = []
    for context, fast in zip(contexts, (True, False), strict=True):
        with context.db.write_connection() as connection:
            connection.exec_driver_sql("DROP TABLE upload_intents")
        headers = [_bearer(), JSON, ("content-length", str(len(_json(BODY))))]
        app = make_app(context, fast=fast)
        replies.append(asyncio.run(request(app, "POST", URL, headers=headers, body=_json(BODY))))
    assert _comparable(replies[0]) == _comparable(replies[1])
    assert replies[0].status == 503


def test_an_expired_token_is_refused_though_it_was_just_accepted(
    contexts: tuple[StorageContext, StorageContext],
) -> None:
    """Verified tokens are kept a while (``VerifiedTokens``), never past their ``exp``:
    expiry is the only way a token stops being valid, and it is honoured to the second."""
    app = make_app(contexts[0])
    token = issue_token(SECRET, "alice", ttl_seconds=2)
    body = _json(BODY)
    headers = [("authorization", f"Bearer {token}"), JSON, ("content-length", str(len(body)))]

    async def run() -> list[int]:
        first = await request(app, "POST", URL, headers=headers, body=body)
        await asyncio.sleep(2.1)
        second = await request(app, "POST", URL, headers=headers, body=body)
        return [first.status, second.status]

    assert asyncio.run(run()) == [200, 401]


def test_a_body_without_a_declared_length_goes_to_the_route(
    contexts: tuple[StorageContext, StorageContext],
) -> None:
    """Chunked (or an HTTP/2 body without a length): the route and its body gate read it."""
    headers = [_bearer(), JSON, ("transfer-encoding", "chunked")]
    replies = [
        asyncio.run(request(make_app(c, fast=f), "POST", URL, headers=headers, body=_json(BODY)))
        for c, f in zip(contexts, (True, False), strict=True)
    ]
    assert _comparable(replies[0]) == _comparable(replies[1])
    assert replies[0].status == 200
    assert _intents(contexts[0]) == 1
