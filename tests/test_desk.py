"""The discharge desk (clearleaf/desk): its pages, form, preview and actions, its security and its logins.

Most tests drive the Starlette app in-process through TestClient; the last few start the real
server (`build.py serve`, tests/desk_server.py) and look at what it prints and leaves behind.
Printing and e-mail go to the real private CUPS and SMTP servers of tests/conftest.py.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import stat
import subprocess
import sys
import time
import types
from pathlib import Path

import httpx2 as httpx
import pikepdf
import pypdf
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import smtp_server
from clearleaf import deliver
from clearleaf.cli import cli
from clearleaf.desk import security as desk_security
from desk_client import NAME, REFERENCE, Desk, csrf_of, form, make_desk, token_of
from desk_server import running_desk
from helpers import (DRAFT_MARK, FIRST, PAPER_SIZES, REPO, SAMPLE, SECOND, SECOND_EN, norm, set_front_matter,
                     wait_received)

ADDRESS = "patient.wombat@example.org"
PASSWORD = "correct-horse-battery"     # a staff password (>= 12 characters)
ME = deliver.os_user()
URL_ATTR = re.compile(r'\b(?:href|src|action|formaction)="([^"]*)"')


# --- helpers -----------------------------------------------------------------------------------

def field_tag(page: str, name: str) -> str:
    """The opening tag of the form control named name."""
    (tag,) = re.findall(rf'<(?:input|textarea|select)\b[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    return tag


def error_text(page: str, key: str) -> str:
    found = re.search(rf'<p class="error" id="e-{re.escape(key.replace(".", "-"))}">(.*?)</p>', page, re.S)
    assert found, f"no error shown for {key}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def result_line(page: str) -> str:
    found = re.search(r'<div class="result[^"]*"[^>]*>\s*<p>(.*?)</p>', page, re.S)
    assert found, "no result line"
    return norm(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))))


def pdf_texts(data: bytes, password: str | None = None) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    if password is not None:
        reader.decrypt(password)
    return [norm(page.extract_text() or "") for page in reader.pages]


def log_lines(project: Path) -> list[dict]:
    """The issue log's records of handouts that were issued (each begin line joined to its outcome)."""
    from clearleaf import records

    found, problems = records.read(project / "records" / "issued.jsonl")
    assert problems == []
    return [record for record in found if record["status"] == "issued"]


def add_org(project: Path, text: str) -> None:
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(text)


def cli_run(project: Path, *args: str, env: dict | None = None, input: str | None = None):
    return CliRunner().invoke(cli, ["--project", str(project), *map(str, args)], env=env, input=input)


def add_user(project: Path, name: str = "a.patel", password: str = PASSWORD):
    result = cli_run(project, "desk-user", "add", name, env={"DESK_PASSWORD": password})
    assert result.exit_code == 0, result.output + result.stderr
    return result


def copy_leaflet(project: Path, new_id: str, title: str, code: str, status: str = "approved") -> Path:
    path = project / "leaflets" / f"{new_id}.md"
    shutil.copy(project / "leaflets" / "sample.md", path)
    set_front_matter(path, "title", f'"{title}"')
    set_front_matter(path, "code", code)
    set_front_matter(path, "status", status)
    return path


def sign_in(desk: Desk, user: str = "a.patel", password: str = PASSWORD) -> httpx.Response:
    desk.get("/login")
    return desk.post("/login", {"user": user, "password": password}, follow_redirects=False)


@pytest.fixture
def desk(project) -> Desk:
    return make_desk(project)


# --- 1. the start page ------------------------------------------------------------------------

def test_start_page_lists_the_leaflet_with_its_facts(desk):
    page = desk.get("/").text
    item = re.search(r'<li class="leaflet".*?</li>', page, re.S).group(0)
    assert f'<a href="/leaflets/sample">{SAMPLE["title"]}</a>' in item
    for fact in (f"<dt>Code</dt><dd>{SAMPLE['code']}</dd>", f"<dt>Version</dt><dd>{SAMPLE['version']}</dd>",
                 "<dt>Languages</dt><dd>English</dd>", "<dt>Status</dt><dd>approved</dd>",
                 "ok (by 31 Dec 2099)"):
        assert fact in item, fact
    assert "Training mode" not in page
    assert "1 leaflet<" in page


def test_search_filters_by_title_or_code_and_says_when_nothing_matches(project):
    copy_leaflet(project, "other", "Heron recovery leaflet", "FX-HER-900")
    desk = make_desk(project)
    everything = desk.get("/").text
    assert SAMPLE["title"] in everything and "Heron recovery leaflet" in everything
    for query in ("zanzibar", "fx-sam", SAMPLE["code"]):
        page = desk.get("/", params={"q": query}).text
        assert SAMPLE["title"] in page and "Heron recovery" not in page, query
    page = desk.get("/", params={"q": "heron"}).text
    assert "Heron recovery leaflet" in page and SAMPLE["title"] not in page
    miss = desk.get("/", params={"q": "pelican"})
    assert miss.status_code == 200 and "No leaflet matches" in miss.text and "pelican" in miss.text
    assert "0 leaflets found" in miss.text


def test_a_draft_leaflet_is_listed_but_cannot_be_chosen(project):
    copy_leaflet(project, "drafty", "Draft heron leaflet", "FX-DRF-1", status="draft")
    desk = make_desk(project)
    page = desk.get("/").text
    item = re.search(r'<li class="leaflet unusable".*?</li>', page, re.S).group(0)
    assert "Draft heron leaflet" in item and "/leaflets/drafty" not in item
    assert "Cannot be given to patients:</strong> draft" in item
    assert '<a href="/leaflets/sample">' in page  # the approved one still can
    form_page = desk.get("/leaflets/drafty").text
    assert re.search(r'<button type="submit" class="primary" disabled>', form_page)
    refused = desk.post("/leaflets/drafty", form())
    assert refused.status_code == 422
    assert "Draft heron leaflet cannot be given to patients: draft" in html.unescape(refused.text)
    assert "/preview.pdf" not in refused.text and log_lines(project) == []


def test_training_mode_previews_a_draft_and_every_page_says_so(project):
    copy_leaflet(project, "drafty", "Draft heron leaflet", "FX-DRF-1", status="draft")
    desk = make_desk(project, allow_draft=True)
    index = desk.get("/").text
    assert '<a href="/leaflets/drafty">Draft heron leaflet</a>' in index
    form_page = desk.get("/leaflets/drafty").text
    # the draft insert may be chosen in training
    draft_box = re.search(r'<input type="checkbox" id="i-first-insert"[^>]*>', form_page).group(0)
    assert " disabled" not in draft_box
    token = desk.preview("drafty", inserts="first-insert")
    pdf = desk.get(f"/handouts/{token}/preview.pdf").content
    texts = pdf_texts(pdf)
    assert all(DRAFT_MARK in t for t in texts), "every page of a training handout is marked"
    assert FIRST["title"] in " ".join(texts)
    pages = [r for r in desk.responses if "text/html" in r.headers.get("content-type", "")]
    assert len(pages) >= 4
    for response in pages:
        assert "<strong>Training mode:</strong>" in response.text, response.url


# --- 2. the form ------------------------------------------------------------------------------

def test_the_form_offers_only_listed_inserts_and_the_draft_one_disabled(project):
    extra = project / "leaflets" / "inserts" / "third-insert.md"
    shutil.copy(project / "leaflets" / "inserts" / "first-insert.md", extra)
    set_front_matter(extra, "title", '"Pelican unlisted insert"')
    set_front_matter(extra, "status", "approved")
    desk = make_desk(project)
    page = desk.get("/leaflets/sample").text
    boxes = re.findall(r'<input type="checkbox" id="i-([^"]+)"[^>]*>', page)
    assert boxes == ["first-insert", "second-insert"]
    assert "Pelican unlisted insert" not in page
    draft = re.search(r'<input type="checkbox" id="i-first-insert"[^>]*>', page).group(0)
    approved = re.search(r'<input type="checkbox" id="i-second-insert"[^>]*>', page).group(0)
    assert " disabled" in draft and " disabled" not in approved
    assert "draft: not yet approved for patients" in page
    # Inserts are named in the leaflet's language: second-insert is Spanish, with an English translation.
    assert SECOND_EN["title"] in page and SECOND["title"] not in page
    # Posting what is not offered is refused, next to the inserts.
    for insert, words in (("third-insert", "'third-insert' is not an insert of this leaflet"),
                          ("first-insert", f"{FIRST['title']} cannot be given to patients: draft")):
        response = desk.post("/leaflets/sample", form(inserts=insert))
        assert response.status_code == 422
        assert words in error_text(response.text, "inserts")
    assert log_lines(project) == []


def test_paper_default_comes_from_org_yaml(project):
    a4 = make_desk(project).get("/leaflets/sample").text
    assert re.search(r'id="p-a4" name="paper" value="a4" checked', a4)
    add_org(project, "desk:\n  paper: letter\n")
    letter = make_desk(project).get("/leaflets/sample").text
    assert re.search(r'id="p-letter" name="paper" value="letter" checked', letter)
    assert not re.search(r'value="a4" checked', letter)


def test_mistakes_are_shown_next_to_their_fields_in_the_cli_words(desk, project):
    desk.get("/leaflets/sample")
    response = desk.post("/leaflets/sample", form(**{"medication.dose": "x" * 70, "note": "y" * 501,
                                                     "issued": "2026-02-30"}))
    assert response.status_code == 422
    page = response.text
    assert error_text(page, "medication.dose") == \
        "Error: 'medication.dose' is 70 characters long; the most is 60 — shorten it"
    assert "'note' is 501 characters long; the most is 500 — shorten it" in error_text(page, "note")
    assert "'issued' is not a real date" in error_text(page, "issued")
    dose = field_tag(page, "medication.dose")
    assert 'aria-invalid="true"' in dose
    assert re.search(r'aria-describedby="[^"]*\be-medication-dose\b', dose)
    assert 'id="e-medication-dose"' in page
    # Exactly one control has the focus: the first invalid field in the form's order.
    assert page.count(" autofocus") == 1
    assert " autofocus" in field_tag(page, "issued")
    assert " autofocus" not in dose
    # The typed values come back so nothing has to be retyped; nothing was made or recorded.
    assert f'value="{NAME}"' in page and "/preview.pdf" not in page
    assert "3 things to correct" in page
    assert log_lines(project) == []
    # A valid field is not marked.
    assert "aria-invalid" not in field_tag(page, "name")


def test_the_reference_is_required(desk):
    desk.get("/leaflets/sample")
    response = desk.post("/leaflets/sample", form(reference=""))
    assert response.status_code == 422
    assert "'reference' is required" in error_text(response.text, "reference")
    tag = field_tag(response.text, "reference")
    assert 'aria-invalid="true"' in tag and " autofocus" in tag
    response = desk.post("/leaflets/sample", form(reference="Jane Smith"))
    assert response.status_code == 422
    assert "never the patient's name" in error_text(response.text, "reference")


def test_markup_in_a_field_prints_literally_and_is_escaped_in_the_page(desk):
    token = desk.preview(name="<b>x</b> Quennerby", note="<script>alert(1)</script> & more")
    page = desk.responses[-1].text
    assert "<b>x</b>" not in page and "<script>alert(1)" not in page
    assert "&lt;b&gt;x&lt;/b&gt; Quennerby" in page
    first = pdf_texts(desk.get(f"/handouts/{token}/preview.pdf").content)[0]
    assert "<b>x</b> Quennerby" in first
    assert "<script>alert(1)</script> & more" in first


@pytest.mark.parametrize("char", ["\U0001F600", "\u4e2d"])
def test_a_character_no_font_can_print_is_refused_by_its_code(desk, char):
    typed = f"Orla{char}Quennerby"
    desk.get("/leaflets/sample")
    response = desk.post("/leaflets/sample", form(name=typed))
    assert response.status_code == 422
    code = f"U+{ord(char):04X}"
    shown = error_text(response.text, "name")
    assert f"'name' has characters the handout fonts cannot print ({code})" in shown
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group(0)
    assert code in summary and typed not in summary and "Quennerby" not in summary


def test_an_unknown_leaflet_is_a_404_page(desk):
    response = desk.get("/leaflets/no-such-leaflet")
    assert response.status_code == 404 and "There is no such leaflet" in response.text
    assert desk.post("/leaflets/no-such-leaflet", form()).status_code == 404


# --- 3. the preview ---------------------------------------------------------------------------

def test_preview_is_the_pdf_with_the_patients_details_and_stays_in_its_session(desk, project):
    token = desk.preview(paper="letter", inserts="second-insert")
    page = desk.responses[-1].text
    assert f'src="/handouts/{token}/preview.pdf"' in page
    assert len(token) >= 24 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert f"reference {REFERENCE}" in page and "US Letter" in page
    response = desk.get(f"/handouts/{token}/preview.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 1), round(float(box.height), 1)) == PAPER_SIZES["letter"]
    first = norm(reader.pages[0].extract_text())
    assert NAME in first and REFERENCE in first and "Apixaban" in first
    assert "Cormorant procedure" in " ".join(pdf_texts(response.content))  # the English translation
    assert DRAFT_MARK not in first
    # Another session (another browser) cannot see it, nor act on it.
    stranger = Desk(desk.app)
    assert stranger.get(f"/handouts/{token}/preview.pdf").status_code == 404
    expired = stranger.post(f"/handouts/{token}/download")
    assert expired.status_code == 404 and "This handout has expired" in expired.text
    assert desk.get("/handouts/" + "A" * 32 + "/preview.pdf").status_code == 404
    assert log_lines(project) == []  # a preview is not an issue


# --- 4. download ------------------------------------------------------------------------------

def test_download_is_recorded_and_hands_over_the_previewed_bytes_once(desk, project):
    token = desk.preview()
    preview = desk.get(f"/handouts/{token}/preview.pdf").content
    response = desk.post(f"/handouts/{token}/download")
    assert response.status_code == 200
    assert result_line(response.text).startswith("Done: Recorded and ready to save:")
    (link,) = re.findall(rf'href="(/handouts/{token}/file/[^"]+)"', response.text)
    ticket = link.rsplit("/", 1)[1]
    assert len(ticket) >= 16
    got = desk.get(link)
    assert got.status_code == 200
    assert got.headers["content-disposition"] == f'attachment; filename="{REFERENCE}.pdf"'
    assert got.headers["content-type"] == "application/pdf" and got.headers["cache-control"] == "no-store"
    assert got.content == preview
    again = desk.get(link)
    assert again.status_code == 404 and again.content != preview
    (line,) = log_lines(project)
    assert line["channel"] == "download" and line["reference"] == REFERENCE and line["staff"] == ME
    assert line["leaflet"]["code"] == SAMPLE["code"] and line["inserts"] == []
    raw = (project / "records" / "issued.jsonl").read_text("utf-8")
    assert NAME not in raw and "Quennerby" not in raw


# --- 5. print (real private CUPS) ---------------------------------------------------------------

def test_print_sends_the_previewed_pdf_to_cups_and_records_it(project, cups, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    desk = make_desk(project)
    token = desk.preview()
    page = desk.responses[-1].text
    options = re.search(r'<select id="a-printer" name="printer">(.*?)</select>', page, re.S).group(1)
    assert f"<option>{cups.queue}</option>" in options
    preview = desk.get(f"/handouts/{token}/preview.pdf").content
    before = len(cups.printer.jobs)
    response = desk.post(f"/handouts/{token}/print", {"printer": cups.queue, "copies": "2", "duplex": "on"})
    assert response.status_code == 200, result_line(response.text)
    line = result_line(response.text)
    job = re.search(rf"as job ({re.escape(cups.queue)}-\d+) ", line)
    assert job, line
    assert "2 copies, two-sided, A4" in line
    assert cups.wait_for_job(job.group(1)) == "completed"
    # This test printer does not advertise copies, so CUPS sends the exact previewed PDF once per copy.
    received = wait_received(cups, before, count=2)
    assert [r.data for r in received] == [preview, preview]
    assert cups.job_attributes(job.group(1))["copies"] == [2]
    received = received[0]
    assert received.attributes["sides"] == ["two-sided-long-edge"] and received.attributes["media"] == ["A4"]
    assert cups.documents() == []  # CUPS kept no copy of the document
    assert NAME not in repr(received.attributes) and REFERENCE not in repr(received.attributes)
    (record,) = log_lines(project)
    assert record["channel"] == "print" and record["staff"] == ME and record["reference"] == REFERENCE
    assert record["job"] == job.group(1) and record["copies"] == 2 and record["duplex"] is True


@pytest.fixture
def stopped_queue(cups):
    name = "desk-jammed"
    cups.add_printer(name, cups.printer.uri)
    cups.run("cupsdisable", "-r", "Paper jam in tray 2", name)
    yield name
    cups.run("cancel", "-a", "-x", name)
    cups.run("lpadmin", "-x", name)


def test_a_stopped_printer_gives_one_clear_message_and_nothing_is_recorded(project, cups, stopped_queue,
                                                                         monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    desk = make_desk(project)
    token = desk.preview()
    before = len(cups.printer.jobs)
    response = desk.post(f"/handouts/{token}/print", {"printer": stopped_queue, "copies": "1"})
    assert response.status_code == 422
    line = result_line(response.text)
    assert line.startswith(f"Not done: Not printed: printer '{stopped_queue}': ")
    assert "Paper jam in tray 2" in line and "Traceback" not in response.text
    assert response.text.count("Not printed:") == 1
    assert log_lines(project) == []
    assert cups.run("lpstat", "-o", stopped_queue).stdout == ""
    assert len(cups.printer.jobs) == before
    # Copies out of range are refused before CUPS is asked.
    response = desk.post(f"/handouts/{token}/print", {"printer": cups.queue, "copies": "21"})
    assert response.status_code == 422
    assert "Copies must be a number from 1 to 20" in result_line(response.text)
    assert 'aria-invalid="true"' in field_tag(response.text, "copies")
    assert log_lines(project) == []


# --- 6. e-mail (real SMTP server) -------------------------------------------------------------

@pytest.fixture
def mail_desk(project, smtp_starttls, smtp_cert):
    add_org(project, f"smtp:\n  host: 127.0.0.1\n  port: \"{smtp_starttls.port}\"\n  security: starttls\n"
                     f"  user: {smtp_server.USER}\n  from: Fixture Health Trust <handouts@fixture.example>\n")

    def make(password=smtp_server.PASSWORD):
        return make_desk(project, smtp_ca_file=Path(smtp_cert.cert), smtp_password=password)
    return make


def attachment(delivered) -> tuple[str, bytes]:
    (part,) = list(delivered.message.iter_attachments())
    return part.get_filename(), part.get_content()


def test_email_with_a_generated_passphrase_shown_once(mail_desk, smtp_starttls, project):
    desk = mail_desk()
    token = desk.preview()
    response = desk.post(f"/handouts/{token}/email", {"to": ADDRESS, "protect": "generate"})
    assert response.status_code == 200, result_line(response.text)
    assert "protected by the passphrase below" in result_line(response.text)
    passphrase = re.search(r'<code id="passphrase">([^<]+)</code>', response.text).group(1)
    assert re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{4}", passphrase)
    (got,) = smtp_starttls.delivered
    assert got.tls and got.authenticated and got.rcpt_tos == [ADDRESS]
    name, data = attachment(got)
    assert name == f"{REFERENCE}.pdf"
    assert passphrase.encode() not in got.data
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data), password=passphrase) as doc:
        assert doc.encryption.stream_method.name == "aesv3"
    assert NAME in pdf_texts(data, passphrase)[0]
    (record,) = log_lines(project)
    assert record["channel"] == "email" and record["encrypted"] is True and record["staff"] == ME
    raw = (project / "records" / "issued.jsonl").read_text("utf-8")
    for secret in (NAME, ADDRESS, passphrase):
        assert secret not in raw
    # Shown once: the page after it (the form again) does not carry it.
    later = desk.get("/leaflets/sample").text
    assert passphrase not in later
    assert passphrase not in desk.post(f"/handouts/{token}/download").text


def test_typed_passwords_that_differ_send_nothing(mail_desk, smtp_starttls, project):
    desk = mail_desk()
    token = desk.preview()
    typed = {"to": ADDRESS, "protect": "typed", "password": "Kea-Orchard-5521",
             "password2": "Kea-Orchard-5512"}
    response = desk.post(f"/handouts/{token}/email", typed)
    assert response.status_code == 422
    assert "The two passwords differ" in error_text(response.text, "password2")
    assert 'aria-invalid="true"' in field_tag(response.text, "password2")
    assert "Kea-Orchard" not in response.text  # a password is never echoed back
    assert smtp_starttls.delivered == [] and log_lines(project) == []
    # Typed the same twice, it is sent and the PDF opens with it.
    typed = {"to": ADDRESS, "protect": "typed", "password": "Kea-Orchard-5521",
             "password2": "Kea-Orchard-5521"}
    response = desk.post(f"/handouts/{token}/email", typed)
    assert response.status_code == 200 and "password-protected" in result_line(response.text)
    (got,) = smtp_starttls.delivered
    with pikepdf.open(io.BytesIO(attachment(got)[1]), password="Kea-Orchard-5521"):
        pass
    assert [r["channel"] for r in log_lines(project)] == ["email"]


def test_a_wrong_smtp_password_is_one_clear_message_and_nothing_is_recorded(mail_desk, smtp_starttls,
                                                                            project):
    desk = mail_desk(password="not-the-password")
    token = desk.preview()
    response = desk.post(f"/handouts/{token}/email", {"to": ADDRESS, "protect": "generate"})
    assert response.status_code == 422
    line = result_line(response.text)
    assert line.startswith("Not done: Not sent: ") and "authentication" in line.lower()
    assert response.text.count("Not sent:") == 1
    assert "not-the-password" not in response.text and 'id="passphrase"' not in response.text
    assert smtp_starttls.delivered == [] and log_lines(project) == []
    # What the nurse typed is still there to send again; no password ever is.
    assert f'value="{ADDRESS}"' in field_tag(response.text, "to")


# --- 7. security ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/leaflets/sample", "/handouts/x/print", "/login", "/logout"])
def test_a_post_without_the_right_csrf_token_is_refused(project, path):
    desk = make_desk(project)
    desk.get("/leaflets/sample")
    assert desk.csrf
    for data in ({}, {"csrf": ""}, {"csrf": desk.csrf[:-2] + "zz"}):
        response = desk.post(path, {**form(), "user": "a.patel", "password": PASSWORD, **data}, csrf=False)
        assert response.status_code == 403, (path, data)
        assert "CSRF" in response.text
    # A token from another session does not work either.
    other = Desk(desk.app)
    other.get("/leaflets/sample")
    assert other.csrf != desk.csrf
    assert other.post(path, {**form(), "csrf": desk.csrf}, csrf=False).status_code == 403
    assert log_lines(project) == []


def test_a_request_for_another_host_is_refused(desk):
    assert desk.get("/", headers={"Host": "127.0.0.1:8750"}).status_code == 200
    assert desk.get("/", headers={"Host": "localhost"}).status_code == 200
    for host in ("evil.example", "evil.example:8750", "127.0.0.1.evil.example", ""):
        response = desk.get("/", headers={"Host": host})
        assert response.status_code == 400, host
        assert "Unknown host" in response.text
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_allowed_host_from_org_yaml_is_answered(project):
    add_org(project, "desk:\n  allowed_hosts: [desk.ward.example]\n")
    desk = make_desk(project)
    assert desk.get("/", headers={"Host": "desk.ward.example:8750"}).status_code == 200
    assert desk.get("/", headers={"Host": "other.ward.example"}).status_code == 400


def test_a_body_over_64_kib_is_refused(desk, project):
    desk.get("/leaflets/sample")
    big = {**form(), "csrf": desk.csrf, "note": "n" * (65 * 1024)}
    response = desk.post("/leaflets/sample", big, csrf=False)
    assert response.status_code == 413
    # Without a Content-Length (chunked), the limit holds while reading.
    body = httpx.QueryParams(big).__str__().encode()

    def chunks():
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]
    response = desk.http.post("/leaflets/sample", content=chunks(),
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    # Just under the limit is read (and refused for its note's length, not its size).
    fine = {**form(), "csrf": desk.csrf, "note": "n" * 600}
    assert desk.post("/leaflets/sample", fine, csrf=False).status_code == 422
    assert log_lines(project) == []


def test_security_headers_on_every_response_and_no_store_on_pages_and_pdfs(desk):
    token = desk.preview()
    desk.get(f"/handouts/{token}/preview.pdf")
    desk.get("/static/desk.css")
    desk.get("/static/fonts.css")
    desk.get("/static/nothing.js")
    assert desk.get("/static/..%2F..%2Fleaflets%2Forg.yaml").status_code == 404
    desk.get("/healthz")
    desk.get("/leaflets/none")
    desk.post("/leaflets/sample", {"csrf": "wrong"}, csrf=False)
    desk.get("/", headers={"Host": "evil.example"})
    statuses = {r.status_code for r in desk.responses}
    assert {200, 400, 403, 404} <= statuses
    for response in desk.responses:
        where = f"{response.request.method} {response.url} {response.status_code}"
        csp = response.headers.get("content-security-policy", "")
        assert csp.startswith("default-src 'none'"), where
        assert "frame-ancestors 'self'" in csp and "form-action 'self'" in csp
        assert response.headers.get("x-content-type-options") == "nosniff", where
        assert response.headers.get("referrer-policy") == "no-referrer", where
        if not response.url.path.startswith("/static/"):
            assert response.headers.get("cache-control") == "no-store", where
    kinds = {r.headers.get("content-type", "").split(";")[0] for r in desk.responses if r.status_code == 200}
    assert {"text/html", "application/pdf", "text/css"} <= kinds
    css = [r for r in desk.responses if r.url.path == "/static/desk.css"][0]
    assert "no-store" not in css.headers["cache-control"]


def test_the_session_cookie_is_httponly_and_samesite_strict(desk):
    response = desk.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{desk_security.COOKIE}=")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert "expires" not in attributes and "max-age" not in attributes  # ends with the browser
    assert len(desk.session_id) >= 32


def test_no_url_the_desk_links_or_redirects_to_carries_what_was_typed(project, cups, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", cups.server)
    add_user(project)
    desk = make_desk(project)
    desk.get("/")   # redirected to the login page
    sign_in(desk)
    token = desk.preview(clinician="Dr Zebulon Fixture", note="Tell Quennerby about the stairs")
    desk.get(f"/handouts/{token}/preview.pdf")
    downloaded = desk.post(f"/handouts/{token}/download")
    link = re.search(r'href="(/handouts/[^"]+/file/[^"]+)"', downloaded.text).group(1)
    desk.get(link)
    desk.post(f"/handouts/{token}/print", {"printer": cups.queue, "copies": "1"})
    desk.post(f"/handouts/{token}/email", {"to": ADDRESS})  # no mail server: refused, in one line
    desk.get("/", params={"q": "zanzibar"})
    desk.post("/logout", follow_redirects=False)
    typed = [NAME, REFERENCE, "Zebulon", "Quennerby", "Apixaban", ADDRESS, PASSWORD]
    urls = []
    for response in desk.responses:
        urls.append(str(response.url))
        if "location" in response.headers:
            urls.append(response.headers["location"])
        if "text/html" in response.headers.get("content-type", ""):
            urls += [html.unescape(u) for u in URL_ATTR.findall(response.text)]
    assert any("/file/" in u for u in urls) and any(u.endswith("/preview.pdf") for u in urls)
    assert any(r.status_code == 303 for r in desk.responses)
    for url in urls:
        for value in typed:
            assert value.lower() not in url.lower(), (value, url)
            assert value.lower().replace(" ", "+") not in url.lower()
            assert value.replace(" ", "%20").lower() not in url.lower()


# --- 8. login ---------------------------------------------------------------------------------

def test_with_staff_users_the_desk_asks_to_sign_in(project):
    add_user(project)
    desk = make_desk(project)
    for path in ("/", "/leaflets/sample", "/handouts/abc/preview.pdf"):
        response = desk.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    page = desk.get("/login")
    assert page.status_code == 200 and "Sign in to the discharge desk" in page.text
    assert 'name="password" type="password"' in page.text
    assert desk.get("/healthz").status_code == 200
    assert desk.get("/static/desk.css").status_code == 200
    desk.get("/login")
    response = desk.post("/leaflets/sample", form(), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_desk_user_changes_reach_a_running_desk_without_a_restart(project):
    desk = make_desk(project)
    assert desk.get("/", follow_redirects=False).status_code == 200  # no users yet: the local user
    add_user(project, "a.patel")
    # The first user turns sign-in on for everyone, the open session included.
    response = desk.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    add_user(project, "b.okafor")
    assert sign_in(desk, "b.okafor").status_code == 303
    assert "Signed in as <strong>b.okafor</strong>" in desk.get("/").text
    result = cli_run(project, "desk-user", "remove", "b.okafor")
    assert result.exit_code == 0 and "signs them out at once" in result.stdout
    response = desk.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_wrong_passwords_are_refused_and_the_sixth_failure_in_a_row_is_rate_limited(project):
    add_user(project)
    desk = make_desk(project)
    desk.get("/login")
    for n in range(5):
        response = desk.post("/login", {"user": "a.patel", "password": f"wrong-password-{n}"})
        assert response.status_code == 401, n
        assert "The user name or password is wrong" in response.text
        assert 'aria-invalid="true"' in field_tag(response.text, "password")
        assert "wrong-password" not in response.text
    limited = desk.post("/login", {"user": "a.patel", "password": "wrong-password-6"})
    assert limited.status_code == 429 and "Too many failed sign-ins" in limited.text
    # Now even the right password must wait: the limit is not a password oracle.
    assert desk.post("/login", {"user": "a.patel", "password": PASSWORD}).status_code == 429
    # An unknown user is refused in the same words as a wrong password.
    other = Desk(desk.app, client=("10.0.0.9", 4000))
    other.get("/login")
    response = other.post("/login", {"user": "nobody", "password": PASSWORD})
    assert response.status_code == 401 and "The user name or password is wrong" in response.text


def test_signing_in_changes_the_session_id_and_signing_out_ends_it(project):
    add_user(project)
    desk = make_desk(project)
    desk.get("/login")
    before = desk.session_id
    response = sign_in(desk)
    assert response.status_code == 303 and response.headers["location"] == "/"
    after = desk.session_id
    assert after and after != before
    index = desk.get("/")
    assert index.status_code == 200 and "Signed in as <strong>a.patel</strong>" in index.text
    assert 'action="/logout"' in index.text
    # The id from before signing in is worth nothing now.
    stale = TestClient(desk.app, base_url="http://127.0.0.1", cookies={desk_security.COOKIE: before})
    assert stale.get("/", follow_redirects=False).status_code == 303
    # A download made while signed in is recorded with the user's name.
    token = desk.preview()
    desk.post(f"/handouts/{token}/download")
    assert log_lines(project)[0]["staff"] == "a.patel"
    out = desk.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    assert desk.get("/", follow_redirects=False).status_code == 303
    reused = TestClient(desk.app, base_url="http://127.0.0.1", cookies={desk_security.COOKIE: after})
    assert reused.get("/", follow_redirects=False).status_code == 303
    assert reused.get(f"/handouts/{token}/preview.pdf", follow_redirects=False).status_code == 303


def test_a_session_ends_after_the_idle_minutes(project, monkeypatch):
    add_user(project)
    add_org(project, "desk:\n  session_minutes: 1\n")
    offset = [0.0]
    clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0],
                                  perf_counter=time.perf_counter)
    monkeypatch.setattr(desk_security, "time", clock)
    desk = make_desk(project)
    sign_in(desk)
    assert desk.get("/", follow_redirects=False).status_code == 200
    offset[0] = 50.0
    assert desk.get("/", follow_redirects=False).status_code == 200   # used again within the minute
    offset[0] = 100.0
    assert desk.get("/", follow_redirects=False).status_code == 200   # 50 s idle: still signed in
    offset[0] = 165.0
    response = desk.get("/", follow_redirects=False)                  # 65 s idle: ended
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_trusted_proxy_names_the_user_and_the_record_says_who(project):
    add_org(project, "desk:\n  trusted_proxy: [127.0.0.1]\n")
    desk = make_desk(project, client=("127.0.0.1", 5000))
    desk.http.headers["X-Remote-User"] = "a.nurse"
    index = desk.get("/")
    assert index.status_code == 200 and "Signed in as <strong>a.nurse</strong>" in index.text
    assert 'action="/logout"' not in index.text  # the proxy signs people out, not the desk
    token = desk.preview()
    desk.post(f"/handouts/{token}/download")
    (record,) = log_lines(project)
    assert record["staff"] == "a.nurse"
    # Behind the proxy's TLS the cookie is Secure; a direct caller cannot claim TLS with the header.
    cookie = desk.get("/", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "; secure" in cookie.lower()
    direct = make_desk(project, client=("10.1.2.3", 5000))
    cookie = direct.get("/login", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" not in cookie.lower()
    # The same cookie with another user named by the proxy is another session: the handout is not theirs.
    desk.http.headers["X-Remote-User"] = "b.nurse"
    assert desk.get(f"/handouts/{token}/preview.pdf").status_code == 404
    assert "Signed in as <strong>b.nurse</strong>" in desk.get("/").text
    # Through the proxy but without the header (and no session), no one is named: refused.
    fresh = make_desk(project, client=("127.0.0.1", 5001))
    response = fresh.get("/", follow_redirects=False)
    assert response.status_code == 403 and "single sign-on" in response.text


def test_the_user_header_from_anywhere_but_the_proxy_is_ignored(project):
    add_org(project, "desk:\n  trusted_proxy: [127.0.0.1]\n")
    desk = make_desk(project, client=("10.1.2.3", 5000))
    response = desk.get("/", headers={"X-Remote-User": "a.nurse"}, follow_redirects=False)
    assert response.status_code == 403 and "single sign-on" in response.text
    assert "a.nurse" not in response.text
    # With desk users as well, a direct caller must sign in, whatever header it sends.
    add_user(project)
    desk = make_desk(project, client=("10.1.2.3", 5000))
    response = desk.get("/", headers={"X-Remote-User": "a.nurse"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    sign_in(desk)
    token = desk.preview()
    desk.http.headers["X-Remote-User"] = "a.nurse"
    desk.post(f"/handouts/{token}/download")
    assert log_lines(project)[0]["staff"] == "a.patel"


# --- 9. desk-user -----------------------------------------------------------------------------

class _TtyStdin:
    """sys.stdin as CliRunner sets it, but saying it is a terminal."""

    def __getattr__(self, name):
        return getattr(sys.stdin, name)

    def isatty(self):
        return True


def test_desk_user_add_list_remove(project, monkeypatch):
    users = project / "records" / "desk-users.txt"
    result = cli_run(project, "desk-user", "add", "a.patel", env={"DESK_PASSWORD": PASSWORD})
    assert result.exit_code == 0 and "added a.patel" in result.output
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    # Asked twice in a terminal, never echoed.
    fake_sys = types.SimpleNamespace(**{k: getattr(sys, k) for k in ("exit", "argv", "stderr", "stdout")})
    fake_sys.stdin = _TtyStdin()
    monkeypatch.setattr("clearleaf.cli.sys", fake_sys)
    monkeypatch.delenv("DESK_PASSWORD", raising=False)
    typed = "another-long-password"
    result = cli_run(project, "desk-user", "add", "b.jones", input=f"{typed}\n{typed}\n")
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.count("Password for b.jones") == 1 and "Repeat for confirmation" in result.output
    assert typed not in result.output
    mismatch = cli_run(project, "desk-user", "add", "c.kaur", input=f"{typed}\n{typed}x\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output + mismatch.stderr
    monkeypatch.undo()
    listed = cli_run(project, "desk-user", "list")
    assert listed.exit_code == 0 and listed.output.split() == ["a.patel", "b.jones"]
    text = users.read_text("utf-8")
    assert PASSWORD not in text and typed not in text and text.count("$argon2id$") == 2
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    removed = cli_run(project, "desk-user", "remove", "a.patel")
    assert removed.exit_code == 0 and "removed a.patel" in removed.output
    assert cli_run(project, "desk-user", "list").output.split() == ["b.jones"]
    missing = cli_run(project, "desk-user", "remove", "a.patel")
    assert missing.exit_code == 1 and "there is no user 'a.patel'" in missing.stderr
    # Without a terminal and without DESK_PASSWORD, it says how to give the password.
    result = cli_run(project, "desk-user", "add", "d.lee")
    assert result.exit_code == 2 and "DESK_PASSWORD" in result.stderr


def test_desk_user_refuses_a_short_password_and_a_bad_name(project):
    result = cli_run(project, "desk-user", "add", "a.patel", env={"DESK_PASSWORD": "short-pass"})
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr
    assert "shorter than 12 characters" in result.stderr and "short-pass" not in result.stderr
    assert not (project / "records" / "desk-users.txt").exists()
    result = cli_run(project, "desk-user", "add", "A Patel", env={"DESK_PASSWORD": PASSWORD})
    assert result.exit_code == 1 and "not a valid user name" in result.stderr


# --- 10. the real server ------------------------------------------------------------------------

def test_serve_on_all_interfaces_without_login_refuses_to_start(project):
    from cups_server import free_port

    done = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(project), "serve",
                           "--host", "0.0.0.0", "--port", str(free_port()), "--workers", "0"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "refusing to listen on 0.0.0.0 without staff login" in done.stderr
    assert "desk-user add" in done.stderr


def test_the_real_server_keeps_the_patient_out_of_its_log_and_temp_files(project):
    add_user(project)
    with running_desk(project, "--host", "0.0.0.0") as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            def csrf(response):
                return re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)
            page = client.get("/login")
            client.post("/login", data={"csrf": csrf(page), "user": "a.patel", "password": PASSWORD})
            page = client.get("/leaflets/sample")
            assert page.status_code == 200 and "Signed in as <strong>a.patel</strong>" in page.text
            # Even a query string someone adds by hand is never logged.
            made = client.post("/leaflets/sample", data={**form(note=f"Ask for {NAME} at the desk"),
                                                          "csrf": csrf(page)}, params={"who": NAME})
            assert made.status_code == 200, made.text[-2000:]
            token = token_of(made)
            pdf = client.get(f"/handouts/{token}/preview.pdf")
            assert NAME in pdf_texts(pdf.content)[0]
            done = client.post(f"/handouts/{token}/download", data={"csrf": csrf(made)})
            link = re.search(r'href="(/handouts/[^"]+/file/[^"]+)"', done.text).group(1)
            assert client.get(link).content == pdf.content
            assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        running = server.output()
    output = server.output()
    assert (project / "records" / "issued.jsonl").exists()
    for secret in (NAME, "Quennerby", REFERENCE, PASSWORD):
        assert secret not in output, secret
    log = [line for line in running.splitlines() if line.strip()]
    access = [line for line in log if not line.startswith(("Clearleaf desk ", "It answers to "))]
    assert access and len(access) == len(log) - 2
    # On the network it says which Host names it answers to, so IT can add the one staff type.
    assert "It answers to the host names 127.0.0.1, [::1], localhost; add the name" in running
    for line in access:
        assert re.fullmatch(r"(GET|POST) /[A-Za-z0-9/._-]* \d{3} \d+ ms", line), line
    assert any(line.startswith("POST /leaflets/sample 200 ") for line in access)
    assert any(line.startswith("GET / 400 ") for line in access)
    leftovers = [p for p in server.tmpdir.rglob("*") if p.is_file()]
    for path in leftovers:
        data = path.read_bytes()
        assert NAME.encode() not in data and NAME.encode("utf-16-be") not in data, path
    for path in project.rglob("*"):
        assert "Quennerby" not in path.name and REFERENCE not in path.name
    shutil.rmtree(server.tmpdir, ignore_errors=True)
    server.log.unlink(missing_ok=True)


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_stopping_the_server_stops_its_render_workers(project, how):
    # systemd stops a service with SIGTERM; a crash or an OOM kill is SIGKILL. Neither may leave
    # worker processes behind.
    import signal

    from desk_server import start, stop

    server = start(project, workers=2)
    try:
        workers = _children(server.process.pid)
        assert len(workers) >= 2  # the two render workers (and multiprocessing's resource tracker)
        server.process.send_signal(getattr(signal, how))
        server.process.wait(20)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
        if how == "SIGTERM":
            assert server.process.returncode == 0
            assert "Clearleaf desk stopped" in server.output()
    finally:
        stop(server)
