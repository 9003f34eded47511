"""Helpers for the browser tests of the console's datasets writes: seeded repositories,
keyboard-only moves, the width check of the datasets view, expected console errors."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page

from sartiq_storage.services.context import StorageContext
from tests.support.console import ConsolePage

MAX_TABS = 120
NARROW = {"width": 320, "height": 720}
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def seed_repository(context: StorageContext, name: str) -> None:
    """A repository with one commit on ``main`` and a branch ``relabel`` one commit ahead."""
    datasets = context.datasets
    datasets.create_repository(name, f"datasets/{name}")
    datasets.put_object(name, "main", "readme.txt", b"photos", content_type="text/plain")
    datasets.commit(name, "main", "Add the readme")
    datasets.create_branch(name, "relabel", "main")
    datasets.put_object(name, "relabel", "tops/0001.csv", b"id\n1\n", content_type="text/csv")
    datasets.commit(name, "relabel", "Relabel the tops")


def seed_conflicts(context: StorageContext, name: str, paths: list[str]) -> None:
    """``main`` and ``relabel`` both change every one of ``paths`` after they part."""
    datasets = context.datasets
    datasets.create_repository(name, f"datasets/{name}")
    datasets.put_object(name, "main", "readme.txt", b"photos", content_type="text/plain")
    datasets.commit(name, "main", "Add the readme")
    datasets.create_branch(name, "relabel", "main")
    for branch in ("main", "relabel"):
        for path in paths:
            datasets.put_object(name, branch, path, branch.encode(), content_type="text/csv")
        datasets.commit(name, branch, f"Labels on {branch}")


def show_mode(page: Page, mode: str) -> None:
    """Click the repository panel's ``mode`` button and wait until that view is drawn."""
    page.click(f'#repo-panel .segmented button[data-mode="{mode}"]')
    page.wait_for_selector(f'#repo-panel .repo-content[data-rendered="{mode}"]')


def is_focused(target: Locator) -> bool:
    return bool(target.evaluate("el => el === document.activeElement"))


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until ``target`` has the focus: the keyboard reaches it."""
    for _ in range(MAX_TABS):
        if is_focused(target):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"Tab never reached {target}")


def press_on(page: Page, target: Locator, key: str = "Enter") -> None:
    """Tab to ``target`` and press ``key`` on it (Enter for buttons and links)."""
    tab_to(page, target)
    page.keyboard.press(key)


def type_into(page: Page, target: Locator, text: str) -> None:
    """Tab to a field, select what it holds and type ``text`` over it."""
    tab_to(page, target)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def accessible_name(target: Locator) -> str:
    """The control's accessible name as the tests state it (aria-label, else its label text,
    else its own text), for the "name starts with its visible text" rule."""
    return str(
        target.evaluate(
            """el => el.getAttribute('aria-label')
                ?? (el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent)"""
        )
    ).strip()


def controls_named_by_visible_text(page: Page, root: str) -> list[str]:
    """Buttons under ``root`` whose accessible name does not start with their visible text."""
    problems: list[str] = page.evaluate(
        """root => [...document.querySelectorAll(root + ' button')]
            .filter(b => b.offsetParent !== null)
            .map(b => [b.innerText.trim(), (b.getAttribute('aria-label') ?? b.innerText).trim()])
            .filter(([text, name]) => !name.toLowerCase().startsWith(text.toLowerCase()))
            .map(([text, name]) => `${text} named ${name}`)""",
        root,
    )
    return problems


def wider_than_viewport(page: Page, root: str = "#view-datasets") -> list[str]:
    """Elements under ``root`` (and open dialogs) that reach past the viewport's right edge."""
    found: list[str] = page.evaluate(
        """root => {
            const width = document.documentElement.clientWidth;
            const all = [...document.querySelectorAll(root + ' *, dialog[open] *')];
            return all
              .filter(el => !el.closest('.table-wrap') || el.classList.contains('table-wrap'))
              .filter(el => el.getBoundingClientRect().right > width + 0.5)
              .map(el => `${el.tagName.toLowerCase()}.${el.className} `
                + `${Math.round(el.getBoundingClientRect().right)} > ${width}`);
        }""",
        root,
    )
    return found


def unexpected_errors(console: ConsolePage, *statuses: int) -> list[str]:
    """The page's console errors, less the browser's own line for each expected refusal."""
    return [
        e
        for e in console.errors
        if not ((m := _FAILED_LOAD.search(e)) and int(m.group(1)) in statuses)
    ]


def file_payload(name: str, data: bytes, mime: str) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def record_announcements(page: Page) -> None:
    """From now on, note every text the datasets view's live regions say."""
    page.evaluate(
        """() => {
            window.__said = [];
            for (const id of ['ds-status', 'ds-alert']) {
                const el = document.getElementById(id);
                new MutationObserver(() => {
                    if (el.textContent) window.__said.push(`${id}: ${el.textContent}`);
                }).observe(el, { childList: true, characterData: true, subtree: true });
            }
        }"""
    )


def announcements(page: Page) -> list[str]:
    """What the live regions said since :func:`record_announcements`."""
    said: list[str] = page.evaluate("window.__said")
    return said
