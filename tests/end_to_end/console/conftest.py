"""The console's browser tests: real headless Chromium (Debian's) driven by Playwright.

One Chromium per test module, one live service per backend (the embedded store, and each
selected S3 server, moto and SeaweedFS, with CORS written by the project's own
``lifecycle apply`` code). Chromium missing is a
failure, never a skip: ``./run test`` installs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services import lifecycle
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, free_port, make_bucket
from tests.support.artifacts import CONSOLE_SCREENSHOTS
from tests.support.browser import chromium
from tests.support.buckets import public_read
from tests.support.live_server import live_server
from tests.support.s3_servers import S3Server, selected_servers

ARTIFACTS = CONSOLE_SCREENSHOTS
"""Screenshots of every step (gitignored); the run's summary prints where."""
JWT_SECRET = "console-tests-jwt-secret-0123456789abcdef"
DATASETS_KEY = "AKIACONSOLETESTS0001"
DATASETS_SECRET = "console-tests-datasets-secret-0123456789"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@dataclass
class Service:
    backend: str
    base: str
    context: StorageContext
    token: str = field(init=False)

    def __post_init__(self) -> None:
        self.token = issue_token(JWT_SECRET, "console-tests")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _settings(data: Path, port: int, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "_env_file": None,  # never the developer's .env
        "ENVIRONMENT": "development",
        "STORAGE_BACKEND": "local",
        "STORAGE_DATA_DIR": data,
        "STORAGE_SERVICE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{data / 'storage.db'}",
        "AUTH_JWT_SECRET": JWT_SECRET,
        "DATASETS_ACCESS_KEY_ID": DATASETS_KEY,
        "DATASETS_SECRET_ACCESS_KEY": DATASETS_SECRET,
        "LAKEFS_ENDPOINT": None,
        "CDN_URL": None,
        "R2_ENDPOINT_URL": None,
        "R2_ACCESS_KEY_ID": None,
        "R2_SECRET_ACCESS_KEY": None,
        "WEB_APP_ORIGINS": ["http://localhost:3000"],
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="module", params=["embedded", *selected_servers()])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A live service on the embedded store, then on each selected S3 server."""
    data = tmp_path_factory.mktemp(f"console-{request.param}")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    if request.param != "embedded":
        server = S3Server(request.param, request.getfixturevalue(f"{request.param}_endpoint"))
        bucket = make_bucket(server.endpoint)
        # `mc anonymous set download`
        public_read(server.endpoint, bucket, TEST_KEY_ID, TEST_SECRET)
        settings = _settings(
            data,
            port,
            STORAGE_BACKEND="s3",
            **server.settings(bucket),
            WEB_APP_ORIGINS=["http://localhost:3000", origin],
        )
    else:
        settings = _settings(data, port)
    context = build_context(settings, migrate=True)
    if request.param != "embedded":
        # The bucket's CORS (and lifecycle) rules, as `sartiq-storage lifecycle apply` writes them.
        applied = lifecycle.apply(context.store, policy_for(settings), settings.WEB_APP_ORIGINS)
        assert applied.cors_written
        assert applied.in_sync
    with live_server(create_app(context=context), port) as base:
        yield Service(request.param, base, context)
    context.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live service on the embedded store alone (layout, operations and datasets)."""
    data = tmp_path_factory.mktemp("console-embedded")
    port = free_port()
    context = build_context(_settings(data, port), migrate=True)
    with live_server(create_app(context=context), port) as base:
        yield Service("embedded", base, context)
    context.close()


@dataclass
class ConsolePage:
    """A page on the console, with every console error and page error it raised."""

    page: Page
    name: str
    errors: list[str] = field(default_factory=list)

    def shot(self, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_no_errors(self) -> None:
        assert self.errors == [], "\n".join(self.errors)

    def sign_in(self, token: str) -> None:
        self.page.fill("#token-input", token)
        self.page.click("#signin-button")
        self.page.wait_for_selector("#app:not([hidden])")

    def go(self, view: str) -> None:
        self.page.click(f'.tabs a[data-tab="{view}"]')
        self.page.wait_for_selector(f"#view-{view}:not([hidden])")

    def no_horizontal_overflow(self) -> None:
        widths = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal overflow: {widths[0]} > {widths[1]} px"


@pytest.fixture
def open_console(browser: Browser) -> Iterator[Any]:
    """``open_console(service, name, viewport, path)``: a fresh browser context on the page."""
    contexts = []

    def opener(
        service: Service, name: str, viewport: dict[str, int] = DESKTOP, path: str = "/console"
    ) -> ConsolePage:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        console = ConsolePage(page, name)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                console.errors.append(f"console error: {message.text} ({message.location})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
        page.goto(service.base + path)
        return console

    yield opener
    for context in contexts:
        context.close()


def upload_through_api(service: Service, data: bytes, filename: str, entity: uuid.UUID) -> dict:  # type: ignore[type-arg]
    """Presign, PUT and ingest as the web app does (to seed pages without clicking)."""
    with httpx.Client(base_url=service.base, headers=service.auth, timeout=30) as api:
        presigned = api.post(
            "/api/v1/uploads/presigned-url",
            json={"filename": filename, "content_type": "image/png", "size": len(data)},
        ).json()
        put = httpx.put(presigned["upload_url"], content=data, headers=presigned["upload_headers"])
        assert put.status_code == 200, put.text
        ingested = api.post(
            "/api/v1/media-resources/ingest",
            json={
                "media": {"url": presigned["file_url"]},
                "entity_type": "LOOK",
                "entity_id": str(entity),
                "slot": "gallery",
                "position": 0,
            },
        )
        assert ingested.status_code == 201, ingested.text
        return ingested.json()  # type: ignore[no-any-return]
