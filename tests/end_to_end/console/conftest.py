"""The console's browser tests: real headless Chromium (Debian's) driven by Playwright.

One Chromium per test module, one live service per backend (the embedded store, and each
selected S3 server, moto and SeaweedFS, with CORS written by the project's own
``lifecycle apply`` code). Chromium missing is a
failure, never a skip: ``./run test`` installs it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from playwright.sync_api import Browser, ConsoleMessage

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services import lifecycle
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, free_port, make_bucket
from tests.support.browser import chromium
from tests.support.buckets import public_read
from tests.support.console import (
    DATASETS_KEY,
    DATASETS_SECRET,
    DESKTOP,
    JWT_SECRET,
    ConsolePage,
    Service,
)
from tests.support.live_server import live_server
from tests.support.s3_servers import S3Server, selected_servers

JITTER_MS = float(os.environ.get("SARTIQ_CONSOLE_JITTER_MS", "0"))
"""Opt-in (CI runs without it): the service waits a random 0 to N ms before each request, so
answers come back in another order than the page asked for them. A run with 300 shakes out
answers that arrive after the user moved on (tests/end_to_end/console/test_late_answers.py)."""


def _app(context: StorageContext) -> FastAPI:
    app = create_app(context=context)
    if JITTER_MS:

        @app.middleware("http")
        async def jitter(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            await asyncio.sleep(random.uniform(0, JITTER_MS) / 1000)
            return await call_next(request)

    return app


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
    with live_server(_app(context), port) as base:
        yield Service(request.param, base, context)
    context.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live service on the embedded store alone (layout, operations and datasets)."""
    data = tmp_path_factory.mktemp("console-embedded")
    port = free_port()
    context = build_context(_settings(data, port), migrate=True)
    with live_server(_app(context), port) as base:
        yield Service("embedded", base, context)
    context.close()


PART_BYTES = 8 * 1024 * 1024
"""Multipart part size for the console's upload tests: S3's floor is 5 MiB; 8 MiB makes a
200 MB video 25 parts."""


@pytest.fixture(scope="module")
def parts_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live service on the embedded store whose multipart uploads take 8 MiB parts."""
    data = tmp_path_factory.mktemp("console-parts")
    port = free_port()
    settings = _settings(data, port, STORAGE_MULTIPART_PART_BYTES=PART_BYTES)
    context = build_context(settings, migrate=True)
    with live_server(_app(context), port) as base:
        yield Service("embedded", base, context)
    context.close()


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
