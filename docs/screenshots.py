"""Take the desk screenshots the docs show: docs/desk-form.png and docs/desk-preview.png.

    .venv/bin/python docs/screenshots.py

It starts the real desk (`build.py serve --allow-draft`, training mode) on a throwaway copy of the
test fixture project (tests/fixtures/project), drives Debian's Chromium with Playwright at a ward
PC's 1366 x 768, and saves viewport-only shots (small files). No patient data: made-up details.
Needs the test extra (Playwright, chromium), as `python3 test.py` installs it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from cups_server import running_cups  # noqa: E402
from desk_server import running_desk  # noqa: E402
from helpers import make_project  # noqa: E402

VIEWPORT = {"width": 1366, "height": 768}
PDF_VIEWER_SECONDS = 4  # Chromium's PDF viewer draws the preview after the page has loaded


def fill(page, values: dict) -> None:
    for field, value in values.items():
        page.locator(f"#f-{field}").fill(value)


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="clearleaf-screenshots-") as tmp, running_cups("ward-7") as cups:
        project = make_project(Path(tmp) / "project")
        with running_desk(project, "--allow-draft", env={"CUPS_SERVER": cups.server}) as desk, \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                shoot(browser.new_context(viewport=VIEWPORT).new_page(), desk.url)
            finally:
                browser.close()
    for name in ("desk-form.png", "desk-preview.png"):
        print(f"wrote {(DOCS / name).relative_to(REPO)} ({(DOCS / name).stat().st_size // 1024} KB)")
    return 0


def shoot(page, url: str) -> None:
    # The form after a submit with two mistakes: the summary at the top, the fields marked.
    page.goto(url + "/leaflets/sample")
    page.locator("#i-second-insert").check()
    fill(page, {"reference": "MRN 0042", "name": "Ana Silva", "clinician": "Dr A. Patel",
                "medication-name": "Apixaban",
                "medication-dose": "5 mg, or 2.5 mg if the kidney blood test on Monday is low — ask"})
    submit(page, "form.handout-form button[type=submit]")
    # The focus is on the first field in error, further down; the shot shows the summary at the top.
    assert page.evaluate("document.activeElement.id") == "f-reference"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "desk-form.png"))

    # The preview after Download: the exact PDF, the result line and the three actions.
    fill(page, {"reference": "MRN-0042", "medication-dose": "5 mg"})
    submit(page, "form.handout-form button[type=submit]")
    with page.expect_download():
        submit(page, "form[action$='/download'] button")
    time.sleep(PDF_VIEWER_SECONDS)
    # The lower half of the PDF, the result line and the actions: what the nurse checks, then does.
    page.evaluate("window.scrollTo(0, document.getElementById('result').getBoundingClientRect().top"
                  " + window.scrollY - 250)")
    page.screenshot(path=str(DOCS / "desk-preview.png"))


if __name__ == "__main__":
    sys.exit(main())
