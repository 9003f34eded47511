"""Answers that come after the user moved on, in the Media and Operations views and across a
sign-in: each earlier answer is held with a Playwright route until the later one is shown,
then let go; what the user asked for last must stay on screen."""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.services.media.deletions import MAX_AUTOMATIC_ATTEMPTS
from sartiq_storage.testing.media import image_bytes
from tests.support.console import (
    DESKTOP,
    JWT_SECRET,
    ConsolePage,
    Held,
    Service,
    upload_through_api,
)
from tests.support.datasets_console import unexpected_errors

pytestmark = pytest.mark.browser

Opener = Callable[..., ConsolePage]
LIST = re.compile(r"/api/v1/media-resources\?limit=")


@pytest.fixture(scope="module")
def images(embedded: Service) -> list[str]:
    """Two images, each attached to a look: the ids of the only media in this service."""
    ids = []
    for n in (1, 2):
        data = image_bytes("png", 40 * n, 30, (60 * n, 100, 140), seed=n)
        ingested = upload_through_api(embedded, data, f"late-{n}.png", uuid.uuid4())
        ids.append(ingested["media_resource"]["id"])
    return ids


def _media(embedded: Service, open_console: Opener, name: str) -> ConsolePage:
    """The console, asked for the Media view (not signed in yet)."""
    return open_console(embedded, name, DESKTOP, "/console/#/media")


def _filled(page: Page, ids: list[str]) -> None:
    """Every tile drawn, with its attachments (each tile asks for its resource)."""
    for id_ in ids:
        expect(page.locator(f'.tile[data-resource-id="{id_}"] .attachments')).to_contain_text(
            "LOOK"
        )


def _sign_in_checked_slowly(page: Page, token: str, meanwhile: Held, count: int) -> None:
    """Sign out, then in with ``token`` (one that opens no section), its check held while the
    first ``count`` requests ``meanwhile`` held are let go: the check's refusal is shown."""
    page.click("#signout")
    check = Held(page, re.compile(r"/api/v1/token$"))
    page.fill("#token-input", token)
    page.click("#signin-button")
    check.wait()
    for n in range(count):
        meanwhile.release(n)
    check.release()
    expect(page.locator("#signin-error")).to_contain_text("allows none of the console's sections")


def test_the_details_opened_last_stay_when_the_first_come_late(
    embedded: Service, open_console: Opener, images: list[str]
) -> None:
    first, second = images
    console = _media(embedded, open_console, "late-detail")
    page = console.page
    console.sign_in(embedded.token)
    _filled(page, [first, second])

    held = Held(page, re.compile(rf"/api/v1/media-resources/{first}$"))
    page.get_by_role("button", name=re.compile(rf"^Details of .*{first[:8]}$")).click()
    held.wait()
    page.click("#detail [data-close]")  # it is slow to come: the user closes it
    page.get_by_role("button", name=re.compile(rf"^Details of .*{second[:8]}$")).click()
    body = page.locator("#detail-body")
    expect(body).to_contain_text(second)

    held.release()  # the first resource, late
    expect(page.locator("#detail-title")).to_have_text(f"Image {second[:8]}")
    expect(body).to_contain_text(second)
    expect(body).not_to_contain_text(first)
    console.assert_no_errors()


def test_the_grid_stays_busy_while_the_latest_page_is_on_its_way(
    embedded: Service, open_console: Opener, images: list[str]
) -> None:
    ids = images
    console = _media(embedded, open_console, "late-busy")
    page = console.page
    console.sign_in(embedded.token)
    _filled(page, ids)

    held = Held(page, LIST, count=2)
    page.click("#media-refresh")
    held.wait()
    page.click("#media-refresh")  # again, before the first answer
    held.wait(2)
    grid = page.locator("#media-grid")
    expect(grid).to_have_attribute("aria-busy", "true")

    held.release(0)  # the first answer, dropped: the grid still waits for the second
    expect(grid).to_have_attribute("aria-busy", "true")
    held.release(1)
    expect(grid).not_to_have_attribute("aria-busy", "true")
    _filled(page, ids)
    console.assert_no_errors()


def test_a_late_health_answer_does_not_undo_a_retry(
    embedded: Service, open_console: Opener
) -> None:
    """Operations opens; the health card is slow. The user retries the dead letter; the view
    loads again and says ok. Then the first health answer (from before the retry) comes."""
    key = f"media/{uuid.uuid4()}/file.png"
    embedded.context.store.put(key, io.BytesIO(b"orphan"), content_type="image/png")
    now = utcnow()
    with embedded.context.db.session() as session:
        session.add(
            MediaDeletionDeadLetter(
                storage_key=key,
                error_message="InternalError: injected while testing late answers",
                attempts=MAX_AUTOMATIC_ATTEMPTS,
                created_at=now - timedelta(hours=3),
                last_attempted_at=now - timedelta(hours=1),
                next_attempt_at=now + timedelta(hours=5),
            )
        )
    console = open_console(embedded, "late-health", DESKTOP)
    page = console.page
    console.sign_in(embedded.token)
    # The answer is made at once (one exhausted letter: degraded) and held on its way back.
    held = Held(page, re.compile(r"/api/v1/storage/health$"), answered=True)
    console.go("operations")
    held.wait()
    letter = page.locator("#deadletters-card li.letter", has_text=key)
    letter.locator("button", has_text="Retry").click()
    expect(page.locator("#toast")).to_contain_text("1 deleted")
    expect(page.locator("#health-status")).to_have_text("ok")

    held.release()  # the health from before the retry, late
    expect(page.locator("#health-status")).to_have_text("ok")
    expect(page.locator("#deadletters-card")).to_contain_text("No failed deletions")
    console.assert_no_errors()


def test_a_refusal_of_the_old_token_does_not_sign_out_the_new_one(
    embedded: Service, open_console: Opener, images: list[str]
) -> None:
    """The token runs out while the grid loads; the user signs in again with a fresh token.
    The old token's call, answered 401 after that, must not sign the new session out."""
    ids = images
    ttl = 3
    expires = time.time() + ttl
    old = issue_token(JWT_SECRET, "console-tests", ttl_seconds=ttl)
    console = _media(embedded, open_console, "late-401")
    page = console.page
    held = Held(page, LIST)
    console.sign_in(old)
    held.wait()  # the grid's first page, asked with the old token
    while time.time() < expires + 1:  # the old token runs out
        page.wait_for_timeout(100)

    page.click("#signout")
    console.sign_in(embedded.token)
    _filled(page, ids)
    held.release()  # reaches the service now: 401 for the old token
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()
    _filled(page, ids)
    token = page.evaluate("sessionStorage.getItem('sartiq-storage.console.token')")
    assert token == embedded.token
    assert unexpected_errors(console, 401) == []


def test_signing_out_stops_the_grid_and_the_next_token_is_not_used_before_it_is_checked(
    embedded: Service, open_console: Opener, images: list[str]
) -> None:
    """Eight tiles, six filled at a time: the user signs out while the first six are on
    their way, then signs in with a token that opens no section, checked slowly. The grid
    must not go on asking, neither with no token (its 401 said "Signed out: the token was
    refused" over the form) nor with the token being checked (403s)."""
    for n in range(3, 9):
        data = image_bytes("png", 10 * n, 20, (20 * n, 60, 90), seed=n)
        upload_through_api(embedded, data, f"late-{n}.png", uuid.uuid4())
    reader = issue_token(JWT_SECRET, "viewer", scopes=["media:read"])
    console = _media(embedded, open_console, "late-sign-out")
    page = console.page
    tiles = Held(page, re.compile(r"/api/v1/media-resources/[0-9a-f-]{36}$"), count=6)
    console.sign_in(reader)
    tiles.wait(6)

    asked: list[str] = []
    page.on(
        "request", lambda request: asked.append(request.url) if "/api/" in request.url else None
    )
    _sign_in_checked_slowly(
        page, issue_token(JWT_SECRET, "compute-1", scopes=["compute"]), tiles, 6
    )
    assert [url for url in asked if "/media-resources" in url] == []
    assert unexpected_errors(console) == []


def test_uploads_going_on_do_not_use_a_token_before_it_is_checked(
    embedded: Service, open_console: Opener
) -> None:
    """Four files, three at a time; the user signs out while the first three are on their
    way and signs in with a token that opens no section, checked slowly. Nothing the uploads
    ask for meanwhile may carry that token."""
    console = open_console(embedded, "late-upload-token", DESKTOP)
    page = console.page
    console.sign_in(embedded.token)
    page.fill("#entity-id", str(uuid.uuid4()))
    presigns = Held(page, re.compile(r"/api/v1/uploads/presigned-url$"), count=3)
    page.set_input_files(
        "#file-input",
        [
            {"name": f"t-{n}.png", "mimeType": "image/png", "buffer": image_bytes("png", 8 + n, 8)}
            for n in range(4)
        ],
    )
    presigns.wait(3)

    compute = issue_token(JWT_SECRET, "compute-1", scopes=["compute"])
    carried: list[str] = []
    page.on(
        "request",
        lambda request: (
            carried.append(request.url)
            if request.headers.get("authorization") == f"Bearer {compute}"
            else None
        ),
    )
    _sign_in_checked_slowly(page, compute, presigns, 3)
    assert [url for url in carried if not url.endswith("/api/v1/token")] == []
