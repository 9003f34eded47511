"""The console's files: served with their security headers, and shipped in the package."""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import httpx
import pytest
from fastapi.testclient import TestClient

from sartiq_storage.core.config import MAX_UPLOAD_BYTES, load_settings
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.interfaces.web import CONTENT_SECURITY_POLICY, STATIC_DIR
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import get_once_up, serve_process

ROOT = Path(__file__).parents[3]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    context = build_context(load_settings(), migrate=True)
    with TestClient(create_app(context=context)) as client:
        yield client
    context.close()


def test_console_is_served_with_security_headers(client: TestClient) -> None:
    bare = client.get("/console", follow_redirects=False)
    assert bare.status_code == 308
    assert bare.headers["location"] == "console/"  # relative: works behind a path prefix
    page = client.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="console.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["etag"]
    script = client.get("/console/console.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/console/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/console/favicon.svg").status_code == 200
    assert client.get("/console/nothing-here.js").status_code == 404


def test_every_console_module_is_served_as_javascript(client: TestClient) -> None:
    """The console is ES modules with no build step: each ``import`` of each module names a
    file in ``static/``, served with a JavaScript type (browsers refuse a module script
    otherwise) and the same security headers as the page, and no module is left unused."""
    seen: set[str] = set()
    pending = ["console.js"]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = client.get(f"/console/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.text == (STATIC_DIR / name).read_text("utf-8")
        for target in re.findall(r'^import [^;]*? from "\./([\w-]+\.js)";$', response.text, re.M):
            pending.append(target)
    assert seen == {path.name for path in STATIC_DIR.glob("*.js")}
    assert {
        "api.js",
        "upload.js",
        "upload-parts.js",
        "media.js",
        "operations.js",
        "datasets.js",
    } <= seen


def test_console_config_names_the_upload_rules(client: TestClient) -> None:
    config = client.get("/console/config.json").json()
    assert config["max_file_size"] == MAX_UPLOAD_BYTES
    assert config["accepted_types"]["image/jpeg"] == {"extension": "jpg", "resource_type": "IMAGE"}
    assert config["accepted_types"]["video/mp4"]["resource_type"] == "VIDEO"
    assert "text/plain" not in config["accepted_types"]
    assert config["multipart_threshold"] == 64 * 1024 * 1024  # STORAGE_MULTIPART_THRESHOLD_BYTES
    assert config["max_video_size"] == 5 * 1024**3  # STORAGE_MAX_VIDEO_UPLOAD_BYTES


def test_console_is_not_in_the_compute_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    context = build_context(load_settings(), migrate=True)
    with TestClient(create_app(context=context, apps=("compute",))) as client:
        assert client.get("/console/").status_code == 404
    context.close()


def _ships(path: PurePosixPath, pattern: PurePosixPath) -> bool:
    # setuptools globs like pathlib: `*` never crosses a `/`.
    return len(path.parts) == len(pattern.parts) and path.match(str(pattern))


def test_every_data_file_is_package_data() -> None:
    """A normal (non-editable) install ships only what pyproject's package-data lists: the
    console's files, and every other file that is not Python, must be listed there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]
    patterns = [
        PurePosixPath(package.replace(".", "/")) / pattern
        for package, globs in package_data.items()
        for pattern in globs
    ]
    src = STATIC_DIR.parents[3]
    files = [
        PurePosixPath(p.relative_to(src).as_posix())
        for p in (src / "sartiq_storage").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    names = {f.as_posix() for f in files}
    assert "sartiq_storage/interfaces/web/static/console.js" in names
    assert "sartiq_storage/interfaces/web/static/index.html" in names
    unshipped = [f.as_posix() for f in files if not any(_ships(f, p) for p in patterns)]
    assert unshipped == []


def test_serve_prints_a_console_link_that_signs_in(tmp_path: Path) -> None:
    port = free_port()
    with serve_process(tmp_path, port) as proc:
        assert proc.stdout is not None
        link = ""
        deadline = time.monotonic() + 30
        while not link and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("console: "):
                link = line.removeprefix("console: ").strip()
        page, _, token = link.partition("#token=")
        assert page == f"http://127.0.0.1:{port}/console/"
        assert get_once_up(page).status_code == 200
        signed_in = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/media-resources",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert signed_in.status_code == 200
