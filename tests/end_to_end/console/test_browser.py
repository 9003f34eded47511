"""The console in a real browser: uploads on both backends, the layout, operations, datasets.

Screenshots of every step go to ``artifacts/console/`` (``SARTIQ_CONSOLE_ARTIFACTS``).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Route, expect

from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, utcnow
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.services import maintenance
from sartiq_storage.services.media.deletions import MAX_AUTOMATIC_ATTEMPTS
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.testing.media import image_bytes, mp4_bytes
from tests.support.console import (
    DESKTOP,
    JWT_SECRET,
    PHONE,
    ConsolePage,
    Service,
    upload_through_api,
)

pytestmark = pytest.mark.browser

Opener = Callable[..., ConsolePage]
JPEG = image_bytes("jpg", 120, 90, (30, 120, 200))
PNG = image_bytes("png", 64, 48, (220, 90, 40))


def _file(name: str, mime: str, data: bytes) -> dict[str, object]:
    return {"name": name, "mimeType": mime, "buffer": data}


def test_upload_two_images_then_a_duplicate_and_a_refused_file(
    service: Service, open_console: Opener
) -> None:
    console = open_console(service, f"upload-{service.backend}")
    page = console.page
    expect(page.locator("#signin")).to_be_visible()
    console.shot("1-sign-in")
    console.sign_in(service.token)
    expect(page.locator("#view-upload")).to_be_visible()

    entity = str(uuid.uuid4())
    page.fill("#entity-id", entity)
    ingest_calls: list[str] = []
    page.on(
        "request",
        lambda request: (
            ingest_calls.append(request.url.rsplit("/", 1)[-1])
            if "/api/v1/media-resources/ingest" in request.url
            else None
        ),
    )
    page.set_input_files(
        "#file-input",
        [
            _file("Look Front.jpg", "image/jpeg", JPEG),
            _file("swatch.png", "image/png", PNG),
            _file("broken.png", "image/png", b"a text file named like a PNG"),
        ],
    )
    rows = page.locator("#uploads li")
    expect(page.locator('#uploads li[data-state="done"]')).to_have_count(2)
    # The drop's ingests go through ingest-batch (those finishing together share a call);
    # the broken file is refused on its own row, costing the others nothing.
    broken = rows.filter(has_text="broken.png")
    expect(broken).to_have_attribute("data-state", "error")
    expect(broken.locator(".status")).to_contain_text("Not an accepted image or video")
    assert set(ingest_calls) == {"ingest-batch"}, ingest_calls
    assert len(ingest_calls) <= 3
    first = rows.filter(has_text="Look Front.jpg")
    expect(first).to_have_attribute("data-created", "true")
    expect(first).to_have_attribute("data-width", "120")
    expect(rows.filter(has_text="swatch.png")).to_have_attribute("data-height", "48")
    first_id = first.get_attribute("data-resource-id")
    assert first_id
    console.shot("2-uploaded")

    # The grid, filtered to the entity the files were attached to.
    page.click("#view-uploaded")
    tiles = page.locator("#media-grid .tile")
    expect(tiles).to_have_count(2)
    expect(page.locator("#media-count")).to_contain_text("2 resources")
    jpeg_tile = page.locator(f'.tile[data-resource-id="{first_id}"]')
    expect(jpeg_tile.locator(".dims")).to_have_text("120 × 90")
    expect(jpeg_tile).to_contain_text("landscape")
    attachments = jpeg_tile.locator(".attachments")
    expect(attachments).to_contain_text(f"PRODUCT · {entity[:8]} · gallery #0")
    expect(page.locator(".tile .dims", has_text="64 × 48")).to_have_count(1)
    page.wait_for_function(  # the thumbnails, through /files/…?type=webp, all decoded
        "() => [...document.querySelectorAll('#media-grid img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    console.shot("3-media-grid")

    # The same bytes again: the same resource, attached at the next position.
    console.go("upload")
    page.set_input_files("#file-input", [_file("again.jpg", "image/jpeg", JPEG)])
    again = rows.filter(has_text="again.jpg")
    expect(again).to_have_attribute("data-state", "done")
    expect(again).to_have_attribute("data-created", "false")
    expect(again).to_have_attribute("data-resource-id", first_id)
    expect(again.locator(".status")).to_contain_text("duplicate, reused resource")
    console.shot("4-duplicate")

    # A type the platform refuses: reported on its row, nothing sent.
    page.set_input_files("#file-input", [_file("notes.txt", "text/plain", b"not an image")])
    refused = rows.filter(has_text="notes.txt")
    expect(refused).to_have_attribute("data-state", "error")
    expect(refused.locator(".status")).to_contain_text("Refused file type: text/plain")
    console.shot("5-refused-type")

    # The bucket's rules match the policy: on S3 they were written by `lifecycle apply`.
    console.go("operations")
    expect(page.locator("#lifecycle-status")).to_have_text("in sync")
    console.shot("6-operations")
    console.assert_no_errors()


@pytest.fixture(scope="module")
def seeded(embedded: Service) -> Service:
    """Media, a dead letter, an orphan report and a versioned dataset to look at."""
    context = embedded.context
    for seed in range(1, 4):
        data = image_bytes("png", 90 + 30 * seed, 120, (40 * seed, 150, 90), seed=seed)
        upload_through_api(embedded, data, f"seed-{seed}.png", uuid.uuid4())
    key = f"media/{uuid.uuid4()}/file.png"
    context.store.put(key, io.BytesIO(PNG), content_type="image/png")
    now = utcnow()
    with context.db.session() as session:
        session.add(
            MediaDeletionDeadLetter(
                storage_key=key,
                error_message="InternalError: injected while testing the console",
                attempts=MAX_AUTOMATIC_ATTEMPTS,
                created_at=now - timedelta(hours=3),
                last_attempted_at=now - timedelta(hours=1),
                next_attempt_at=now + timedelta(hours=5),
            )
        )
    report = OrphanScanner(context.db, context.store, context.media).scan(grace=timedelta(0))
    maintenance.record(context.db, "orphans", report.as_dict(), applied=False, started_at=now)
    datasets = context.datasets
    datasets.create_repository("garments", "datasets/garments")
    datasets.put_object("garments", "main", "readme.txt", b"photos", content_type="text/plain")
    datasets.commit("garments", "main", "Add the readme")
    datasets.create_branch("garments", "relabel", "main")
    datasets.put_object("garments", "relabel", "tops/0001.png", PNG, content_type="image/png")
    datasets.put_object("garments", "relabel", "tops/0002.png", JPEG, content_type="image/jpeg")
    datasets.commit("garments", "relabel", "Relabel two tops")
    return embedded


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_every_view_fits_the_width(
    seeded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    # The link `serve` prints: the token in the fragment, which the page moves to session storage.
    console = open_console(seeded, f"layout-{width}", viewport, f"/console/#token={seeded.token}")
    page = console.page
    page.wait_for_selector("#app:not([hidden])")
    assert "token" not in page.url
    for tab in ("upload", "media", "operations", "datasets"):
        expect(page.locator(f'.tabs a[data-tab="{tab}"]')).to_be_visible()
    expect(page.locator("#signout")).to_be_visible()
    expect(page.locator("#dropzone")).to_be_visible()
    expect(page.locator("#entity-id")).to_be_visible()
    console.no_horizontal_overflow()
    console.shot("1-upload")

    console.go("media")
    expect(page.locator("#media-grid .tile").first).to_be_visible()
    expect(page.locator('#media-filter button[type="submit"]')).to_be_visible()
    expect(page.locator("#media-grid .tile .attachments li").first).to_contain_text("LOOK")
    console.no_horizontal_overflow()
    console.shot("2-media")
    page.locator("#media-grid .tile .actions button", has_text="Details").first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-body")).to_contain_text("Content hash")
    console.no_horizontal_overflow()
    console.shot("3-detail")
    page.click("#detail [data-close]")

    console.go("operations")
    expect(page.locator("#health-status")).to_be_visible()
    expect(page.locator("#lifecycle-status")).to_be_visible()
    expect(page.locator("#ops-refresh")).to_be_visible()
    console.no_horizontal_overflow()
    console.shot("4-operations")

    console.go("datasets")
    expect(page.locator("#repo-list button", has_text="garments")).to_be_visible()
    expect(page.locator("#repo-panel .results tbody tr").first).to_be_visible()
    console.no_horizontal_overflow()
    console.shot("5-datasets")
    console.assert_no_errors()


def test_operations_retry_and_dataset_views(seeded: Service, open_console: Opener) -> None:
    console = open_console(seeded, "operations")
    page = console.page
    console.sign_in(seeded.token)

    console.go("operations")
    expect(page.locator("#health-status")).to_have_text("degraded")  # an exhausted letter
    expect(page.locator("#health-reasons")).to_contain_text("past their automatic retries")
    letter = page.locator("#deadletters-card li.letter")
    expect(letter).to_have_count(1)
    expect(letter).to_contain_text("injected while testing the console")
    expect(letter).to_contain_text("exhausted")
    expect(page.locator("#orphans-card")).to_contain_text("objects scanned")
    expect(page.locator("#orphans-card")).to_contain_text("dry run")
    expect(page.locator("#lifecycle-card")).to_contain_text("sweep")  # no engine: sweep enforces
    console.shot("1-before-retry")
    letter.locator("button", has_text="Retry").click()
    expect(page.locator("#toast")).to_contain_text("1 deleted")
    expect(page.locator("#deadletters-card")).to_contain_text("No failed deletions")
    expect(page.locator("#health-status")).to_have_text("ok")
    # Healthy, with no reasons to give: nothing in their place (not the word "null").
    expect(page.locator("#health-reasons")).to_have_count(0)
    expect(page.locator("#health-card")).not_to_contain_text("null")
    console.shot("2-after-retry")

    console.go("datasets")
    expect(page.locator("#repo-panel h2")).to_have_text("garments")
    log = page.locator("#repo-panel .results")
    expect(log).to_contain_text("Add the readme")
    expect(log).to_contain_text("Repository created")
    console.shot("3-log")

    page.click('.segmented button[data-mode="diff"]')
    expect(page.locator("#ds-right")).to_have_value("relabel")
    page.click('#repo-panel button[type="submit"]')
    changes = page.locator("#repo-panel .results tbody tr")
    expect(changes).to_have_count(2)
    expect(changes.first).to_contain_text("added")
    expect(changes.first).to_contain_text("tops/0001.png")
    console.shot("4-diff")

    page.click('.segmented button[data-mode="browse"]')
    page.fill("#ds-ref", "relabel")
    page.click('#repo-panel button[type="submit"]')
    page.locator("#repo-panel tr.clickable", has_text="tops/").click()
    objects = page.locator("#repo-panel .results tbody tr")
    expect(objects).to_have_count(2)
    expect(objects.first).to_contain_text("0001.png")
    expect(objects.first).to_contain_text("image/png")
    console.shot("5-browse")

    page.click('.segmented button[data-mode="refs"]')
    expect(page.locator("#repo-panel")).to_contain_text("relabel")
    console.assert_no_errors()


def test_the_console_shows_only_what_its_token_allows(
    seeded: Service, open_console: Opener
) -> None:
    reader = issue_token(JWT_SECRET, "viewer", scopes=["media:read"])
    console = open_console(seeded, "scopes")
    page = console.page
    console.sign_in(reader)
    # Media only: no upload, operations or datasets tab; it opens on the media grid.
    expect(page.locator(".tabs a:visible")).to_have_count(1)
    expect(page.locator('.tabs a[data-tab="media"]')).to_be_visible()
    expect(page.locator("#view-media")).to_be_visible()
    expect(page.locator("#who")).to_have_text("signed in as viewer")
    expect(page.locator("#media-grid .tile li.attachment").first).to_be_visible()
    expect(page.locator("#media-grid button", has_text="Detach")).to_have_count(0)
    page.goto(seeded.base + "/console/#/operations")  # a view it may not see: back to media
    expect(page.locator("#view-media")).to_be_visible()
    expect(page.locator("#view-operations")).to_be_hidden()
    console.shot("1-media-read-only")

    # A compute server's token has nothing to show here.
    page.click("#signout")
    page.fill("#token-input", issue_token(JWT_SECRET, "compute-1", scopes=["compute"]))
    page.click("#signin-button")
    expect(page.locator("#signin-error")).to_contain_text("allows none of the console's sections")
    expect(page.locator("#app")).to_be_hidden()
    console.shot("2-compute-token")
    console.assert_no_errors()


def test_a_big_video_goes_in_parts_through_a_dropped_network(
    service: Service, open_console: Opener, tmp_path: Path
) -> None:
    """Over the single upload's 50 MB, a video goes in 16 MiB parts; the network drops under
    one part twice (Playwright aborts its requests), the console retries it, completes and
    ingests."""
    video = tmp_path / "clip.mp4"
    body = mp4_bytes()
    pad = 60 * 1024 * 1024 - len(body)
    video.write_bytes(body + pad.to_bytes(4, "big") + b"free" + b"\0" * (pad - 8))
    console = open_console(service, f"upload-parts-{service.backend}")
    page = console.page
    console.sign_in(service.token)
    cut = {"left": 2}

    def drop_part_two(route: Route) -> None:
        if route.request.method == "PUT" and cut["left"] > 0:
            cut["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*partNumber=2(&.*)?$"), drop_part_two)
    page.fill("#entity-id", str(uuid.uuid4()))
    page.set_input_files("#file-input", str(video))
    row = page.locator("#uploads li").filter(has_text="clip.mp4")
    expect(row).to_have_attribute("data-state", "done", timeout=120_000)
    expect(row).to_have_attribute("data-parts", "4")
    assert cut["left"] == 0
    resource_id = row.get_attribute("data-resource-id")
    assert resource_id
    resource = service.context.media.get(uuid.UUID(resource_id))
    assert resource.resource_type == "VIDEO"
    assert resource.file_size == video.stat().st_size
    console.shot("parts-done")
    # The two cut requests are the only console errors: nothing else went wrong.
    assert all("ERR_CONNECTION_RESET" in e or "Failed to load" in e for e in console.errors)


def test_a_console_opened_at_localhost_uploads_to_the_embedded_store(
    embedded: Service, open_console: Opener
) -> None:
    """`serve` prints http://127.0.0.1:PORT/console/, and its presigned URLs name 127.0.0.1;
    an operator who types localhost:PORT instead is on another origin, and the PUT to
    127.0.0.1 needs the service's CORS. The embedded store allows its own origin under each
    loopback name: the upload must work as it does from the printed link."""
    at_localhost = Service(
        "embedded", embedded.base.replace("127.0.0.1", "localhost"), embedded.context
    )
    assert at_localhost.base != embedded.base
    console = open_console(at_localhost, "localhost")
    page = console.page
    console.sign_in(at_localhost.token)
    page.fill("#entity-id", str(uuid.uuid4()))
    page.set_input_files(
        "#file-input",
        [_file("front.jpg", "image/jpeg", JPEG), _file("clip.mp4", "video/mp4", mp4_bytes())],
    )
    done = page.locator('#uploads li[data-state="done"]')
    expect(done).to_have_count(2)
    expect(done.filter(has_text="clip.mp4").locator(".status")).to_contain_text(" s in ")
    console.shot("1-uploaded")
    console.assert_no_errors()
