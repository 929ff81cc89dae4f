"""Take the website screenshots docs/site.md shows: docs/site/phone.png and docs/site/desktop.png.

    .venv/bin/python docs/site_screenshots.py

It builds the real leaflets' website (`build.py site`) into a throwaway folder, opens it
straight from the folder (file://) in Debian's Chromium with Playwright, and saves
viewport-only shots, reduced to 256 colours so that they stay small: the DVT leaflet on a
375 x 812 phone, and the venous stent insert on a 1280 x 800 desktop. Needs the test
extra (Playwright, chromium), as `python3 test.py` installs it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SHOTS = {  # file -> (page of the site, viewport)
    "phone.png": ("dvt/index.html", {"width": 375, "height": 812}),
    "desktop.png": ("venous-stent/index.html", {"width": 1280, "height": 800}),
}


def main() -> int:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from clearleaf import site
    from clearleaf.config import Project

    (DOCS / "site").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clearleaf-site-shots-") as tmp, sync_playwright() as playwright:
        out = Path(tmp) / "site"
        site.build(Project(REPO), out)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for name, (path, viewport) in SHOTS.items():
                page = browser.new_context(viewport=viewport).new_page()
                page.goto((out / path).as_uri())
                page.evaluate("document.fonts.ready.then(() => true)")
                target = DOCS / "site" / name
                page.screenshot(path=str(target))
                Image.open(target).convert("RGB").quantize(256).save(target, optimize=True)
                print(f"wrote {target.relative_to(REPO)} ({target.stat().st_size // 1024} KB)")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
