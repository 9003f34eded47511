"""axe-core in the page under test: the accessibility rules a browser test asserts.

``axe.min.js`` beside this module is axe-core's own build (npm ``axe-core`` 4.14.1, MPL-2.0,
the one file its package ships for browsers), kept here so tests need no Node toolchain. It
is evaluated through Playwright's protocol, which the page's Content-Security-Policy does not
apply to (the console allows no inline script).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).with_name("axe.min.js")
RUN_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}
"""Every rule axe runs by default: WCAG 2.x A and AA and the best practices."""


@cache
def _source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, include: list[str] | None = None) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (or within the ``include`` selectors)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_source())
    context: Any = {"include": [[s] for s in include]} if include else None
    result: dict[str, Any] = page.evaluate(
        "([context, options]) => axe.run(context ?? document, options)", [context, RUN_OPTIONS]
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node: the rule, its impact and where."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node['failureSummary']}"
        for v in violations
        for node in v["nodes"]
    )
