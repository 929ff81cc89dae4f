"""Real-browser helpers: Debian's Chromium driven by Playwright, and axe-core's WCAG checks.

    from browser import axe_violations, format_violations, open_page

    @pytest.mark.browser
    def test_page_is_accessible(chromium_browser, live_server):
        with open_page(chromium_browser, live_server.url + "/") as page:
            violations = axe_violations(page)
            assert not violations, format_violations(violations)

`chromium_browser` is a session fixture (one Chromium per test run; conftest.py exposes it).
Each `open_page` is a fresh browser context, so cookies and storage never leak between tests.
Chromium is Debian's package (bootstrap.py installs it for the test group); Playwright's own
browser download is never used. A missing browser fails the test, it never skips: CI must run these.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox: Chromium refuses to start as root with its sandbox, and tests here run as root
# (Playwright passes it too unless chromium_sandbox=True; it is spelled out so that stays true).
# --disable-dev-shm-usage: keep shared memory in /tmp, so a small /dev/shm (containers) cannot crash it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe-core's rule tags).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def chromium_browser():
    """A headless Debian Chromium (playwright.sync_api.Browser), shared by the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `python3 test.py` (bootstrap.py installs Debian's "
                    "chromium) or `apt-get install chromium`", pytrace=False)
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright is not installed ({exc}): run `python3 test.py`, which installs the "
                    "test extra from pyproject.toml", pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=CHROMIUM_ARGS)
        except Error as exc:
            pytest.fail(f"{CHROMIUM} would not start under Playwright:\n{exc}", pytrace=False)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser, url: str | None = None, **context_options) -> Iterator:
    """A page in a new browser context (own cookies and storage), closed afterwards.

    context_options go to Browser.new_context (e.g. viewport, locale, color_scheme, reduced_motion).
    """
    context_options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(**context_options)
    try:
        page = context.new_page()
        if url is not None:
            page.goto(url)
        yield page
    finally:
        context.close()


def axe_violations(page, context: str | list | dict | None = None) -> list[dict]:
    """Run axe-core on the page as it is now; return WCAG 2.0/2.1/2.2 A and AA violations.

    Each violation is {"id", "impact", "help", "help_url", "targets"}, targets being one CSS
    selector string per offending node. `context` narrows the check (an axe-core context,
    e.g. "main" or {"exclude": [".third-party"]}).
    """
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = Axe().run(page, context=context, options=options)
    return [{"id": v["id"], "impact": v.get("impact"), "help": v["help"], "help_url": v.get("helpUrl", ""),
             "targets": [_target(node["target"]) for node in v["nodes"]]}
            for v in results.response["violations"]]


def _target(target: list) -> str:
    # axe-core gives one selector per frame, and a list of selectors for an element in shadow DOM.
    return " >> ".join(part if isinstance(part, str) else " >>> ".join(part) for part in target)


def format_violations(violations: list[dict]) -> str:
    """A readable list of axe violations, for assertion messages."""
    if not violations:
        return "no accessibility violations"
    lines = [f"{len(violations)} accessibility violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  {v['help_url']}")
        lines += [f"    {target}" for target in v["targets"]]
    return "\n".join(lines)
