"""The website in a real Chromium: axe-core's WCAG 2.2 A/AA checks on every page, the keyboard,
reflow at 320 px and at 200% zoom, Arabic right to left, the filter with and without JavaScript,
the print stylesheet, no request leaving the site, file:// as well as a web server, and
screenshots at a phone's and a desktop's width.

Two sites, each built once for the module: the fixture set's (conftest.built_site, with an Arabic
page) and the real leaflets' (every page the hospital would publish), each served by Python's
plain static file server (tests/browser.py drives Debian's Chromium).
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser import axe_violations, format_violations, open_page
from helpers import REPO, SITE_ROOT, assert_ok, page_texts, run, scan_qr
from site_check import broken_links, html_files, parse

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
NARROWEST = {"width": 320, "height": 640}   # WCAG 1.4.10 reflow: 320 CSS px, no sideways scrolling
FOCUS = "rgb(255, 221, 0)"                  # styles/site.css: links are black on yellow when focused


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class Served:
    """A folder on a plain static web server on 127.0.0.1, as a hospital's server would serve it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def pages(self) -> list[str]:
        return [p.relative_to(self.folder).as_posix() for p in html_files(self.folder)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fixture_site(built_site):
    served = Served(built_site.out)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def real_site(tmp_path_factory):
    """The website of the project's own leaflets, as `python3 build.py site` makes it."""
    out = tmp_path_factory.mktemp("real-site") / "site"
    assert_ok(run(REPO, "site", "--out", out))
    served = Served(out)
    try:
        yield served
    finally:
        served.close()


def overflow(page) -> int:
    return page.evaluate("(d => d.scrollWidth - d.clientWidth)(document.documentElement)")


def load(page, url: str) -> None:
    page.goto(url)
    page.evaluate("document.fonts.ready.then(() => true)")


# --- accessibility ---------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["fixture_site", "real_site"])
def test_axe_finds_no_wcag_violation_on_any_page(chromium_browser, request, which):
    served = request.getfixturevalue(which)
    # The test pages at both widths; the real ones (twice as many) at a phone's, where the QR
    # codes are read: the layout is the same shape, and the colours do not change with width.
    sizes = (DESKTOP, PHONE) if which == "fixture_site" else (PHONE,)
    found = []
    with open_page(chromium_browser) as page:
        for path in served.pages():
            for size in sizes:
                page.set_viewport_size(size)
                load(page, served.url + path)
                violations = axe_violations(page)
                if violations:
                    found.append(f"{path} at {size['width']} px: {format_violations(violations)}")
    assert not found, "\n".join(found)
    assert len(served.pages()) >= (6 if which == "fixture_site" else 13)


def focusables(page) -> list[str]:
    """Number every visible link and field; return their numbers."""
    return page.evaluate("""() => [...document.querySelectorAll('a[href], input')]
        .filter(el => el.offsetParent !== null || el.getClientRects().length)
        .map((el, i) => (el.dataset.k = String(i)))""")


def test_the_keyboard_reaches_every_link_with_a_focus_you_can_see(chromium_browser, fixture_site):
    with open_page(chromium_browser) as page:
        for path in fixture_site.pages():
            load(page, fixture_site.url + path)
            wanted = focusables(page)
            reached, hidden_focus = [], []
            for _ in range(len(wanted) + 5):
                page.keyboard.press("Tab")
                state = page.evaluate("""() => { const el = document.activeElement;
                    const s = getComputedStyle(el);
                    return [el.dataset.k || el.tagName, el.tagName, s.backgroundColor, s.outlineStyle,
                            s.outlineWidth, s.boxShadow]; }""")
                key, tag, background, outline, width, shadow = state
                if tag == "BODY" or key in reached:
                    break
                reached.append(key)
                if tag == "A":
                    seen = background == FOCUS
                else:
                    seen = outline != "none" and width == "3px" and shadow != "none"
                if not seen:
                    hidden_focus.append(f"{path}: {tag} {key} ({state})")
            assert set(wanted) <= set(reached), f"{path}: Tab never reached {sorted(set(wanted) - set(reached))}"
            assert not hidden_focus, "\n".join(hidden_focus)


def test_the_skip_link_comes_first_and_jumps_to_the_text(chromium_browser, fixture_site):
    with open_page(chromium_browser, viewport=PHONE) as page:
        load(page, fixture_site.url + "sample/ar/index.html")
        page.keyboard.press("Tab")
        skip = page.evaluate("""() => { const el = document.activeElement; const r = el.getBoundingClientRect();
            return [el.className, el.textContent, r.top >= 0 && r.bottom <= innerHeight && r.width > 0]; }""")
        assert skip == ["skip", "انتقل إلى النص الرئيسي", True]
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # the next stop is inside the text, past the header's links
        assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


@pytest.mark.parametrize("which", ["fixture_site", "real_site"])
def test_no_sideways_scrolling_at_320_px_or_at_200_percent_zoom(chromium_browser, request, which):
    served = request.getfixturevalue(which)
    wide = []
    # 200% zoom of a 1280 px window is a 640 CSS px layout at two device pixels per CSS pixel.
    for viewport, scale in ((NARROWEST, 1), ({"width": 640, "height": 450}, 2)):
        with open_page(chromium_browser, viewport=viewport, device_scale_factor=scale) as page:
            for path in served.pages():
                load(page, served.url + path)
                if overflow(page) > 0:
                    wide.append(f"{path} at {viewport['width']} px: {overflow(page)} px too wide")
                # No text may be cut off either: nothing wider than the page.
                clipped = page.evaluate("""() => [...document.querySelectorAll('main *')]
                    .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .map(el => el.tagName + ' ' + el.textContent.slice(0, 40))""")
                wide += [f"{path} at {viewport['width']} px: {c}" for c in clipped]
    assert not wide, "\n".join(wide)


# --- what only a browser shows ----------------------------------------------------------------------

def test_arabic_pages_are_laid_out_right_to_left(chromium_browser, fixture_site):
    with open_page(chromium_browser, viewport=PHONE) as page:
        load(page, fixture_site.url + "sample/ar/index.html")
        facts = page.evaluate("""() => {
            const main = document.querySelector('main').getBoundingClientRect();
            const h1 = document.querySelector('h1'), range = document.createRange();
            range.selectNodeContents(h1);
            const callout = getComputedStyle(document.querySelector('.callout-danger'));
            return {direction: getComputedStyle(document.body).direction,
                    gapRight: main.right - range.getBoundingClientRect().right,
                    gapLeft: range.getBoundingClientRect().left - main.left,
                    thickRight: callout.borderRightWidth, thinLeft: callout.borderLeftWidth,
                    arabicFont: [...document.fonts].some(f => f.family.includes('IBM Plex Sans Arabic')
                                                          && f.status === 'loaded')}; }""")
        assert facts["direction"] == "rtl"
        assert facts["gapRight"] < 20 < facts["gapLeft"], facts  # the title starts on the right
        assert (facts["thickRight"], facts["thinLeft"]) == ("12px", "3px")
        assert facts["arabicFont"], "the packaged Arabic font was not loaded"


def test_the_filter_works_with_javascript_and_the_list_without(chromium_browser, fixture_site):
    with open_page(chromium_browser) as page:
        load(page, fixture_site.url + "index.html")
        visible = lambda: page.evaluate("""() => [...document.querySelectorAll('#leaflets li')]
            .filter(li => li.offsetParent !== null).map(li => li.querySelector('h2, h3').textContent)""")
        assert page.locator("#q").is_visible()
        assert visible() == ["Zanzibar sentinel leaflet", "Albatross procedure insert", "Cormorant procedure"]
        page.locator("#q").fill("cormorant")
        # The leaflet stays, to show where the insert belongs, with only the matching insert.
        assert visible() == ["Zanzibar sentinel leaflet", "Cormorant procedure"]
        assert page.locator("#count").inner_text() == "1 of 1 shown"
        page.locator("#q").fill("procedimiento")  # a word of the Spanish original, without its accent
        assert visible() == ["Zanzibar sentinel leaflet", "Cormorant procedure"]
        page.locator("#q").fill("fx-sam-042")
        assert visible() == ["Zanzibar sentinel leaflet", "Albatross procedure insert", "Cormorant procedure"]
        page.locator("#q").fill("walrus")
        assert visible() == [] and page.locator("#none").is_visible()
    with open_page(chromium_browser, java_script_enabled=False) as page:
        load(page, fixture_site.url + "index.html")
        assert not page.locator("#q").is_visible() and not page.locator("#none").is_visible()
        assert page.locator("#leaflets li").count() == 3 and page.locator("#leaflets li:visible").count() == 3


def test_nothing_is_fetched_from_anywhere_else_and_the_csp_holds(chromium_browser, fixture_site):
    with open_page(chromium_browser) as page:
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        for path in fixture_site.pages():
            load(page, fixture_site.url + path)
        assert requests and all(url.startswith(fixture_site.url) for url in requests), requests
        assert any(url.endswith(".ttf") for url in requests), "the packaged fonts were never loaded"
        assert not problems, problems


def test_it_works_from_the_folder_itself(chromium_browser, built_site):
    """file://: what someone sees who opens index.html from a USB stick or a shared drive."""
    with open_page(chromium_browser) as page:
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        load(page, (built_site.out / "index.html").as_uri())
        assert page.locator("#q").is_visible(), "site.js did not run from file://"
        page.locator("#q").fill("albatross")
        assert page.locator("#count").inner_text() == "1 of 1 shown"
        with page.expect_navigation():
            page.get_by_role("link", name="Zanzibar sentinel leaflet").click()
        page.evaluate("document.fonts.ready.then(() => true)")
        assert page.url == (built_site.out / "sample" / "index.html").as_uri()
        assert page.evaluate("document.querySelector('svg.picture').getBoundingClientRect().width") > 100
        fonts = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
        assert any("Atkinson Hyperlegible" in f for f in fonts), fonts
        assert "Atkinson Hyperlegible" in page.evaluate("getComputedStyle(document.body).fontFamily")
        with page.expect_navigation():
            page.get_by_role("link", name="العربية").first.click()
        assert page.evaluate("document.documentElement.dir") == "rtl"
    site_folder = built_site.out.as_uri()
    assert all(url.startswith(site_folder) for url in requests), requests
    assert not problems, problems


def test_the_print_stylesheet_keeps_the_text_and_drops_the_furniture(chromium_browser, fixture_site):
    with open_page(chromium_browser) as page:
        load(page, fixture_site.url + "sample/index.html")
        page.emulate_media(media="print")
        shown = page.evaluate("""() => Object.fromEntries(['.skip', '.langs', '.downloads', '.bottom',
            '.content', '.callout-danger', '.contacts', '.about']
            .map(s => [s, getComputedStyle(document.querySelector(s)).display]))""")
        assert shown[".langs"] == shown[".downloads"] == shown[".bottom"] == "none"
        assert "none" not in (shown[".content"], shown[".callout-danger"], shown[".contacts"], shown[".about"])
        assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "16px"  # 12 pt
        assert page.pdf()[:5] == b"%PDF-"


def test_screenshots_of_a_phone_and_a_desktop(chromium_browser, fixture_site, tmp_path):
    shots = []
    for label, path in (("en", "sample/index.html"), ("ar", "sample/ar/index.html"), ("home", "index.html")):
        for size in (PHONE, DESKTOP):
            with open_page(chromium_browser, viewport=size) as page:
                load(page, fixture_site.url + path)
                shot = tmp_path / f"{label}-{size['width']}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert overflow(page) <= 0
                shots.append(shot)
    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, shot


# --- the real leaflets' site ------------------------------------------------------------------------

def test_the_real_sites_links_and_headings(real_site):
    wrong, checked = broken_links(real_site.folder)
    assert not wrong, "\n".join(wrong)
    assert checked > 250
    for path in real_site.pages():
        levels = [int(h.tag[1]) for h in parse(real_site.folder / path).iter("h1", "h2", "h3", "h4")]
        assert levels.count(1) == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), path


def test_a_real_qr_code_leads_to_its_page_on_the_server(chromium_browser, real_site, tmp_path):
    """The Spanish DVT PDF's QR code, read as a phone reads it, opens the Spanish page."""
    pdf = real_site.folder / "pdf" / "a4" / "dvt.es.pdf"
    texts = page_texts(pdf)
    about = max(i for i, t in enumerate(texts) if "Sobre este folleto" in t)
    [url] = scan_qr(pdf, about + 1, tmp_path)
    assert url == "https://www.riverside-general.example/ir/leaflets/dvt/es"
    # The same path on this server, as the hospital's server would answer it (…/dvt/es → …/dvt/es/).
    root = "https://www.riverside-general.example/ir/leaflets/"
    with open_page(chromium_browser) as page:
        response = page.goto(real_site.url + url.removeprefix(root))
        assert response.ok
        assert page.evaluate("document.documentElement.lang") == "es"
        assert page.locator("h1").inner_text() == "Trombosis venosa profunda (TVP)"
    assert SITE_ROOT != root  # the fixture's own address is elsewhere
