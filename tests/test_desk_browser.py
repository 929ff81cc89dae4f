"""The desk in a real Chromium: the keyboard-only flow to a download, a print and an e-mail; axe-core's
WCAG 2.2 A/AA checks on every page; the live filter and its no-JavaScript fallback; focus on errors;
screenshots at a ward PC's width and at 800 px.

Every test drives the REAL server (`build.py serve` in a subprocess, tests/desk_server.py) through
Debian's Chromium (tests/browser.py). Servers are shared per module: one desk for the flows (CUPS
and an SMTP server attached), one with staff login in training mode.
"""

from __future__ import annotations

import io
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pikepdf
import pypdf
import pytest
from click.testing import CliRunner

import smtp_server
from browser import axe_violations, format_violations, open_page
from clearleaf.cli import cli
from desk_server import start, stop
from helpers import PAPER_SIZES, make_project

pytestmark = pytest.mark.browser

NAME = "Peregrine Oxtoby-Quayle"      # appears nowhere in the project
MEDICINE = "Dabigatran"
REFERENCE = "MRN-7731"
ADDRESS = "patient.kestrel@example.org"
NURSE, NURSE_PASSWORD = "nurse", "Ward-Seven-Lantern-42"
WALKING = "Walking after knee surgery"  # a second leaflet, so the filter has something to hide
WIDE = {"width": 1366, "height": 768}
NARROW = {"width": 800, "height": 768}


def add_walking_leaflet(project):
    """A second approved leaflet with no inserts, written from the fixture leaflet."""
    text = (project / "leaflets" / "sample.md").read_text("utf-8")
    text = (text.replace('title: "Zanzibar sentinel leaflet"', f'title: "{WALKING}"')
            .replace("code: FX-SAM-042", "code: FX-WLK-007")
            .replace("inserts:\n  - first-insert\n  - second-insert\n", ""))
    (project / "leaflets" / "walking.md").write_text(text, "utf-8")


@pytest.fixture(scope="module")
def smtp(smtp_cert):
    """A STARTTLS + AUTH mail server for the whole module (conftest's smtp_starttls is per test)."""
    server = smtp_server.start("starttls", smtp_cert)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def desks(tmp_path_factory, cups, smtp, smtp_cert):
    """Both desks of the module, started side by side (each takes seconds to warm its renderer):

    - "main": no training mode, printing to the private CUPS, mailing to the test SMTP server;
    - "login": training mode (--allow-draft), and a project with a staff user, so it asks for a login.
    """
    project = make_project(tmp_path_factory.mktemp("desk") / "project")
    add_walking_leaflet(project)
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"smtp:\n  host: 127.0.0.1\n  port: \"{smtp.port}\"\n  security: starttls\n"
                f"  user: {smtp_server.USER}\n  from: Fixture Health Trust <handouts@fixture.example>\n")
    login_project = make_project(tmp_path_factory.mktemp("login-desk") / "project")
    added = CliRunner().invoke(cli, ["--project", str(login_project), "desk-user", "add", NURSE],
                               env={"DESK_PASSWORD": NURSE_PASSWORD})
    assert added.exit_code == 0, added.output
    with ThreadPoolExecutor(2) as pool:  # leaving the block waits for both
        env = {"CUPS_SERVER": cups.server, "SMTP_PASSWORD": smtp_server.PASSWORD}
        futures = {"main": pool.submit(start, project, "--smtp-ca-file", str(smtp_cert.cert), env=env),
                   "login": pool.submit(start, login_project, "--allow-draft")}
    servers = {name: f.result() for name, f in futures.items() if f.exception() is None}
    try:
        for future in futures.values():
            future.result()  # raises the error of a desk that did not start
        yield servers
    finally:
        for server in servers.values():
            stop(server)


@pytest.fixture(scope="module")
def desk(desks):
    return desks["main"]


@pytest.fixture(scope="module")
def login_desk(desks):
    return desks["login"]


# --- keyboard and page helpers ---------------------------------------------------------------------

def active(page) -> str:
    """The focused element, briefly: its id, or the start of its HTML."""
    return page.evaluate("(() => { const el = document.activeElement;"
                         " return el.id || el.outerHTML.slice(0, 100); })()")


def tab_to(page, predicate: str, limit: int = 40) -> None:
    """Press Tab until predicate (JavaScript, of `el`, the focused element) holds."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => Boolean({predicate}))(document.activeElement)"):
            return
        seen.append(active(page))
    raise AssertionError(f"Tab never reached {predicate}; focus went through:\n" + "\n".join(seen))


def tab_to_id(page, element_id: str) -> None:
    tab_to(page, f"el.id === {element_id!r}")


def tab_to_button(page, action: str) -> None:
    """Tab to the submit button of the form posting to .../<action>."""
    tab_to(page, f"el.tagName === 'BUTTON' && el.form && el.form.action.endsWith('/{action}')")


def press_and_wait(page, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def assert_accessible(page, label: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{label}: {format_violations(violations)}"


def keyboard_preview(page, desk, paper_letter: bool = True) -> None:
    """Start page -> form -> preview by keyboard only; leaves focus on the preview heading."""
    page.goto(desk.url + "/")
    tab_to(page, "el.tagName === 'A' && el.getAttribute('href') === '/leaflets/sample'")
    press_and_wait(page)
    assert page.url.endswith("/leaflets/sample")
    tab_to_id(page, "i-second-insert")
    page.keyboard.press("Space")
    assert page.evaluate("document.getElementById('i-second-insert').checked")
    if paper_letter:
        tab_to_id(page, "p-a4")          # a radio group is one Tab stop; the arrows choose
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.getElementById('p-letter').checked")
    tab_to_id(page, "f-reference")
    page.keyboard.type(REFERENCE)
    tab_to_id(page, "f-name")
    page.keyboard.type(NAME)
    tab_to_id(page, "f-medication-name")
    page.keyboard.type(MEDICINE)
    press_and_wait(page)
    page.wait_for_function("document.activeElement.id === 'preview-h'", timeout=5000)
    assert "Preview" in page.locator("#preview-h").inner_text()
    wait_for_pdf_viewer(page)
    page.wait_for_function("document.activeElement.id === 'preview-h'", timeout=5000)


def wait_for_pdf_viewer(page, timeout_ms: int = 10_000) -> None:
    """Wait until Chromium's PDF viewer in the preview iframe has built all its frames.

    The viewer builds its frames after the page has loaded: the iframe (the PDF's URL), the
    viewer's extension page in it, and last, 0.1-0.7 s later (measured on an idle and on a loaded
    machine), the viewer's own frame holding the PDF again. On a busy CI machine that last frame
    can arrive in the middle of the next keystrokes, so it is waited for too. page.frames only
    changes while Playwright is called, so the wait is page.wait_for_timeout, not time.sleep.
    """
    pdf_frames = lambda: [f for f in page.frames if f.url.endswith("/preview.pdf")]  # noqa: E731
    assert pdf_frames(), "the preview has no PDF frame"
    waited = 0
    while len(pdf_frames()) < 2 and waited < timeout_ms:  # the iframe, and the viewer's own frame
        page.wait_for_timeout(50)
        waited += 50
    for frame in page.frames:
        frame.wait_for_load_state("load")


def preview_bytes(page) -> bytes:
    src = page.evaluate("document.querySelector('iframe.pdf').src")  # absolute
    response = page.request.get(src)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    return response.body()


def page_one_text(data: bytes, password: str | None = None) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    if password:
        reader.decrypt(password)
    return reader.pages[0].extract_text()


def result_text(page) -> str:
    return page.locator("#result").inner_text()


# --- 1. keyboard only ----------------------------------------------------------------------------

def test_keyboard_only_download(chromium_browser, desk, tmp_path):
    with open_page(chromium_browser) as page:
        keyboard_preview(page, desk)
        expected = preview_bytes(page)
        tab_to_button(page, "download")
        with page.expect_download() as info:
            press_and_wait(page)
        page.wait_for_function("document.activeElement.id === 'result'", timeout=5000)
        assert "Done:" in result_text(page) and "Recorded" in result_text(page)
        download = info.value
        assert download.suggested_filename == f"{REFERENCE}.pdf"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert page.locator("#download-link").is_visible()  # for a second try, and without JavaScript
        assert_accessible(page, "download result")
    data = saved.read_bytes()
    assert data == expected
    with pikepdf.open(saved) as pdf:
        assert tuple(round(float(v), 2) for v in pdf.pages[0].MediaBox[2:]) == PAPER_SIZES["letter"]
    text = page_one_text(data)
    assert NAME in text and MEDICINE in text


def test_keyboard_only_print(chromium_browser, desk, cups):
    before = len(cups.printer.jobs)
    with open_page(chromium_browser) as page:
        keyboard_preview(page, desk, paper_letter=False)
        expected = preview_bytes(page)
        tab_to_id(page, "a-printer")
        page.keyboard.type(cups.queue)  # a closed select picks the option whose name is typed
        assert active(page) == "a-printer", f"typing a printer name moved the focus to {active(page)}"
        assert page.evaluate("document.getElementById('a-printer').value") == cups.queue
        tab_to_button(page, "print")
        press_and_wait(page)
        page.wait_for_function("document.activeElement.id === 'result'", timeout=5000)
        line = result_text(page)
        match = re.search(rf"Sent to {cups.queue} as job ({cups.queue}-\d+)", line)
        assert match, line
        assert_accessible(page, "print result")
    deadline = time.monotonic() + 30
    while len(cups.printer.received(before)) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    (received,) = cups.printer.received(before)
    assert received.data == expected
    assert NAME in page_one_text(received.data)


def test_keyboard_only_email_with_a_passphrase(chromium_browser, desk, smtp):
    before = len(smtp.delivered)
    with open_page(chromium_browser) as page:
        keyboard_preview(page, desk)
        tab_to_id(page, "a-to")
        page.keyboard.type(ADDRESS)
        assert page.evaluate("document.getElementById('a-generate').checked")
        tab_to_button(page, "email")
        press_and_wait(page)
        page.wait_for_function("document.activeElement.id === 'result'", timeout=5000)
        assert "Done:" in result_text(page), result_text(page)
        secret = page.locator("#passphrase").inner_text().strip()
        assert re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{4}", secret), secret
        assert_accessible(page, "e-mail result")
    (got,) = smtp.delivered[before:]
    assert got.rcpt_tos == [ADDRESS] and got.tls and got.authenticated
    (part,) = list(got.message.iter_attachments())
    assert part.get_filename() == f"{REFERENCE}.pdf"
    data = part.get_content()
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data), password=secret) as pdf:
        assert pdf.is_encrypted and len(pdf.pages) >= 1
    assert NAME in page_one_text(data, secret)
    assert secret.encode() not in got.data


# --- pointer helpers (for the tests that are not about the keyboard) -------------------------------

BAD_REFERENCE = "MRN 42/x"
LONG_DOSE = "5 mg " * 14  # 70 characters: over the 60 a dose may have


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def make_preview(page, desk, reference: str = REFERENCE, dose: str = "150 mg") -> None:
    """Fill the form by pointer and submit it (to the preview, or to the errors when a value is bad)."""
    page.goto(desk.url + "/leaflets/sample")
    page.locator("#f-reference").fill(reference)
    page.locator("#f-name").fill(NAME)
    page.locator("#f-medication-name").fill(MEDICINE)
    page.locator("#f-medication-dose").fill(dose)
    submit(page, "form.handout-form button[type=submit]")


def sign_in(page, login_desk, password: str = NURSE_PASSWORD) -> None:
    page.goto(login_desk.url + "/")
    assert page.url.endswith("/login")
    page.locator("#user").fill(NURSE)
    page.locator("#password").fill(password)
    submit(page, "form.login button[type=submit]")


# --- 2. axe-core on every page ---------------------------------------------------------------------

def test_every_page_has_no_wcag_violations(chromium_browser, desk, login_desk):
    found = {}

    def check(label):
        found[label] = axe_violations(page)

    with open_page(chromium_browser) as page:
        page.goto(desk.url + "/")
        check("start page")
        page.goto(desk.url + "/?q=no-such-leaflet")
        assert "No leaflet matches" in page.locator("#leaflets").inner_text()
        check("start page, no match")
        page.goto(desk.url + "/leaflets/sample")
        check("form")
        make_preview(page, desk, reference=BAD_REFERENCE, dose=LONG_DOSE)
        assert page.locator(".error-summary").is_visible()
        check("form with errors")
        make_preview(page, desk)
        check("preview")
        submit(page, "form[action$='/download'] button")
        assert "Done:" in result_text(page)
        check("download done")
        submit(page, "form[action$='/print'] button")
        assert "Done:" in result_text(page)
        check("print done")
        # The action forms are novalidate: the desk's own messages, not the browser's bubbles.
        page.locator("#a-copies").fill("0")
        submit(page, "form[action$='/print'] button")
        assert "Not done:" in result_text(page) and page.locator("#e-copies").is_visible()
        assert page.locator("#a-copies").get_attribute("aria-invalid") == "true"
        check("print refused (0 copies)")
        page.locator("#a-to").fill("not-an-address")
        submit(page, "form[action$='/email'] button")
        assert page.locator("#e-to").is_visible()
        assert page.locator("#a-to").get_attribute("aria-describedby") == "e-to"
        check("e-mail with a bad address")
        page.locator("#a-to").fill(smtp_server.REJECTED_RECIPIENT)
        submit(page, "form[action$='/email'] button")
        assert "Not done:" in result_text(page)
        check("e-mail refused by the server")
        page.locator("#a-to").fill(ADDRESS)
        page.locator("#a-typed").check()
        page.locator("#a-password").fill("Kestrel-Lantern-1")
        page.locator("#a-password2").fill("Kestrel-Lantern-2")
        submit(page, "form[action$='/email'] button")
        assert page.locator("#e-password2").is_visible()
        check("e-mail with a field error")
        # A handout no longer in the session (another tab ended it, or the server restarted).
        page.locator("form[action$='/download']").evaluate("f => { f.action = '/handouts/gone/download'; }")
        submit(page, "form[action$='/download'] button")
        assert "expired" in page.locator("h1").inner_text()
        check("handout expired")
        response = page.goto(desk.url + "/leaflets/no-such-leaflet")
        assert response.status == 404
        check("missing leaflet (404)")
    with open_page(chromium_browser) as page:
        page.goto(login_desk.url + "/login")
        assert page.locator(".training").is_visible()
        check("login")
        sign_in(page, login_desk, password="not-the-password")
        assert page.locator("#login-error").is_visible()
        check("login failed")
        sign_in(page, login_desk)
        assert page.url.rstrip("/") == login_desk.url and page.locator(".training").is_visible()
        check("training mode: start page")
        page.goto(login_desk.url + "/leaflets/sample")
        assert page.locator("#i-first-insert").is_enabled()  # a draft insert, allowed in training
        check("training mode: form")
    failing = {label: v for label, v in found.items() if v}
    assert not failing, "\n\n".join(f"{label}:\n{format_violations(v)}" for label, v in failing.items())
    assert len(found) == 17


# --- 3. the filter, with and without JavaScript ------------------------------------------------------

def shown_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("#leaflets > li.leaflet:visible h2").all_inner_texts()]


def test_filter_hides_leaflets_as_you_type(chromium_browser, desk):
    with open_page(chromium_browser, desk.url + "/") as page:
        assert sorted(shown_titles(page)) == sorted([WALKING, "Zanzibar sentinel leaflet"])
        tab_to_id(page, "q")
        page.keyboard.type("walk")
        assert shown_titles(page) == [WALKING]
        assert page.locator("#count").inner_text() == "1 leaflet found"
        assert page.url.rstrip("/") == desk.url  # filtered in place, no request
        for _ in range(4):
            page.keyboard.press("Backspace")
        page.keyboard.type("fx-sam")             # by code too
        assert shown_titles(page) == ["Zanzibar sentinel leaflet"]
        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")
        assert len(shown_titles(page)) == 2 and page.locator("#count").inner_text() == "2 leaflets"


def test_without_javascript_the_filter_and_the_flow_still_work(chromium_browser, desk, tmp_path):
    with open_page(chromium_browser, desk.url + "/", java_script_enabled=False) as page:
        tab_to_id(page, "q")
        page.keyboard.type("walk")
        press_and_wait(page)
        assert page.url.endswith("/?q=walk")
        assert shown_titles(page) == [WALKING]
        assert page.locator("#count").inner_text() == "1 leaflet found"
        assert page.get_by_role("link", name="Show all").count() == 1
        make_preview(page, desk)
        assert page.locator("#preview-h").is_visible()
        assert page.evaluate("document.activeElement.id") == "preview-h"  # autofocus needs no script
        submit(page, "form[action$='/download'] button")
        assert "Done:" in result_text(page)
        with page.expect_download() as info:  # nothing clicked it for us: the nurse does
            page.locator("#download-link").click()
        assert info.value.suggested_filename == f"{REFERENCE}.pdf"
        info.value.save_as(tmp_path / "saved.pdf")
    assert NAME in page_one_text((tmp_path / "saved.pdf").read_bytes())


# --- 4. focus on errors ----------------------------------------------------------------------------

def test_errors_take_the_focus_and_are_described(chromium_browser, desk):
    with open_page(chromium_browser) as page:
        make_preview(page, desk, reference=BAD_REFERENCE, dose=LONG_DOSE)
        assert page.locator("#preview-h").count() == 0
        assert page.evaluate("document.activeElement.id") == "f-reference"  # the first invalid field
        for field_id, words in (("f-reference", "'reference' must be letters"), ("f-medication-dose", "60")):
            field = page.locator(f"#{field_id}")
            assert field.get_attribute("aria-invalid") == "true"
            ids = field.get_attribute("aria-describedby").split()
            texts = []
            for described_id in ids:
                target = page.locator(f"#{described_id}")
                assert target.count() == 1, f"{field_id}: aria-describedby names missing #{described_id}"
                assert target.is_visible()
                texts.append(target.inner_text())
            error = page.locator(f"#{field_id} ~ *.error, .field:has(#{field_id}) .error")
            assert error.count() == 1 and error.is_visible()
            assert error.get_attribute("id") in ids
            assert words in error.inner_text(), error.inner_text()
            # What a screen reader announces with the field: the described-by text, error included.
            description = page.evaluate(
                "id => document.getElementById(id).getAttribute('aria-describedby').split(' ')"
                ".map(i => document.getElementById(i).textContent).join(' ')", field_id)
            assert words in description
        # The summary lists both, each linked to its field.
        links = page.locator(".error-summary a")
        assert [a.get_attribute("href") for a in links.all()] == ["#f-reference", "#f-medication-dose"]
        # What the nurse typed is kept, so only the mistake needs correcting.
        assert page.locator("#f-name").input_value() == NAME
        assert page.locator("#f-medication-dose").input_value() == LONG_DOSE


# --- 5. screenshots at 1366 x 768 and 800 px wide ----------------------------------------------------

def shoot(page, tmp_path, label: str, shots: list) -> None:
    for name, size in (("wide", WIDE), ("narrow", NARROW)):
        page.set_viewport_size(size)
        path = tmp_path / f"{label}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        overflow = page.evaluate("(d => d.scrollWidth - d.clientWidth)(document.documentElement)")
        assert overflow <= 0, f"{label} at {size['width']} px scrolls sideways by {overflow} px"


def test_screenshots_at_both_widths(chromium_browser, desk, login_desk, tmp_path):
    shots = []
    with open_page(chromium_browser, desk.url + "/", viewport=WIDE) as page:
        shoot(page, tmp_path, "start", shots)
        page.goto(desk.url + "/leaflets/sample")
        shoot(page, tmp_path, "form", shots)
        make_preview(page, desk, reference=BAD_REFERENCE, dose=LONG_DOSE)
        shoot(page, tmp_path, "form-errors", shots)
        make_preview(page, desk)
        submit(page, "form[action$='/print'] button")
        assert "Done:" in result_text(page)
        shoot(page, tmp_path, "preview-result", shots)
    with open_page(chromium_browser, login_desk.url + "/login", viewport=WIDE) as page:
        shoot(page, tmp_path, "login", shots)
    assert len(shots) == 10
    for path in shots:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, path
