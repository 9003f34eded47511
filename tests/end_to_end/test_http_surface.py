"""What every HTTP answer carries, against a running ``sartiq-storage serve``: ``Cache-Control:
no-store`` on every JSON answer of every documented operation (the service's OpenAPI and the
lakeFS-compatible API's), success and error alike, while stored objects and the ``/files``
302 keep their own; one access-log line per request with its request id, answered as
``X-Request-ID``."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.interfaces.http.middleware.access_log import loggable_target
from sartiq_storage.interfaces.http.middleware.logs import configure_logging, reset_logging
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.moto_server import free_port
from tests.support.routes import fill
from tests.support.serve_process import Output, get_once_up, serve_process

SECRET = "surface-secret-" + "s" * 40
KEY_ID, KEY_SECRET = "AKIASURFACETEST", "surface-datasets-secret"
CLI = Path(sys.executable).parent / "sartiq-storage"
BODY_METHODS = {"post", "put", "patch"}


def _access_lines(output: Output) -> list[dict[str, Any]]:
    found = []
    for line in output.lines:
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "sartiq_storage.access":
                found.append(record)
    return found


def test_every_json_answer_says_no_store_and_every_request_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("DATASETS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("DATASETS_SECRET_ACCESS_KEY", KEY_SECRET)
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    key = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
    (tmp_path / "file.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    put = subprocess.run(
        [CLI, "put", "file.png", key, "--cache-control", IMMUTABLE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert put.returncode == 0, put.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {issue_token(SECRET, 'alice-h3')}"}
    basic_pair = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    basic = {"Authorization": f"Basic {basic_pair}"}
    with serve_process(tmp_path, port) as proc:
        output = Output(proc)
        assert get_once_up(f"{base}/healthz").status_code == 200
        answers: list[tuple[str, str, httpx.Response]] = []
        with httpx.Client(base_url=base, timeout=30) as client:

            def call(method: str, url: str, **options: Any) -> httpx.Response:
                response = client.request(method, url, **options)
                answers.append((method, url, response))
                return response

            documents = {"": bearer, "/lakefs/api/v1": basic}
            operations = 0
            for prefix, auth in documents.items():
                schema = call("GET", f"{prefix}/openapi.json").json()
                for template, item in schema["paths"].items():
                    for method in item:
                        url = prefix + fill(template)
                        body = {"json": {}} if method in BODY_METHODS else {}
                        for headers in ({}, auth):  # refused, then as a caller
                            call(method.upper(), url, headers=headers, **body)
                        operations += 1
            assert operations >= 70  # both documents were walked
            for url in ("/healthz", "/metrics", "/api/v1/storage/health", "/docs"):
                assert call("GET", url).status_code == 200
            call("POST", "/api/v1/tags/", json={"name": "twice"}, headers=bearer)
            conflict = call("POST", "/api/v1/tags/", json={"name": "twice"}, headers=bearer)
            assert conflict.status_code == 409
            repositories = call("GET", "/lakefs/api/v1/repositories", headers=basic)
            assert repositories.status_code == 200

            # Stored objects and the /files redirect keep the caching chosen for them.
            stored = call("GET", f"/_storage/public/{key}")
            assert stored.status_code == 200
            assert stored.headers["cache-control"] == IMMUTABLE
            redirect = call("GET", f"/files/{key}")
            assert redirect.status_code == 302
            assert redirect.headers["cache-control"] == IMMUTABLE

            # The caller's request id is kept when sane, replaced when not.
            kept = call("GET", "/healthz", headers={"X-Request-ID": "trace-7f3a.b:1"})
            assert kept.headers["x-request-id"] == "trace-7f3a.b:1"
            replaced = call("GET", "/healthz", headers={"X-Request-ID": "no spaces allowed"})
            assert replaced.headers["x-request-id"] not in ("", "no spaces allowed")
            signed = call("GET", f"/_storage/objects/{key}?expires=1&sig=SIGVALUE0123")
            assert signed.status_code == 403

        json_answers = [
            (m, u, r)
            for m, u, r in answers
            if r.headers.get("content-type", "").startswith("application/json")
        ]
        statuses = {r.status_code for _, _, r in json_answers}
        assert {200, 401, 404, 409, 422} <= statuses, statuses  # success and errors alike
        assert any(u.startswith("/lakefs/") and r.is_success for _, u, r in json_answers)
        missing = [
            f"{m} {u} {r.status_code}: {r.headers.get('cache-control')}"
            for m, u, r in json_answers
            if r.headers.get("cache-control") != "no-store"
        ]
        assert missing == []
        assert answers[-1][2].headers["cache-control"] == "no-store"  # the 403's text too

        # One access line per request, tied to its answer by the request id.
        ids = [r.headers["x-request-id"] for _, _, r in answers]
        assert len(set(ids)) == len(ids)
        output.wait_for(lambda line: ids[-1] in line)
        by_id = {line["request_id"]: line for line in _access_lines(output)}
        for method, url, response in answers:
            line = by_id[response.headers["x-request-id"]]
            assert (line["method"], line["status"]) == (method, response.status_code)
            assert line["path"].split("?")[0] == url.split("?")[0]
            assert isinstance(line["duration_ms"], float)
        assert by_id[conflict.headers["x-request-id"]]["sub"] == "alice-h3"
        refused = [r for m, u, r in answers if r.status_code == 401]
        assert refused
        assert by_id[refused[0].headers["x-request-id"]]["sub"] is None
        assert by_id[repositories.headers["x-request-id"]]["sub"] == KEY_ID
        signed_line = by_id[signed.headers["x-request-id"]]
        assert signed_line["path"].endswith("?expires=1&sig=REDACTED")
        assert "SIGVALUE0123" not in "\n".join(output.lines)


def test_a_bug_is_a_json_500_with_its_request_id_and_a_logged_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path / "data", _env_file=None)
    app = create_app(context=build_context(settings, migrate=True))

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.INFO, "sartiq_storage.access"),
    ):
        response = client.get("/api/v1/boom")
        cors = client.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert "X-Request-ID" in cors.headers["access-control-expose-headers"]  # the web app reads it
    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "detail": "internal server error",
        "request_id": response.headers["x-request-id"],
    }
    (record,) = [r for r in caplog.records if r.name == "sartiq_storage.access" and r.levelno > 20]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "secret internals" in str(record.exc_info[1])
    assert record.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


def test_text_log_lines_escape_what_a_path_could_forge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path / "data", _env_file=None, LOG_FORMAT="TEXT")
    configure_logging(settings)
    try:
        app = create_app(context=build_context(settings, migrate=True))
        with TestClient(app) as client:
            client.get("/files/a%0Afake 200 line?X-Amz-Signature=abc&type=webp")
    finally:
        reset_logging()
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "sartiq_storage.access" in x]
    assert " INFO sartiq_storage.access GET /files/a%0Afake%20200%20line?" in line
    assert "X-Amz-Signature=REDACTED&type=webp 422 " in line  # unknown parameter


def test_loggable_target_redacts_signed_url_values() -> None:
    scope = {
        "path": "/x\n",
        "query_string": b"X-Amz-Credential=AKIA&token=t&access_token=a&expires=9&type=png",
    }
    assert loggable_target(scope) == (
        "/x\\x0a?X-Amz-Credential=REDACTED&token=REDACTED&access_token=REDACTED&expires=9&type=png"
    )


def test_a_subject_cannot_write_lines_into_the_access_log(tmp_path: Path) -> None:
    """The caller's ``sub`` ends the text access line: a newline in it (or any control
    character) started a line of its own, one that read as a request that never came."""
    forged = "2026-01-01 00:00:00,000 INFO sartiq_storage.access GET /forged 200"
    token = issue_token(SECRET, f"eve\n{forged}\x1b[2K")
    port = free_port()
    env = {"AUTH_JWT_SECRET": SECRET, "LOG_LEVEL": "INFO", "LOG_FORMAT": "text"}
    with serve_process(tmp_path, port, env=env) as proc:
        output = Output(proc)
        get_once_up(f"http://127.0.0.1:{port}/healthz", attempts=300)
        reply = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/token",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        line = output.wait_for(lambda text: "GET /api/v1/token 200" in text)
        time.sleep(0.3)  # what a newline would have split off comes right after
    assert "sub=eve\\n2026-01-01" in line, line
    assert "\x1b" not in line
    assert not any(text.startswith(forged[:23]) for text in output.lines), output.lines


UNQUOTABLE = [
    ("/api/v1/tags/", '{"name": "\\ud800"}'),
    ("/api/v1/tags/", '{"name": 1e999}'),
    ("/api/v1/tags/", '{"name": "a", "color": NaN}'),
    (
        "/api/v1/media-resources/ingest",
        '{"media": {"media_resource_id": "00000000-0000-0000-0000-000000000001"}, '
        '"entity_type": "A", "entity_id": "00000000-0000-0000-0000-000000000001", '
        '"slot": "A", "position": -Infinity}',
    ),
    ("/api/v1/uploads/presigned-url", '{"filename": "\\udfff.png", "content_type": 1e999}'),
    ("/api/v1/uploads/presigned-url", '{"filename": "a.png", "content_type": "\\ud800"}'),
]


def test_a_value_json_cannot_quote_back_is_a_422_not_a_500(tmp_path: Path) -> None:
    """FastAPI's 422 quotes the rejected value, and a lone surrogate (escaped in valid JSON
    text) or a number out of a float's range cannot be written back: the refusal was a 500."""
    port = free_port()
    token = issue_token(SECRET, "web")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with serve_process(tmp_path, port, env={"AUTH_JWT_SECRET": SECRET}):
        get_once_up(f"http://127.0.0.1:{port}/healthz", attempts=300)
        for path, body in UNQUOTABLE:
            url = f"http://127.0.0.1:{port}{path}"
            reply = httpx.post(url, content=body, headers=headers, timeout=10)
            assert reply.status_code in (400, 422), (path, body, reply.text)
            assert reply.json()["detail"], (path, body)
