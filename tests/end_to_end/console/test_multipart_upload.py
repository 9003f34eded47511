"""Big videos through the console in parts (docs/console.md, docs/uploads.md), in real
headless Chromium against a live service on the embedded store with 8 MiB parts.

Playwright's routing sees every part PUT: the tests cut the network under them, pause,
reload the page, and check that no part the service had stored is ever sent again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.end_to_end.console.conftest import PART_BYTES
from tests.support.console import DESKTOP, ConsolePage, Held, Service
from tests.support.console_a11y import NARROW, assert_accessible, assert_reflows
from tests.support.console_parts import PartTraffic, padded_video

pytestmark = pytest.mark.browser

Opener = Callable[..., ConsolePage]
MB = 1000 * 1000
_RESUME_ENTRIES = "Object.keys(localStorage).filter((k) => k.startsWith('sartiq-multipart:'))"
_POSTER_SIZE = """(src) => new Promise((done) => {
  const img = new Image();
  img.onload = () => done([img.naturalWidth, img.naturalHeight]);
  img.onerror = () => done(null);
  img.src = src;
})"""


@pytest.fixture(scope="module")
def video_200mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return padded_video(tmp_path_factory.mktemp("videos") / "clip-200mb.mp4", 200 * MB)


def _parts(path: Path) -> int:
    return -(-path.stat().st_size // PART_BYTES)


def test_a_200_mb_video_goes_on_after_a_network_cut_and_shows_with_its_poster(
    parts_service: Service, open_console: Opener, video_200mb: Path
) -> None:
    count = _parts(video_200mb)
    assert count == 24  # 200 MB in 8 MiB parts
    console = open_console(parts_service, "parts-network-cut")
    page = console.page
    console.sign_in(parts_service.token)
    traffic = PartTraffic(page, cut_after=8)
    entity = str(uuid.uuid4())
    page.fill("#entity-id", entity)
    page.set_input_files("#file-input", str(video_200mb))
    row = page.locator("#uploads li").filter(has_text=video_200mb.name)

    # The network is cut after 8 parts: every part PUT now fails as a dropped connection.
    traffic.wait_for("cut", 4)
    expect(page.locator("#upload-announcer")).to_contain_text("the network dropped")
    console.shot("1-cut")
    stored_before = traffic.stored
    assert 8 <= len(stored_before) < count
    traffic.cut = False  # the network is back

    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    console.shot("2-done")
    assert traffic.stored == set(range(1, count + 1))
    assert traffic.resent_after_stored() == []  # stored parts were never sent again
    # Each part went through once: the ones cut were retried, the others not repeated.
    sent = [n for event, n in traffic.events if event == "sent"]
    assert sorted(sent) == list(range(1, count + 1))
    expect(row).to_have_attribute("data-parts", str(count))

    resource_id = row.get_attribute("data-resource-id")
    assert resource_id
    resource = parts_service.context.media.get(uuid.UUID(resource_id))
    assert resource.resource_type == "VIDEO"
    assert resource.file_size == video_200mb.stat().st_size
    assert (resource.width, resource.height, resource.codec) == (320, 180, "h264")
    assert resource.duration is not None
    assert resource.duration > 10
    # The row shows the poster frame and the duration.
    expect(row.locator("img.thumb")).to_have_attribute("src", re.compile(r"\?type=webp$"))
    expect(row).to_contain_text(f"{resource.duration:.1f} s")

    # The grid shows it as it shows images: its poster (the ?type=webp derivative), its length.
    page.click("#view-uploaded")
    tile = page.locator(f'#media-grid .tile[data-resource-id="{resource_id}"]')
    expect(tile).to_be_visible()
    poster = tile.locator("video").get_attribute("poster")
    assert poster is not None
    assert poster.endswith("?type=webp")
    assert page.evaluate(_POSTER_SIZE, poster) == [320, 180]
    answer = httpx.get(poster, follow_redirects=True, timeout=30)
    assert answer.headers["content-type"] == "image/webp"
    expect(tile.locator(".badge.kind")).to_have_text(f"VIDEO · {resource.duration:.1f} s")
    tile.get_by_role("button", name=re.compile(r"^Details of VIDEO")).click()
    detail = page.locator("#detail-body")
    expect(detail.locator("dt", has_text="Codec").locator("+ dd")).to_have_text("h264")
    expect(detail.locator("dt", has_text="Frame rate").locator("+ dd")).to_have_text(
        re.compile(r"^\d+(\.\d+)? fps$")
    )
    console.shot("3-in-media")
    # The cut requests are the only console errors.
    assert console.errors
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in console.errors), console.errors


def test_pause_resume_and_a_reload_continue_from_the_parts_the_store_holds(
    parts_service: Service, open_console: Opener, tmp_path: Path
) -> None:
    video = padded_video(tmp_path / "clip-reload.mp4", 60 * MB)
    count = _parts(video)
    console = open_console(parts_service, "parts-pause-reload")
    page = console.page
    console.sign_in(parts_service.token)
    traffic = PartTraffic(page, cut_after=2)
    page.set_input_files("#file-input", str(video))
    row = page.locator("#uploads li").filter(has_text=video.name)
    pause = page.get_by_role("button", name=f"Pause upload of {video.name}")

    # Pause (while the network is down, so that it cannot finish first).
    traffic.wait_for("cut", 1)
    pause.click()
    expect(row).to_have_attribute("data-state", "paused")
    expect(page.locator("#upload-announcer")).to_contain_text(f"Paused {video.name}")
    resume = page.get_by_role("button", name=f"Resume upload of {video.name}")
    expect(resume).to_be_focused()  # the same button, now named for what it does next
    assert_accessible(page, "paused")
    console.shot("1-paused")
    page.set_viewport_size(NARROW)  # the row and its button reflow at 320 px
    assert_reflows(page, "paused at 320 px", NARROW["width"])
    assert_accessible(page, "paused at 320 px")
    console.shot("1-paused-320")
    page.set_viewport_size(DESKTOP)
    traffic.cut = False
    before = len(traffic.events)
    page.wait_for_timeout(1500)
    assert traffic.events[before:] == []  # paused: nothing is sent

    # Resume; the network goes again after 4 parts, and the page is reloaded.
    traffic.cut_after = 4
    resume.click()
    expect(page.locator("#upload-announcer")).to_contain_text(f"Resuming {video.name}")
    traffic.wait_for("cut", traffic.count("cut") + 1)
    traffic.wait_until_settled()
    stored_before = traffic.stored
    assert 4 <= len(stored_before) < count
    page.reload()
    page.wait_for_selector("#app:not([hidden])")  # signed in again from the session
    note = page.locator("#resumable")
    expect(note).to_contain_text(video.name)
    assert_accessible(page, "after-reload")
    console.shot("2-reloaded")

    # The same file dropped again: the console lists the stored parts and sends the rest.
    traffic.cut = False
    page.set_input_files("#file-input", str(video))
    row = page.locator("#uploads li").filter(has_text=video.name)
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    expect(row).to_have_attribute("data-resumed-parts", str(len(stored_before)))
    expect(page.locator("#upload-announcer")).to_contain_text("Uploads finished: 1 done")
    expect(note).to_be_hidden()
    console.shot("3-done")
    assert traffic.stored == set(range(1, count + 1))
    assert traffic.resent_after_stored() == []
    assert page.evaluate(_RESUME_ENTRIES) == []  # nothing left to resume
    resource_id = row.get_attribute("data-resource-id")
    assert resource_id
    resource = parts_service.context.media.get(uuid.UUID(resource_id))
    assert resource.file_size == video.stat().st_size
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in console.errors), console.errors


def test_pause_goes_once_the_parts_are_stored_and_the_row_ends_done(
    parts_service: Service, open_console: Opener, tmp_path: Path
) -> None:
    """Every part stored, the parts are assembled (the complete call, held here): nothing is
    left to pause, so Pause goes with the parts (its focus to the row's status) and the row
    ends done. It stayed, and pressed then it marked the finished upload paused."""
    video = padded_video(tmp_path / "clip-assembled.mp4", 60 * MB)
    console = open_console(parts_service, "parts-assembled")
    page = console.page
    console.sign_in(parts_service.token)
    held = Held(page, re.compile(r"/api/v1/uploads/s3/multipart/[^/?]+/complete\?"))
    page.set_input_files("#file-input", str(video))
    row = page.locator("#uploads li").filter(has_text=video.name)
    pause = page.get_by_role("button", name=f"Pause upload of {video.name}")
    pause.focus()  # a keyboard user, ready to pause

    expect(row).to_contain_text("Assembling the parts", timeout=60_000)
    held.wait()  # every part stored; the complete call is on its way
    page.keyboard.press("Space")  # the user presses Pause now: nothing happens
    expect(pause).to_have_count(0)
    expect(page.get_by_role("button", name=f"Resume upload of {video.name}")).to_have_count(0)
    expect(row.locator(".status")).to_be_focused()

    held.release()
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    assert row.get_attribute("data-paused") is None
    expect(row).to_contain_text("Done: new resource")
    console.assert_no_errors()
