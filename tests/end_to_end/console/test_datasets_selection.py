"""Choosing a repository in the console while the first one still loads: the view opens on
the first repository by itself, and its answer may come after the user's click. The
repository the user chose must stay on screen (CI once saw the late answer win)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Route, expect

from tests.support.console import DESKTOP, ConsolePage, Service
from tests.support.datasets_console import seed_repository

Opener = Callable[..., ConsolePage]


def test_a_late_answer_for_the_first_repository_does_not_replace_the_one_clicked(
    embedded: Service, open_console: Opener
) -> None:
    # Named to sort before any other test's repository: the view opens on it by itself.
    first, chosen = "0-a-opens-by-itself", "0-b-chosen-by-the-user"
    seed_repository(embedded.context, first)
    seed_repository(embedded.context, chosen)
    assert min(r.name for r in embedded.context.datasets.list_repositories()) == first
    console = open_console(embedded, "ds-selection", DESKTOP)
    page = console.page

    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(f"**/repositories/{first}/refs", hold_the_first)
    console.sign_in(embedded.token)
    console.go("datasets")
    # The view opened on the first repository in the list and asked for its refs: held.
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1

    # The user chooses another repository; its answer comes at once.
    page.click(f'#repo-list button[data-repo="{chosen}"]')
    expect(page.locator("#repo-panel h2")).to_have_text(chosen)
    page.wait_for_selector('#repo-panel .repo-content[data-rendered="log"]')

    # Now the held answer arrives, late. The page must drop it.
    with page.expect_event("requestfinished", lambda r: r.url.endswith(f"/{first}/refs")):
        held[0].continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
    expect(page.locator("#repo-panel h2")).to_have_text(chosen)
    current = page.locator('#repo-list button[aria-current="true"]')
    expect(current).to_have_attribute("data-repo", chosen)
    console.assert_no_errors()
