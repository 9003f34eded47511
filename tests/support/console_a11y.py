"""Helpers for the console's accessibility tests: seeded content to look at, keyboard walks,
what has the focus, and whether it is in sight."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page

from sartiq_storage.testing.media import image_bytes
from tests.support.axe import axe_violations, describe
from tests.support.console import Service, upload_through_api

NARROW = {"width": 320, "height": 640}
"""WCAG's reflow width (1.4.10): 320 CSS px, no scrolling sideways."""

# What describes the focused element to a failed assertion, and where it is on screen against
# the sticky top bar (0 when the top bar is not in the page, as on the sign-in form).
_FOCUS = """() => {
  const el = document.activeElement;
  const dialog = document.querySelector("dialog[open]");
  const bar = dialog ? dialog.querySelector(".detail-head") : document.querySelector(".topbar");
  const rect = el ? el.getBoundingClientRect() : null;
  const barRect = bar && bar.offsetParent !== null ? bar.getBoundingClientRect() : null;
  const inBar = !!(bar && el && bar.contains(el));
  return {
    tag: el ? el.tagName.toLowerCase() : null,
    id: el ? el.id : "",
    text: el ? (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 80) : "",
    top: rect ? rect.top : 0,
    bottom: rect ? rect.bottom : 0,
    barBottom: barRect && !inBar ? barRect.bottom : 0,
    viewport: window.innerHeight,
  };
}"""


# The innermost elements that reach past the viewport's right edge, for a failed reflow check.
_WIDEST = """(width) => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > width + 0.5)
  .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > width + 0.5))
  .slice(0, 8)
  .map((el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className}`
    + ` (right ${Math.round(el.getBoundingClientRect().right)})`)"""


def seed(service: Service) -> None:
    """Three images, each attached to a look, and a dataset with folders on a branch."""
    for n in range(1, 4):
        data = image_bytes("png", 80 + 20 * n, 60, (50 * n, 120, 160), seed=n)
        upload_through_api(service, data, f"a11y-{n}.png", uuid.uuid4())
    datasets = service.context.datasets
    datasets.create_repository("garments", "datasets/garments")
    datasets.put_object("garments", "main", "readme.txt", b"photos", content_type="text/plain")
    datasets.commit("garments", "main", "Add the readme")
    datasets.create_branch("garments", "relabel", "main")
    png = image_bytes("png", 32, 32, (10, 20, 30))
    datasets.put_object("garments", "relabel", "tops/0001.png", png, content_type="image/png")
    datasets.put_object("garments", "relabel", "tops/red/0002.png", png, content_type="image/png")
    datasets.commit("garments", "relabel", "Relabel two tops")


def assert_accessible(page: Page, step: str) -> None:
    """axe finds nothing on the page as it is."""
    violations = axe_violations(page)
    assert violations == [], f"{step}: axe-core found\n{describe(violations)}"


def assert_reflows(page: Page, step: str, width: int) -> None:
    """Nothing wider than the viewport: no sideways scrolling (and nothing clipped out of reach)."""
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    if scroll > width:
        culprits = page.evaluate(_WIDEST, width)
        raise AssertionError(f"{step}: the page is {scroll} px wide at {width} px: {culprits}")


def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(_FOCUS)
    return info


def assert_focus_in_sight(page: Page) -> dict[str, Any]:
    """The focused element is on screen and not under the sticky top bar (WCAG 2.4.11)."""
    info = focused(page)
    assert info["tag"] not in (None, "body"), f"the focus fell to the page: {info}"
    assert info["top"] >= info["barBottom"] - 1, f"focus hidden under the top bar: {info}"
    assert info["bottom"] <= info["viewport"] + 1, f"focus below the screen: {info}"
    return info


def tab_to(page: Page, selector: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab) until ``selector`` has the focus; every stop must be in sight."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        before = focused(page)
        page.keyboard.press(key)
        try:
            assert_focus_in_sight(page)
        except AssertionError as error:
            raise AssertionError(f"{key} towards {selector}, from {before}: {error}") from None
    raise AssertionError(f"{limit} × {key} never reached {selector}; last: {focused(page)}")


def has_focus(page: Page, selector: str) -> bool:
    return bool(page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector))
