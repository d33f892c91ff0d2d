"""axe-core in the page: the WCAG 2.1 A/AA rules (and best practices), as Deque ships them.

The script comes from the `axe-playwright-python` package (its bundled axe.min.js);
it is evaluated through the DevTools protocol, which the pages' CSP (no script at
all) does not govern, so the pages are checked exactly as served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axe_playwright_python.base import AXE_SCRIPT  # type: ignore[import-untyped]  # no py.typed

if TYPE_CHECKING:
    from playwright.sync_api import Page

RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")


def violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules},"
        " resultTypes: ['violations']})",
        RULES,
    )
    return list(result["violations"])


def blocking(page: Page) -> list[str]:
    """The serious and critical violations, one line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations(page)
        if v["impact"] in BLOCKING
    ]
