"""Choosing in the Datasets view while an earlier choice still loads: a repository, a ref for
the log or the listing, a folder, a diff, another page of objects, the repository an upload
goes to. Each earlier answer is held with a Playwright route until the later one is shown;
the later choice must stay on screen when the earlier answer comes (CI once saw the late
answer for the repository the view opened by itself win)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.support.console import DESKTOP, ConsolePage, Held, Service
from tests.support.datasets_console import file_payload, seed_repository, show_mode

pytestmark = pytest.mark.browser

Opener = Callable[..., ConsolePage]
# Named to sort before every other repository here: the view opens on it by itself.
FIRST = "0-a-opens-by-itself"


@pytest.fixture(scope="module")
def service(embedded: Service) -> Service:
    seed_repository(embedded.context, FIRST)
    return embedded


def _open(service: Service, open_console: Opener, repo: str) -> tuple[ConsolePage, Page]:
    """The console signed in, on the Datasets view of ``repo`` (seeded), its log shown."""
    seed_repository(service.context, repo)
    console = open_console(service, f"ds-{repo}", DESKTOP)
    console.sign_in(service.token)
    console.go("datasets")
    page = console.page
    page.click(f'#repo-list button[data-repo="{repo}"]')
    expect(page.locator("#repo-panel h2")).to_have_text(repo)
    page.wait_for_selector('#repo-panel .repo-content[data-rendered="log"]')
    return console, page


def _submit(page: Page) -> None:
    page.locator("#repo-panel form.toolbar button[type=submit]").click()


def _refs_held(page: Page, repo: str, act: Callable[[], object]) -> Held:
    """``act()`` with ``repo``'s next refs request held, once that request is held."""
    held = Held(page, re.compile(rf"/repositories/{repo}/refs$"))
    act()
    held.wait()
    return held


def test_a_late_answer_for_the_first_repository_does_not_replace_the_one_clicked(
    service: Service, open_console: Opener
) -> None:
    first, chosen = FIRST, "0-b-chosen-by-the-user"
    seed_repository(service.context, chosen)
    assert min(r.name for r in service.context.datasets.list_repositories()) == first
    console = open_console(service, "ds-selection", DESKTOP)
    page = console.page
    held = Held(page, re.compile(rf"/repositories/{first}/refs$"))
    console.sign_in(service.token)
    console.go("datasets")
    held.wait()  # the view opened on the first repository in the list and asked for its refs

    # The user chooses another repository; its answer comes at once.
    page.click(f'#repo-list button[data-repo="{chosen}"]')
    expect(page.locator("#repo-panel h2")).to_have_text(chosen)
    page.wait_for_selector('#repo-panel .repo-content[data-rendered="log"]')

    held.release()  # the first repository's refs, late: the page must drop them
    expect(page.locator("#repo-panel h2")).to_have_text(chosen)
    current = page.locator('#repo-list button[aria-current="true"]')
    expect(current).to_have_attribute("data-repo", chosen)
    console.assert_no_errors()


def test_the_log_of_the_ref_asked_last_stays_when_the_first_log_comes_late(
    service: Service, open_console: Opener
) -> None:
    console, page = _open(service, open_console, "late-log")
    # The user asks for main's log, then, before it comes, for relabel's.
    held = Held(page, re.compile(r"/repositories/late-log/log\?ref=main&"))
    _submit(page)
    held.wait()
    page.fill("#ds-ref", "relabel")
    _submit(page)
    summary = page.locator("#ds-log-summary")
    expect(summary).to_contain_text("reachable from relabel")

    held.release()  # main's log, late
    expect(summary).to_contain_text("reachable from relabel")
    expect(page.locator("#repo-panel .results")).to_contain_text("Relabel the tops")
    console.assert_no_errors()


def test_the_folder_opened_last_stays_when_the_first_listing_comes_late(
    service: Service, open_console: Opener
) -> None:
    """The flow of test_browser's dataset views: Browse opens on main by itself; the user
    asks for relabel and opens a folder before main's listing came."""
    console, page = _open(service, open_console, "late-browse")
    held = Held(page, re.compile(r"/repositories/late-browse/objects\?ref=main&amount=200$"))
    page.click('#repo-panel .segmented button[data-mode="browse"]')
    held.wait()
    page.fill("#ds-ref", "relabel")
    _submit(page)
    page.locator("#repo-panel tr.clickable", has_text="tops/").click()
    objects = page.locator("#repo-panel .results tbody tr")
    expect(objects).to_have_count(1)
    expect(objects.first).to_contain_text("0001.csv")

    held.release()  # main's top folder, late
    expect(objects).to_have_count(1)
    expect(objects.first).to_contain_text("0001.csv")
    expect(page.locator("#repo-panel .crumbs")).to_have_text("late-browse@relabel / tops")
    console.assert_no_errors()


def test_the_diff_compared_last_stays_when_the_first_comes_late(
    service: Service, open_console: Opener
) -> None:
    console, page = _open(service, open_console, "late-diff")
    show_mode(page, "diff")
    held = Held(page, re.compile(r"/repositories/late-diff/diff\?left=main&right=relabel&"))
    page.fill("#ds-left", "main")
    page.fill("#ds-right", "relabel")
    page.get_by_role("button", name="Compare").click()
    held.wait()
    page.fill("#ds-left", "relabel")
    page.fill("#ds-right", "main")
    page.get_by_role("button", name="Compare").click()
    results = page.locator("#repo-panel .results")
    expect(results).to_have_text("No differences between relabel and main.")

    held.release()  # main against relabel, late
    expect(results).to_have_text("No differences between relabel and main.")
    console.assert_no_errors()


def test_load_more_clicked_twice_adds_the_next_page_once(
    service: Service, open_console: Opener
) -> None:
    datasets = service.context.datasets
    datasets.create_repository("late-more", "datasets/late-more")
    for n in range(201):
        datasets.put_object("late-more", "main", f"{n:04}.txt", b"x", content_type="text/plain")
    datasets.commit("late-more", "main", "201 objects: a page of 200 and one more")
    console = open_console(service, "ds-late-more", DESKTOP)
    console.sign_in(service.token)
    console.go("datasets")
    page = console.page
    page.click('#repo-list button[data-repo="late-more"]')
    expect(page.locator("#repo-panel h2")).to_have_text("late-more")
    show_mode(page, "browse")
    rows = page.locator("#repo-panel .results tbody tr")
    expect(rows).to_have_count(200)

    held = Held(page, re.compile(r"/repositories/late-more/objects\?ref=main&after="))
    more = page.get_by_role("button", name="Load more")
    more.click()
    held.wait()
    more.click()  # a double click: the second answer comes first
    expect(rows).to_have_count(201)
    expect(more).to_have_count(0)

    held.release()  # the first click's page, late
    expect(rows).to_have_count(201)
    console.assert_no_errors()


def test_an_upload_goes_on_to_its_repository_after_another_is_chosen(
    service: Service, open_console: Opener
) -> None:
    """Four files, three at a time: the fourth starts after the user chose another
    repository, and still goes where the upload was asked to go."""
    seed_repository(service.context, "late-upload-b")
    console, page = _open(service, open_console, "late-upload-a")
    show_mode(page, "changes")
    page.fill("#ds-upload-folder", "late")
    names = [f"{n}.csv" for n in range(4)]
    page.set_input_files(
        "#ds-upload-files", [file_payload(n, b"id\n1\n", "text/csv") for n in names]
    )
    linked: list[str] = []
    page.on(
        "requestfinished",
        lambda request: linked.append(request.url) if "/objects/link?" in request.url else None,
    )
    held = Held(page, re.compile(r"/repositories/late-upload-a/branches/main/objects/presign"), 3)
    page.get_by_role("button", name="Upload", exact=True).click()
    held.wait(3)

    page.click('#repo-list button[data-repo="late-upload-b"]')
    expect(page.locator("#repo-panel h2")).to_have_text("late-upload-b")
    for n in range(3):
        held.release(n)
    for _ in range(500):
        if len(linked) == 4:
            break
        page.wait_for_timeout(20)
    assert len(linked) == 4, linked

    datasets = service.context.datasets
    stored = [
        item.path for item in datasets.list_objects("late-upload-a", "main", prefix="late/").items
    ]
    assert stored == [f"late/{n}" for n in names]
    assert not datasets.list_objects("late-upload-b", "main", prefix="late/").items
    console.assert_no_errors()


def test_the_panel_on_screen_acts_on_its_repository_while_another_loads(
    service: Service, open_console: Opener
) -> None:
    """The user chooses another repository; until its panel comes, the one on screen is
    still used, and shows its own repository's objects, not the one loading."""
    seed_repository(service.context, "late-panel-b")
    console, page = _open(service, open_console, "late-panel-a")
    held = _refs_held(
        page, "late-panel-b", lambda: page.click('#repo-list button[data-repo="late-panel-b"]')
    )
    show_mode(page, "browse")
    expect(page.locator("#repo-panel h2")).to_have_text("late-panel-a")
    expect(page.locator("#repo-panel .crumbs")).to_have_text("late-panel-a@main")

    held.release()  # the chosen repository's panel comes
    expect(page.locator("#repo-panel h2")).to_have_text("late-panel-b")
    page.wait_for_selector('#repo-panel .repo-content[data-rendered="browse"]')
    expect(page.locator("#repo-panel .crumbs")).to_have_text("late-panel-b@main")
    console.assert_no_errors()


def test_a_late_list_of_repositories_does_not_draw_the_panel_anew(
    service: Service, open_console: Opener
) -> None:
    """The view is opened, left and opened again before its first list of repositories came:
    that list, late, must not draw the chosen repository anew over what the user typed."""
    seed_repository(service.context, "late-list")
    console = open_console(service, "ds-late-list", DESKTOP)
    page = console.page
    console.sign_in(service.token)
    held = Held(page, re.compile(r"/api/v1/datasets/repositories$"))
    console.go("datasets")
    held.wait()
    console.go("upload")
    console.go("datasets")
    page.click('#repo-list button[data-repo="late-list"]')
    expect(page.locator("#repo-panel h2")).to_have_text("late-list")
    show_mode(page, "changes")
    page.fill("#ds-commit-message", "typed before the late list came")

    held.release()  # the first opening's list, late
    expect(page.locator("#ds-commit-message")).to_have_value("typed before the late list came")
    expect(page.locator('#repo-list button[aria-current="true"]')).to_have_attribute(
        "data-repo", "late-list"
    )
    console.assert_no_errors()


def test_branches_chosen_again_are_not_drawn_anew_by_the_first_answer(
    service: Service, open_console: Opener
) -> None:
    """Branches, Log, Branches again: the first Branches answer, late, must not draw the view
    anew over the branch name the user typed into the second."""
    console, page = _open(service, open_console, "late-branches")
    held = _refs_held(
        page, "late-branches", lambda: page.click('#repo-panel .segmented button[data-mode="refs"]')
    )
    show_mode(page, "log")
    page.click('#repo-panel .segmented button[data-mode="refs"]')
    page.fill("#ds-new-branch", "typed-meanwhile")

    held.release()  # the first Branches answer, late
    expect(page.locator("#ds-new-branch")).to_have_value("typed-meanwhile")
    console.assert_no_errors()


def test_two_quick_removals_of_protection_rules_both_hold(
    service: Service, open_console: Opener
) -> None:
    """Each change sends the whole list of rules: a second Remove clicked while the first is
    on its way would send the list from before it, and put the first rule back."""
    console, page = _open(service, open_console, "late-rules")
    service.context.datasets.set_branch_protection("late-rules", ["a-*", "b-*"])
    show_mode(page, "refs")
    rule = page.locator("#repo-panel .ds-section .ds-rows li")
    expect(rule).to_have_count(2)
    held = Held(page, re.compile(r"/repositories/late-rules/branch-protection$"), method="PUT")
    page.get_by_role("button", name="Remove rule a-*").click()
    held.wait()
    # While the first change is on its way, the list it was made from cannot be changed again.
    expect(page.get_by_role("button", name="Remove rule b-*")).to_be_disabled()

    held.release()
    expect(page.locator("#ds-status")).to_have_text("Removed the protection rule a-*.")
    expect(rule).to_have_count(1)
    page.get_by_role("button", name="Remove rule b-*").click()
    expect(page.locator("#ds-status")).to_have_text("Removed the protection rule b-*.")
    expect(page.locator("#repo-panel")).to_contain_text("No branch is protected.")
    assert service.context.datasets.get_branch_protection("late-rules") == []
    console.assert_no_errors()


def test_the_view_opened_again_keeps_the_repository_chosen_while_it_loads(
    service: Service, open_console: Opener
) -> None:
    """The user chooses a repository, and leaves and opens the view again before its panel
    came: the view, opened again, goes on with that repository, not the first in the list."""
    seed_repository(service.context, "late-reopen")
    console, page = _open(service, open_console, "late-reopen-other")
    held = _refs_held(
        page, "late-reopen", lambda: page.click('#repo-list button[data-repo="late-reopen"]')
    )
    console.go("upload")
    console.go("datasets")
    expect(page.locator("#repo-panel h2")).to_have_text("late-reopen")
    page.wait_for_selector('#repo-panel .repo-content[data-rendered="log"]')

    held.release()  # the first answer for it, late: dropped, the panel stays
    expect(page.locator("#repo-panel h2")).to_have_text("late-reopen")
    expect(page.locator('#repo-list button[aria-current="true"]')).to_have_attribute(
        "data-repo", "late-reopen"
    )
    console.assert_no_errors()


def test_the_news_of_a_write_comes_with_the_view_drawn_anew(
    service: Service, open_console: Opener
) -> None:
    """A tag is created; the Branches view is drawn anew from the store (held here). Until
    it is, the status says nothing yet and the form waits: "Created tag" before the redraw
    let the user (and the keyboard test, under a 300 ms server jitter) type into a form that
    the redraw then replaced."""
    console, page = _open(service, open_console, "late-news")
    show_mode(page, "refs")
    page.fill("#ds-new-tag", "v9")
    # Created; the view then asks for the refs to draw itself anew.
    held = _refs_held(
        page, "late-news", lambda: page.get_by_role("button", name="Create tag").click()
    )
    expect(page.locator("#ds-status")).to_have_text("")
    expect(page.locator("#ds-new-tag")).to_be_disabled()

    held.release()
    expect(page.locator("#ds-status")).to_contain_text("Created tag v9")
    expect(page.locator("#repo-panel")).to_contain_text("Tags (1)")
    expect(page.locator("#ds-new-tag")).to_be_enabled()
    expect(page.locator("#ds-new-tag")).to_be_focused()
    console.assert_no_errors()


def test_what_is_typed_into_the_other_forms_stays_when_one_form_writes(
    service: Service, open_console: Opener
) -> None:
    """A branch is created; while the view is drawn anew (its refs held here) the user types a
    tag name and a protection pattern. The view drawn anew lists the branch, keeps both typed
    values and the focus (with its caret) in the tag name; only the form that wrote starts
    afresh. The redraw wiped them, and moved the focus to the branch name."""
    console, page = _open(service, open_console, "late-typed")
    show_mode(page, "refs")
    page.fill("#ds-new-branch", "dev")
    # Created; the view then asks for the refs to draw itself anew.
    held = _refs_held(
        page, "late-typed", lambda: page.get_by_role("button", name="Create branch").click()
    )
    page.fill("#ds-new-rule", "release-*")
    page.fill("#ds-new-tag", "v1")

    held.release()
    expect(page.locator("#ds-status")).to_have_text("Created branch dev from main.")
    expect(page.locator('.ds-rows li[data-branch="dev"]')).to_be_visible()
    expect(page.locator("#ds-new-branch")).to_have_value("")
    expect(page.locator("#ds-new-rule")).to_have_value("release-*")
    expect(page.locator("#ds-new-tag")).to_have_value("v1")
    expect(page.locator("#ds-new-tag")).to_be_focused()
    page.keyboard.type("-rc")  # the caret is where it was
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#ds-status")).to_contain_text("Created tag v1-rc")
    expect(page.locator("#ds-new-tag")).to_have_value("")
    expect(page.locator("#ds-new-rule")).to_have_value("release-*")
    console.assert_no_errors()
