"""Helpers for the console's browser tests: the service under test, the page a test drives,
an upload through the API, screen sizes."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.sync_api import APIResponse, Page, Route

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.services.context import StorageContext
from tests.support.artifacts import CONSOLE_SCREENSHOTS

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


@dataclass
class Held:
    """The first ``count`` requests whose URL matches ``pattern``, held by a Playwright route
    until the test lets each one go: a slow network, made deterministic. With ``answered``
    the request reaches the service at once and its answer is what waits (an answer that
    says how things were when it was asked); otherwise the request itself waits. With
    ``method``, only requests of that method are held."""

    page: Page
    pattern: re.Pattern[str]
    count: int = 1
    answered: bool = False
    method: str | None = None
    routes: list[tuple[Route, APIResponse | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.route(self.pattern, self._handle)

    def _handle(self, route: Route) -> None:
        if len(self.routes) >= self.count or self.method not in (None, route.request.method):
            route.continue_()
        else:
            self.routes.append((route, route.fetch() if self.answered else None))

    def wait(self, held: int = 1) -> None:
        """Until ``held`` requests are held."""
        for _ in range(500):
            if len(self.routes) >= held:
                return
            self.page.wait_for_timeout(20)
        raise AssertionError(f"{held} request(s) to {self.pattern.pattern} never came")

    def release(self, index: int = 0) -> None:
        """Let one held request go, and give the page time to act on its answer."""
        route, answer = self.routes[index]
        request = route.request
        with self.page.expect_event("requestfinished", lambda r: r is request):
            if answer is None:
                route.continue_()
            else:
                route.fulfill(response=answer)
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 300))")


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
