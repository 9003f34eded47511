"""The console's datasets writes in real headless Chromium: branches, uploads with progress,
uncommitted changes, commits with metadata, diff, merge with every conflict listed and a
strategy, revert, tags and branch protection; by mouse at 1280, 390 and 320 px and by keyboard
alone; a read-only token sees no write control; axe-core finds nothing on the view."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from sartiq_storage.core.tokens import issue_token
from tests.support.axe import axe_violations, describe
from tests.support.console import DESKTOP, JWT_SECRET, PHONE, ConsolePage, Service
from tests.support.datasets_console import (
    NARROW,
    accessible_name,
    announcements,
    controls_named_by_visible_text,
    file_payload,
    press_on,
    record_announcements,
    seed_conflicts,
    seed_repository,
    show_mode,
    tab_to,
    type_into,
    unexpected_errors,
    wider_than_viewport,
)

Opener = Callable[..., ConsolePage]
SIZES = [DESKTOP, PHONE, NARROW]
SIZE_IDS = ["1280px", "390px", "320px"]
MODES = ["log", "changes", "diff", "merge", "browse", "refs"]


def _open_repo(console: ConsolePage, service: Service, repo: str, token: str | None = None) -> Page:
    console.sign_in(token or service.token)
    console.go("datasets")
    page = console.page
    page.click(f'#repo-list button[data-repo="{repo}"]')
    expect(page.locator("#repo-panel h2")).to_have_text(repo)
    return page


def _mode_by_keyboard(page: Page, mode: str) -> None:
    press_on(page, page.locator(f'#repo-panel .segmented button[data-mode="{mode}"]'))
    page.wait_for_selector(f'#repo-panel .repo-content[data-rendered="{mode}"]')


def _fits(page: Page) -> None:
    assert wider_than_viewport(page) == []
    assert controls_named_by_visible_text(page, "#view-datasets") == []


@pytest.mark.parametrize("viewport", SIZES, ids=SIZE_IDS)
def test_every_write_flow_with_the_mouse(
    embedded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    repo = f"writes-{width}"
    seed_repository(embedded.context, repo)
    console = open_console(embedded, f"ds-writes-{width}", viewport)
    page = _open_repo(console, embedded, repo)

    # Create a branch.
    show_mode(page, "refs")
    page.fill("#ds-new-branch", "dev")
    page.fill("#ds-new-branch-source", "main")
    page.get_by_role("button", name="Create branch").click()
    expect(page.locator("#ds-status")).to_have_text("Created branch dev from main.")
    dev = page.locator('.ds-rows li[data-branch="dev"]')
    expect(dev).to_be_visible()
    expect(page.get_by_role("button", name="Delete branch dev")).to_be_visible()
    expect(page.get_by_role("button", name=f"Delete branch {'main'}")).to_have_count(0)
    _fits(page)
    console.shot("1-branch-created")

    # Upload two files onto dev, each with its named progress bar, one announcement.
    show_mode(page, "changes")
    page.select_option("#ds-changes-branch", "dev")
    expect(page.locator("#ds-changes-list")).to_contain_text("No uncommitted changes on dev")
    page.fill("#ds-upload-folder", "labels")
    page.set_input_files(
        "#ds-upload-files",
        [
            file_payload("tops.csv", b"id,label\n1,top\n" * 2000, "text/csv"),
            file_payload("shoes.csv", b"id,label\n2,shoe\n", "text/csv"),
        ],
    )
    record_announcements(page)
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append((request.method, request.url)))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#ds-status")).to_have_text(
        "Uploaded 2 files to dev: uncommitted until you commit."
    )
    # Pre-signed: the bytes went to the signed store route, the API only signed and linked.
    puts = [u for m, u in sent if m == "PUT"]
    assert len(puts) == 2
    assert all("/_storage/objects/" in u and "zone=datasets" in u for u in puts), puts
    assert len([u for m, u in sent if m == "POST" and "/objects/link?" in u]) == 2
    expect(changes := page.locator("#ds-changes-list tbody tr")).to_have_count(2)
    # One announcement for the whole operation, not one per file or percent.
    assert announcements(page) == [
        "ds-status: Uploaded 2 files to dev: uncommitted until you commit."
    ]
    expect(page.get_by_role("progressbar", name="Upload of tops.csv")).to_have_attribute(
        "value", "1"
    )
    expect(page.get_by_role("progressbar", name="Upload of shoes.csv")).to_be_visible()
    expect(changes.first).to_contain_text("labels/shoes.csv")
    _fits(page)
    console.shot("2-uploaded")

    # Commit with a message and metadata.
    page.fill("#ds-commit-message", "Label tops and shoes")
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_role("textbox", name="Key 1").fill("source")
    page.get_by_role("textbox", name="Value 1").fill("annotators")
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_role("textbox", name="Key 2").fill("batch")
    page.get_by_role("textbox", name="Value 2").fill("7")
    page.get_by_role("button", name="Commit changes").click()
    expect(page.locator("#ds-status")).to_contain_text("on dev.")
    expect(page.locator("#ds-changes-list")).to_contain_text("No uncommitted changes on dev")
    head = embedded.context.datasets.log(repo, "dev", amount=1)[0]
    assert head.message == "Label tops and shoes"
    assert dict(head.metadata) == {"source": "annotators", "batch": "7"}
    assert head.committer == "console-tests"
    console.shot("3-committed")

    # The log shows it with its metadata; diff main...dev.
    show_mode(page, "log")
    page.fill("#ds-ref", "dev")
    page.locator("#repo-panel form.toolbar button[type=submit]").click()
    expect(page.locator("#repo-panel .results")).to_contain_text("batch=7 · source=annotators")
    show_mode(page, "diff")
    page.fill("#ds-left", "main")
    page.fill("#ds-right", "dev")
    page.get_by_role("button", name="Compare").click()
    rows = page.locator("#repo-panel .results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("labels/shoes.csv")
    console.shot("4-diff")

    # Merge dev into main.
    show_mode(page, "merge")
    page.fill("#ds-merge-source", "dev")
    page.select_option("#ds-merge-into", "main")
    page.fill("#ds-merge-message", "Labels reviewed")
    page.get_by_role("button", name="Run merge").click()
    expect(page.locator("#ds-merge-result")).to_contain_text("Merged dev into main")
    assert embedded.context.datasets.log(repo, "main", amount=1)[0].message == "Labels reviewed"
    _fits(page)
    console.shot("5-merged")

    # Revert the labels commit on dev.
    show_mode(page, "log")
    page.fill("#ds-ref", "dev")
    page.locator("#repo-panel form.toolbar button[type=submit]").click()
    page.get_by_role("button", name=f"Revert commit {head.id[:12]}").click()
    dialog = page.get_by_role("dialog", name=f"Revert commit {head.id[:12]} on dev?")
    expect(dialog).to_be_visible()
    _fits(page)
    console.shot("6-revert-dialog")
    dialog.get_by_role("button", name="Revert commit").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#ds-status")).to_contain_text(f"Reverted {head.id[:12]} on dev")
    assert not embedded.context.datasets.list_objects(repo, "dev", prefix="labels/").items

    # Tag main, protect it, and a direct upload to it is refused, said assertively.
    show_mode(page, "refs")
    page.fill("#ds-new-tag", "v1")
    page.fill("#ds-new-tag-ref", "main")
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#ds-status")).to_contain_text("Created tag v1")
    page.fill("#ds-new-rule", "main")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#ds-status")).to_have_text("Protected main.")
    expect(page.locator('.ds-rows li[data-branch="main"]')).to_contain_text("protected")
    expect(page.get_by_role("button", name="Remove rule main")).to_be_visible()
    _fits(page)
    console.shot("7-tag-and-protection")
    show_mode(page, "changes")
    page.select_option("#ds-changes-branch", "main")
    page.set_input_files("#ds-upload-files", [file_payload("x.csv", b"x", "text/csv")])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#ds-alert")).to_contain_text("0 of 1 files")
    expect(page.locator("#ds-alert")).to_contain_text("Refused: ")
    expect(page.locator("#ds-alert")).to_contain_text("protected")
    expect(page.locator(".ds-upload-row")).to_have_attribute("data-state", "error")
    console.shot("8-protected-refused")

    # Delete the branch through its dialog; focus lands on the branch list's heading.
    show_mode(page, "refs")
    page.get_by_role("button", name="Delete branch dev").click()
    dialog = page.get_by_role("dialog", name="Delete branch dev?")
    dialog.get_by_role("button", name="Delete branch").click()
    expect(page.locator("#ds-status")).to_have_text("Deleted branch dev.")
    expect(page.locator('.ds-rows li[data-branch="dev"]')).to_have_count(0)
    expect(page.locator("#ds-branches-heading")).to_be_focused()
    console.shot("9-branch-deleted")
    assert unexpected_errors(console, 403) == []


@pytest.mark.parametrize("viewport", SIZES, ids=SIZE_IDS)
def test_a_merge_lists_every_conflict_then_a_strategy_resolves_them(
    embedded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    repo = f"conflicts-{width}"
    paths = [f"labels/{i:02}.csv" for i in range(8)]
    seed_conflicts(embedded.context, repo, paths)
    console = open_console(embedded, f"ds-conflicts-{width}", viewport)
    page = _open_repo(console, embedded, repo)
    show_mode(page, "merge")
    page.fill("#ds-merge-source", "relabel")
    page.select_option("#ds-merge-into", "main")
    page.get_by_role("button", name="Run merge").click()
    heading = page.locator("#ds-conflicts-heading")
    expect(heading).to_have_text("8 conflicts")
    expect(heading).to_be_focused()
    expect(page.locator(".ds-conflicts li")).to_have_text(paths)  # all eight, in order
    expect(page.locator("#ds-alert")).to_have_text(
        "Merge stopped: 8 conflicts between relabel and main. Nothing was merged."
    )
    _fits(page)
    console.shot("1-conflicts")
    page.select_option("#ds-merge-strategy", "source-wins")
    page.get_by_role("button", name="Run merge").click()
    expect(page.locator("#ds-merge-result")).to_contain_text("Merged relabel into main")
    assert embedded.context.datasets.diff(repo, "main", "relabel", mode="two_dot") == []
    console.shot("2-resolved")
    assert unexpected_errors(console, 409) == []


def test_every_flow_by_keyboard_alone(embedded: Service, open_console: Opener) -> None:
    repo = "keyboard"
    seed_repository(embedded.context, repo)
    console = open_console(embedded, "ds-keyboard", DESKTOP)
    page = console.page
    # Intercept file pickers from the start: Playwright turns the interception on without
    # waiting when expect_file_chooser begins, and the Space below could get there first (a
    # picker that never came, 1 run in 6 here), as test_accessibility's keyboard test says.
    page.on("filechooser", lambda _chooser: None)
    type_into(page, page.locator("#token-input"), embedded.token)
    press_on(page, page.locator("#signin-button"))
    page.wait_for_selector("#app:not([hidden])")
    press_on(page, page.locator('.tabs a[data-tab="datasets"]'))
    press_on(page, page.locator(f'#repo-list button[data-repo="{repo}"]'))
    expect(page.locator("#repo-panel h2")).to_have_text(repo)

    # Branch.
    _mode_by_keyboard(page, "refs")
    type_into(page, page.locator("#ds-new-branch"), "kb")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("#ds-status")).to_have_text("Created branch kb from main.")
    expect(page.locator("#ds-new-branch")).to_be_focused()  # ready for the next one

    # Upload: Space on the file input opens the chooser; Enter on Upload sends.
    _mode_by_keyboard(page, "changes")
    branch = page.locator("#ds-changes-branch")
    tab_to(page, branch)
    page.keyboard.type("kb")  # a select follows typed letters
    expect(branch).to_have_value("kb")
    expect(page.locator("#ds-changes-list")).to_contain_text("No uncommitted changes on kb")
    tab_to(page, page.locator("#ds-upload-files"))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([file_payload("k.csv", b"k\n", "text/csv")])
    press_on(page, page.get_by_role("button", name="Upload", exact=True))
    expect(page.locator("#ds-status")).to_have_text(
        "Uploaded 1 file to kb: uncommitted until you commit."
    )

    # Commit with metadata.
    type_into(page, page.locator("#ds-commit-message"), "By keyboard")
    press_on(page, page.get_by_role("button", name="Add metadata"))
    expect(page.get_by_role("textbox", name="Key 1")).to_be_focused()
    page.keyboard.type("via")
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard")
    press_on(page, page.get_by_role("button", name="Commit changes"))
    expect(page.locator("#ds-status")).to_contain_text("on kb.")
    expect(page.locator("#ds-changes-heading")).to_be_focused()
    head = embedded.context.datasets.log(repo, "kb", amount=1)[0]
    assert (head.message, dict(head.metadata)) == ("By keyboard", {"via": "keyboard"})

    # Diff.
    _mode_by_keyboard(page, "diff")
    type_into(page, page.locator("#ds-right"), "kb")
    page.keyboard.press("Enter")
    expect(page.locator("#repo-panel .results tbody tr")).to_have_count(1)

    # Merge kb into main.
    _mode_by_keyboard(page, "merge")
    type_into(page, page.locator("#ds-merge-source"), "kb")
    press_on(page, page.get_by_role("button", name="Run merge"))
    expect(page.locator("#ds-merge-result")).to_contain_text("Merged kb into main")

    # Revert on kb: the dialog traps Tab, Escape gives focus back, Enter confirms.
    _mode_by_keyboard(page, "log")
    type_into(page, page.locator("#ds-ref"), "kb")
    page.keyboard.press("Enter")
    revert = page.get_by_role("button", name=f"Revert commit {head.id[:12]}")
    press_on(page, revert)
    dialog = page.get_by_role("dialog")
    cancel = dialog.get_by_role("button", name="Cancel")
    confirm = dialog.get_by_role("button", name="Revert commit")
    expect(cancel).to_be_focused()
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    expect(cancel).to_be_focused()  # wrapped: focus stays in the dialog
    page.keyboard.press("Shift+Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(revert).to_be_focused()  # returned to its opener
    press_on(page, revert)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#ds-status")).to_contain_text(f"Reverted {head.id[:12]} on kb")
    expect(page.locator("#ds-log-summary")).to_be_focused()

    # Tag, protection rule and its removal, branch deletion.
    _mode_by_keyboard(page, "refs")
    type_into(page, page.locator("#ds-new-tag"), "kb-1")
    page.keyboard.press("Enter")
    expect(page.locator("#ds-status")).to_contain_text("Created tag kb-1")
    type_into(page, page.locator("#ds-new-rule"), "release-*")
    page.keyboard.press("Enter")
    expect(page.locator("#ds-status")).to_have_text("Protected release-*.")
    press_on(page, page.get_by_role("button", name="Remove rule release-*"))
    expect(page.locator("#ds-status")).to_have_text("Removed the protection rule release-*.")
    expect(page.locator("#ds-protection-heading")).to_be_focused()
    delete = page.get_by_role("button", name="Delete branch kb")
    tab_to(page, delete, backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Delete branch kb?")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#ds-status")).to_have_text("Deleted branch kb.")
    expect(page.locator("#ds-branches-heading")).to_be_focused()
    console.shot("done")
    console.assert_no_errors()


def test_a_read_only_token_sees_no_write_control_and_a_write_is_a_clear_error(
    embedded: Service, open_console: Opener
) -> None:
    repo = "read-only"
    seed_repository(embedded.context, repo)
    reader = issue_token(JWT_SECRET, "viewer", scopes=["datasets:read"])
    console = open_console(embedded, "ds-read-only", DESKTOP)
    page = _open_repo(console, embedded, repo, reader)
    modes = page.locator("#repo-panel .segmented button")
    expect(modes).to_have_text(["Log", "Changes", "Diff", "Browse", "Branches"])  # no Merge
    page.fill("#ds-ref", "relabel")
    page.locator("#repo-panel form.toolbar button[type=submit]").click()
    expect(page.locator("#repo-panel .results")).to_contain_text("Relabel the tops")
    expect(page.get_by_role("button", name="Revert")).to_have_count(0)
    show_mode(page, "changes")
    expect(page.locator("#ds-changes-list")).to_contain_text("No uncommitted changes")
    expect(page.locator("#ds-upload-files")).to_have_count(0)
    expect(page.locator("#ds-commit-message")).to_have_count(0)
    show_mode(page, "refs")
    expect(page.locator('.ds-rows li[data-branch="relabel"]')).to_be_visible()
    expect(page.locator("#repo-panel form")).to_have_count(0)
    expect(page.locator("#repo-panel button", has_text="Delete")).to_have_count(0)
    console.shot("1-read-only")
    console.assert_no_errors()

    # The page trusts what GET /api/v1/token says; if it claimed datasets:write, the service
    # still refuses the write and the page says why, assertively.
    claimed = open_console(embedded, "ds-claimed-write", DESKTOP)
    claimed.page.route(
        "**/api/v1/token",
        lambda route: route.fulfill(
            json={"subject": "viewer", "scopes": ["datasets:read", "datasets:write"]}
        ),
    )
    page = _open_repo(claimed, embedded, repo, reader)
    show_mode(page, "refs")
    page.fill("#ds-new-branch", "sneaky")
    page.get_by_role("button", name="Create branch").click()
    alert = page.locator("#ds-alert")
    expect(alert).to_contain_text("Not allowed: this token may read datasets but not change them")
    expect(alert).to_contain_text("datasets:write")
    expect(page.locator("#repo-panel .ds-inline-error", has_text="Not allowed")).to_have_count(1)
    assert page.locator("#ds-alert").get_attribute("role") == "alert"
    branches = [b.name for b in embedded.context.datasets.list_branches(repo)]
    assert branches == ["main", "relabel"]
    claimed.shot("2-refused")
    assert unexpected_errors(claimed, 403) == []


@pytest.mark.parametrize("viewport", SIZES, ids=SIZE_IDS)
def test_axe_finds_nothing_on_the_datasets_view(
    embedded: Service, open_console: Opener, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    repo = f"axe-{width}"
    seed_conflicts(embedded.context, repo, ["labels/a.csv", "labels/b.csv"])
    embedded.context.datasets.set_branch_protection(repo, ["main"])
    console = open_console(embedded, f"ds-axe-{width}", viewport)
    page = _open_repo(console, embedded, repo)
    found: dict[str, str] = {}

    def check(step: str) -> None:
        violations = axe_violations(page)  # the whole page: the view, the top bar, a dialog
        if violations:
            found[step] = describe(violations)
        assert wider_than_viewport(page) == [], step

    page.fill("#ds-ref", "relabel")
    page.locator("#repo-panel form.toolbar button[type=submit]").click()
    expect(page.get_by_role("button", name="Revert").first).to_be_visible()
    check("log")
    for mode in MODES[1:]:
        show_mode(page, mode)
        check(mode)
    show_mode(page, "changes")
    page.select_option("#ds-changes-branch", "relabel")
    page.set_input_files("#ds-upload-files", [file_payload("n.csv", b"n", "text/csv")])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#ds-changes-list tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Add metadata").click()
    check("changes with an upload and metadata")
    show_mode(page, "merge")
    page.fill("#ds-merge-source", "relabel")
    page.get_by_role("button", name="Run merge").click()
    expect(page.locator("#ds-conflicts-heading")).to_be_visible()
    check("merge conflicts")
    show_mode(page, "refs")
    page.get_by_role("button", name="Delete branch relabel").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    check("delete dialog")
    console.shot("axe")
    assert found == {}, "\n".join(f"{k}:\n{v}" for k, v in found.items())
    assert accessible_name(page.get_by_role("dialog").get_by_role("button").last) == (
        "Delete branch"
    )
    assert unexpected_errors(console, 409) == []


def test_a_refused_revert_stays_in_its_dialog_and_says_why(
    embedded: Service, open_console: Opener
) -> None:
    repo = "dirty"
    seed_repository(embedded.context, repo)
    embedded.context.datasets.put_object(repo, "relabel", "wip.csv", b"w", content_type="text/csv")
    head = embedded.context.datasets.log(repo, "relabel", amount=1)[0]
    console = open_console(embedded, "ds-dialog-error", PHONE)
    page = _open_repo(console, embedded, repo)
    page.fill("#ds-ref", "relabel")
    page.locator("#repo-panel form.toolbar button[type=submit]").click()
    revert = page.get_by_role("button", name=f"Revert commit {head.id[:12]}")
    revert.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Revert commit").click()
    error = dialog.get_by_role("alert")
    expect(error).to_contain_text("uncommitted changes")  # the engine's reason, in the dialog
    expect(dialog.get_by_role("button", name="Revert commit")).to_be_focused()
    assert wider_than_viewport(page) == []
    console.shot("1-refused-in-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(revert).to_be_focused()
    assert len(embedded.context.datasets.log(repo, "relabel", amount=10)) == 3  # nothing made
    assert unexpected_errors(console, 400) == []
