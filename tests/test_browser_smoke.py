"""The real-browser harness works: Debian's Chromium opens a page served on loopback, takes a
screenshot, and axe-core passes an accessible page and catches an inaccessible one."""

from __future__ import annotations

import functools
import http.server
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from browser import axe_violations, format_violations, open_page

GOOD = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Compression stockings</title></head>
<body>
<main>
<h1>Compression stockings</h1>
<p>Wear them every day, from when you get up until you go to bed.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A knee-length stocking">
<a href="/">Back to all leaflets</a>
</main>
</body>
</html>
"""

BAD = GOOD.replace(' alt="A knee-length stocking"', "")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  the base class's name
        pass


@contextmanager
def serving(root: Path):
    """Serve `root` over HTTP on 127.0.0.1 at a free port, in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "good.html").write_text(GOOD, "utf-8")
    (root / "bad.html").write_text(BAD, "utf-8")
    return root


@pytest.mark.browser
def test_accessible_page_passes_axe_and_screenshots(chromium_browser, site, tmp_path):
    with serving(site) as base, open_page(chromium_browser, f"{base}/good.html") as page:
        assert page.title() == "Compression stockings"
        assert page.get_by_role("heading", level=1).inner_text() == "Compression stockings"
        violations = axe_violations(page)
        assert violations == [], format_violations(violations)
        shot = tmp_path / "good.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file()
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


@pytest.mark.browser
def test_axe_reports_an_image_without_alt(chromium_browser, site):
    with serving(site) as base, open_page(chromium_browser, f"{base}/bad.html") as page:
        violations = axe_violations(page)
    ids = [v["id"] for v in violations]
    assert "image-alt" in ids, format_violations(violations)
    image_alt = next(v for v in violations if v["id"] == "image-alt")
    assert image_alt["targets"] == ["img"], format_violations(violations)
    assert image_alt["impact"] == "critical"
    assert "image-alt" in format_violations(violations)
