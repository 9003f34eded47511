"""In a real browser, nothing the service serves runs a script: not an SVG, not a polyglot.

Uploads are sniffed, so an SVG or a PNG+HTML polyglot never becomes a media resource; but
bytes can still reach a URL this service answers: an upload under ``temp/`` (the browser
chose its bytes and signed type), a legacy object from before the platform sniffed. Each is
opened in headless Chromium, as a page and inside an ``<img>``; the script in it would change
the page title and log to the console. Neither may happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.moto_server import free_port
from tests.support.browser import chromium
from tests.support.live_server import live_server

MARK = "SCRIPT-RAN"
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" '
    f"onload=\"document.title='{MARK}';console.log('{MARK}')\">"
    f"<script>document.title='{MARK}';console.log('{MARK}')</script>"
    '<rect width="40" height="40" fill="red"/></svg>'
).encode()
POLYGLOT = (
    b"\x89PNG\r\n\x1a\n"
    + f"<html><body><script>document.title='{MARK}';console.log('{MARK}')</script>".encode()
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StorageContext]]:
    data = tmp_path_factory.mktemp("scripts")
    port = free_port()
    settings = load_settings(
        _env_file=None,
        STORAGE_BACKEND="local",
        STORAGE_DATA_DIR=data,
        STORAGE_SERVICE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=f"sqlite:///{data / 'db.sqlite'}",
        AUTH_JWT_SECRET="browser-scripts-secret-0123456789abcdef",
        CDN_URL=None,
        R2_ENDPOINT_URL=None,
    )
    context = build_context(settings, migrate=True)
    with live_server(create_app(context=context), port) as base:
        yield base, context
    context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _cases(context: StorageContext) -> list[tuple[str, str]]:
    """(name, URL) of each hostile object, stored as it could be."""
    name = uuid.uuid4().hex
    objects = {
        "svg-legacy": (f"images/products/{name}/evil.svg", SVG, "image/svg+xml"),
        "svg-temp": (f"temp/{name}_1706000000_evil.png", SVG, "image/png"),
        "polyglot-temp": (f"temp/{name}_1706000000_poly.png", POLYGLOT, "image/png"),
        "polyglot-legacy": (f"images/products/{name}/poly.png", POLYGLOT, "text/html"),
    }
    cases = []
    for case, (key, data, content_type) in objects.items():
        context.store.put(key, data, content_type=content_type)
        cases.append((f"{case} (public URL)", context.urls.public_url(key)))
        if not key.startswith("temp/"):
            cases.append(
                (f"{case} (/files)", f"{context.settings.STORAGE_SERVICE_URL}/files/{key}")
            )
    return cases


def test_no_served_object_runs_a_script(
    served: tuple[str, StorageContext], browser: Browser, tmp_path: Path
) -> None:
    base, context = served
    ran: list[str] = []
    page = browser.new_page()
    page.on("console", lambda message: ran.append(message.text) if MARK in message.text else None)
    downloaded: set[str] = set()
    for name, url in _cases(context):
        try:
            response = page.goto(url)
        except PlaywrightError as exc:  # an attachment: saved, never rendered
            if "Download is starting" not in str(exc):
                raise
            downloaded.add(name.split(" ")[0])
        else:
            assert response is not None
            page.wait_for_timeout(150)
            assert page.title() != MARK, f"{name}: the script ran as a page"
            assert response.headers.get("x-content-type-options") == "nosniff", name
        # And as an image in a page of the service's own origin.
        page.goto(f"{base}/healthz")
        page.set_content(f'<img src="{url}">')
        page.wait_for_timeout(150)
        assert page.title() != MARK, f"{name}: the script ran inside <img>"
    assert ran == []
    assert downloaded == {"svg-legacy", "polyglot-legacy"}  # stored as SVG and as HTML
    page.close()
