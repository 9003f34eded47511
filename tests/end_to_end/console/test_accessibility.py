"""The console's accessibility in real headless Chromium: axe-core on every view at 320, 390
and 1280 px, reflow at 320 px, and each flow done with the keyboard alone.

axe-core runs its default rules (WCAG 2.x A and AA and its best practices); the keyboard
walks check where the focus lands after each action and that every stop is in sight, clear
of the sticky top bar.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from sartiq_storage.testing.media import image_bytes
from tests.support.console import DESKTOP, PHONE, ConsolePage, Service, upload_through_api
from tests.support.console_a11y import (
    NARROW,
    assert_accessible,
    assert_focus_in_sight,
    assert_reflows,
    has_focus,
    seed,
    tab_to,
)

pytestmark = pytest.mark.browser

Opener = Callable[..., ConsolePage]
_LIVE_REGIONS_RENDERED = """() => ['#toast-status', '#toast-alert', '#upload-announcer']
  .every((s) => document.querySelector(s)?.getClientRects().length > 0
    || getComputedStyle(document.querySelector(s)).display !== 'none')"""
_BUTTON_NAMES = """(root) => [...document.querySelectorAll(`${root} button`)]
  .map((b) => b.getAttribute('aria-label') ?? b.textContent.trim())"""
_HEADER_ON_TOP = """() => [...document.querySelectorAll('#detail .detail-head > *')].every((el) => {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return hit !== null && el.contains(hit);
})"""
VIEWPORTS = [NARROW, PHONE, DESKTOP]
IDS = ["320px", "390px", "1280px"]


@pytest.fixture(scope="module")
def seeded(embedded: Service) -> Service:
    seed(embedded)
    return embedded


def _check(console: ConsolePage, step: str, width: int) -> None:
    console.shot(step)
    assert_accessible(console.page, step)
    assert_reflows(console.page, step, width)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=IDS)
def test_every_view_has_no_axe_violation_and_reflows(
    seeded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    console = open_console(seeded, f"a11y-{width}", viewport)
    page = console.page
    expect(page.locator("#token-input")).to_be_focused()
    _check(console, "1-sign-in", width)
    page.fill("#token-input", "not-a-token")
    page.click("#signin-button")
    expect(page.locator("#signin-error")).to_be_visible()
    _check(console, "2-sign-in-refused", width)
    assert all("401" in e and "api/v1/token" in e for e in console.errors), console.errors
    console.errors.clear()  # the refused token's own 401, and nothing else

    console.sign_in(seeded.token)
    expect(page.locator("#view-upload")).to_be_visible()
    for tab in ("upload", "media", "operations", "datasets"):
        expect(page.locator(f'.tabs a[data-tab="{tab}"]')).to_be_in_viewport()
    expect(page.locator("#signout")).to_be_in_viewport()
    _check(console, "3-upload", width)
    # Names: the label names the input alone; the drop zone's begins with what it shows.
    expect(page.locator("#entity-id")).to_have_accessible_name("Entity id")
    expect(page.locator("#new-entity")).to_have_accessible_name("New entity id")
    expect(page.locator("#dropzone")).to_have_accessible_name(
        re.compile(r"^Drop images or videos here or choose files ")
    )
    # The live regions are in the accessibility tree before anything is written into them.
    assert page.evaluate(_LIVE_REGIONS_RENDERED), "a live region is display: none"
    png = image_bytes("png", 70, 50, (width % 256, 40, 90), seed=width)
    page.set_input_files(
        "#file-input",
        [
            {"name": f"front-{width}.png", "mimeType": "image/png", "buffer": png},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"no"},
        ],
    )
    expect(page.locator('#uploads li[data-state="done"]')).to_have_count(1)
    expect(page.locator("#upload-announcer")).to_have_text(
        "Uploads finished: 1 done.", timeout=15_000
    )
    _check(console, "4-uploaded", width)

    console.go("media")
    expect(page.locator("#media-grid li.attachment").first).to_be_visible()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('#media-grid .attachments')]"
        ".some(ul => ul.textContent.includes('Loading'))"
    )
    _check(console, "5-media", width)
    names = page.evaluate(_BUTTON_NAMES, "#media-grid")
    assert len(names) == len(set(names)), f"buttons with the same name: {sorted(names)}"
    expect(page.locator("#media-grid .tile .preview").first).to_have_accessible_name(
        re.compile(r"^PNG \d+ × \d+ · [0-9a-f]{8}: details$")
    )
    page.locator("#media-grid .tile .actions button", has_text="Copy URL").first.click()
    expect(page.locator("#toast")).to_be_visible()
    _check(console, "6-toast", width)

    page.locator("#media-grid .tile .actions button", has_text="Details").first.click()
    expect(page.locator("#detail-body")).to_contain_text("Content hash")
    _check(console, "7-details", width)
    # Scrolled, the dialog's sticky header still draws over the preview.
    for offset in (40, 120, 240):
        page.evaluate("(y) => { document.querySelector('#detail').scrollTop = y; }", offset)
        assert page.evaluate(_HEADER_ON_TOP), f"the preview draws over the header at {offset} px"
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()

    console.go("operations")
    expect(page.locator("#health-status")).to_be_visible()
    expect(page.locator("#lifecycle-status")).to_be_visible()
    _check(console, "8-operations", width)

    console.go("datasets")
    results = page.locator("#repo-panel .results")
    expect(results).to_contain_text("Add the readme")
    _check(console, "9-datasets-log", width)
    page.click('.segmented button[data-mode="diff"]')
    page.click('#repo-panel button[type="submit"]')
    expect(page.locator("#repo-panel .results tbody tr")).to_have_count(2)
    _check(console, "10-datasets-diff", width)
    page.click('.segmented button[data-mode="browse"]')
    page.fill("#ds-ref", "relabel")
    page.click('#repo-panel button[type="submit"]')
    page.click("#repo-panel button.folder")
    expect(results.locator("table")).to_have_attribute("aria-label", "Objects in tops/ at relabel")
    _check(console, "11-datasets-browse", width)
    page.click('.segmented button[data-mode="refs"]')
    expect(page.locator("#repo-panel")).to_contain_text("relabel")
    _check(console, "12-datasets-branches", width)
    console.assert_no_errors()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_every_flow_by_keyboard_alone(
    seeded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    console = open_console(seeded, f"keyboard-{width}", viewport)
    page = console.page
    keys = page.keyboard
    # Intercept file pickers from the start: enabled lazily, the first could open natively.
    page.on("filechooser", lambda _chooser: None)

    # Sign in: the form has the focus; once in, the view's heading has it (not the page top).
    expect(page.locator("#token-input")).to_be_focused()
    keys.insert_text(seeded.token)
    tab_to(page, "#signin-button")
    keys.press("Enter")
    expect(page.locator("#view-upload h1")).to_be_focused()

    # Upload: the drop zone opens the file picker from the keyboard; start and end announced.
    tab_to(page, "#new-entity")
    keys.press("Enter")
    entity = page.input_value("#entity-id")
    uuid.UUID(entity)
    tab_to(page, "#dropzone")
    with page.expect_file_chooser() as chooser:
        keys.press("Enter")
    png = image_bytes("png", 60, 80, (200, width % 256, 30), seed=width + 1)
    chooser.value.set_files({"name": f"kb-{width}.png", "mimeType": "image/png", "buffer": png})
    expect(page.locator('#uploads li[data-state="done"]')).to_have_count(1)
    expect(page.locator("#upload-announcer")).to_have_text("Uploads finished: 1 done.")
    expect(page.locator("#uploads progress").first).to_have_accessible_name(
        f"Upload of kb-{width}.png"
    )

    # Media, filtered to that entity: Show in Media is a link the keyboard follows.
    tab_to(page, "#view-uploaded")
    keys.press("Enter")
    expect(page.locator("#view-media")).to_be_visible()
    tile = page.locator("#media-grid .tile")
    expect(tile).to_have_count(1)
    expect(tile.locator("li.attachment")).to_have_count(1)

    # Details from the keyboard; a Detach inside it leaves the focus on what is left.
    tab_to(page, "#media-grid .tile .actions button[aria-label^='Details of']")
    keys.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-body")).to_contain_text("Content hash")
    tab_to(page, "#detail-attachments button")
    keys.press("Enter")
    expect(page.locator("#detail-attachments button")).to_have_text("Confirm")
    expect(page.locator("#detail-attachments button")).to_have_accessible_name(
        re.compile(r"^Confirm: detach PNG 60 × 80 · [0-9a-f]{8} from PRODUCT ")
    )
    keys.press("Enter")
    expect(page.locator("#detail-attachments")).to_be_focused()
    expect(page.locator("#detail-attachments")).to_contain_text("Not attached")
    assert_focus_in_sight(page)
    keys.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    # The grid was drawn anew meanwhile (the filter no longer shows it): focus not lost.
    expect(page.locator("#view-media h1")).to_be_focused()
    assert_focus_in_sight(page)

    # Detach on a tile of the whole grid: the focus stays on that tile's attachments.
    tab_to(page, "#filter-clear")
    keys.press("Enter")
    expect(page.locator("#media-grid li.attachment").first).to_be_visible()
    tab_to(page, "#media-grid .tile li.attachment button")
    detach = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert detach.startswith("Detach "), detach
    resource = page.evaluate("document.activeElement.closest('.tile').dataset.resourceId")
    keys.press("Enter")
    keys.press("Enter")
    expect(page.locator("#toast-status")).to_contain_text("Detached from")
    attachments = f'#media-grid .tile[data-resource-id="{resource}"] .attachments'
    expect(page.locator(attachments)).to_be_focused()
    assert_focus_in_sight(page)

    # Down the grid and back up with Shift+Tab: each control scrolled into sight upwards
    # stops below the sticky top bar, not under it (scroll-padding-top).
    tab_to(page, "#media-grid .tile:last-child .actions button[aria-label^='Details of']")
    tab_to(page, "#filter-type", back=True)

    # Datasets: browse a folder and a crumb back, every step by keyboard.
    tab_to(page, '.tabs a[data-tab="datasets"]', back=True)
    keys.press("Enter")
    expect(page.locator("#repo-panel .results")).to_contain_text("Add the readme")
    tab_to(page, '.segmented button[data-mode="browse"]')
    keys.press("Enter")
    expect(page.locator("#repo-panel .crumbs")).to_have_text("garments@main")
    tab_to(page, "#ds-ref")
    keys.press("ControlOrMeta+a")
    keys.insert_text("relabel")
    keys.press("Enter")
    expect(page.locator("#repo-panel .crumbs")).to_have_text("garments@relabel")
    tab_to(page, "#repo-panel button.folder")
    keys.press("Enter")
    listing = page.locator("#repo-panel .results table")
    expect(listing).to_have_attribute("aria-label", "Objects in tops/ at relabel")
    expect(listing).to_be_focused()
    tab_to(page, "#repo-panel button.folder")  # tops/red/
    keys.press("Enter")
    expect(listing).to_have_attribute("aria-label", "Objects in tops/red/ at relabel")
    expect(listing).to_be_focused()
    tab_to(page, ".crumbs button:first-child", back=True)
    keys.press("Enter")
    expect(listing).to_have_attribute("aria-label", "Objects in / at relabel")
    expect(listing).to_be_focused()
    assert has_focus(page, "table")
    console.assert_no_errors()


def test_an_error_is_announced_at_once_and_news_politely(
    seeded: Service, open_console: Opener
) -> None:
    entity = uuid.uuid4()
    png = image_bytes("png", 48, 48, (90, 90, 200), seed=77)
    upload_through_api(seeded, png, "stale.png", entity)
    console = open_console(
        seeded, "a11y-error", DESKTOP, f"/console/#/media?entity_type=LOOK&entity_id={entity}"
    )
    page = console.page
    console.sign_in(seeded.token)
    detach = page.locator("#media-grid li.attachment button")
    expect(detach).to_have_count(1)
    # Someone else detaches it meanwhile: this page's Detach then fails with a 404.
    attachment = page.locator("#media-grid li.attachment").get_attribute("data-attachment-id")
    gone = httpx.delete(
        f"{seeded.base}/api/v1/media-resources/attachments/{attachment}", headers=seeded.auth
    )
    assert gone.status_code == 204, gone.text
    detach.click()
    detach.click()
    expect(page.locator("#toast-alert")).not_to_be_empty()
    expect(page.locator("#toast-status")).to_be_empty()
    expect(page.locator("#toast")).to_have_class(re.compile(r"\berr\b"))
    expect(detach).to_be_focused()  # the failed button is still there, disarmed
    _check(console, "error-toast", DESKTOP["width"])
    assert all("404" in e for e in console.errors), console.errors
    console.errors.clear()  # the refused DELETE's own 404, and nothing else

    page.locator("#media-grid .tile .actions button", has_text="Copy URL").click()
    expect(page.locator("#toast-status")).to_contain_text("copied")
    expect(page.locator("#toast-alert")).to_be_empty()
    console.assert_no_errors()
