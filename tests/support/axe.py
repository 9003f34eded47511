"""axe-core, Deque's accessibility engine, run inside the page a browser test drives.

``axe.min.js`` beside this module is axe-core 4.14.1 from npm (MPL-2.0, its licence header
kept in the file), vendored so that the tests need no node at run time. It is evaluated
through the DevTools protocol (``page.evaluate``), which the console's Content-Security-Policy
(``script-src 'self'``) does not govern: no inline ``<script>``, so no CSP report in the
console the tests also watch for errors.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_SOURCE = Path(__file__).with_name("axe.min.js")

# axe's default rule set: WCAG 2.0/2.1/2.2 A and AA plus its best practices (experimental
# and AAA rules are off unless asked for).
_RUN = """async (context) => {
  const results = await window.axe.run(context ?? document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
  }));
}"""


@cache
def _source() -> str:
    return AXE_SOURCE.read_text(encoding="utf-8")


def axe_violations(page: Page, context: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (or inside the ``context`` selector).

    Each is ``{"id", "impact", "help", "nodes": [{"target", "summary"}]}``; an empty list
    is a page axe finds nothing wrong with.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source())
    violations: list[dict[str, Any]] = page.evaluate(_RUN, context)
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as lines a failed assertion can print."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"])
    return "\n".join(lines)
