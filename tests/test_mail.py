"""E-mailing handouts, against a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS, AUTH)."""

from __future__ import annotations

import io
import re
from email import message_from_bytes, policy

import pikepdf
import pypdf
import pytest
import smtp_server
from helpers import REPO, make_project
from mail_support import FILENAME, PATIENT, PDF_PASSWORD, TIMEOUT, TO, assert_one_line, message_for, settings_for

from clearleaf import content
from clearleaf.config import Project
from clearleaf.mail import MailError, SmtpSettings, compose, encrypt_pdf, send, smtp_settings, write_eml


def pdf_text(data: bytes, password: str = "") -> str:
    reader = pypdf.PdfReader(io.BytesIO(data), password=password or None)
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def only_attachment(message):
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    return attachments[0]


# --- Sending ---


def test_sends_the_handout_over_starttls_with_login(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)

    [got] = smtp_starttls.delivered
    assert got.rcpt_tos == [TO]
    assert got.mail_from == "ir-handouts@riverside-general.example"
    assert got.tls and got.authenticated
    assert smtp_starttls.recorder.logins == [(smtp_server.USER, True)]
    message = got.message
    assert message["From"] == handout.org["smtp"]["from"]
    assert message["To"] == TO
    assert message["Message-ID"] and message["Date"]
    subject, body = message["Subject"], message.get_body(("plain",)).get_content()
    leaflet, insert = (p.meta["title"] for p in handout.parts)
    org = handout.org["name"]
    assert org in subject and leaflet in subject
    assert org in body and leaflet in body and insert in body
    assert handout.org["emergency_number"] in body and "not for emergencies" in body
    first_phone = next(iter(handout.org["phones"].values()))
    assert first_phone["number"] in body
    assert "password" not in body.lower()
    # The patient's name travels only inside the PDF: never in a header or the text.
    assert PATIENT not in str(message.get_body(("plain",))) and PATIENT.encode() not in got.data
    for name, value in message.items():
        assert PATIENT not in str(value), name

    attachment = only_attachment(message)
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == FILENAME
    data = attachment.get_content()
    with pikepdf.open(io.BytesIO(data)) as doc:
        assert len(doc.pages) > 1
    assert PATIENT in pdf_text(data)


def test_an_encrypted_handout_needs_the_password(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    locked = encrypt_pdf(handout.pdf, PDF_PASSWORD)
    send(message_for(handout, settings, pdf=locked), settings, smtp_server.PASSWORD, timeout=TIMEOUT)

    [got] = smtp_starttls.delivered
    body = got.message.get_body(("plain",)).get_content()
    assert "password" in body.lower() and "not in this e-mail" in body
    data = only_attachment(got.message).get_content()
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data), password=PDF_PASSWORD) as doc:
        assert doc.encryption.R == 6 and doc.encryption.bits == 256
        assert doc.encryption.stream_method.name == "aesv3"
        assert doc.allow.print_highres
    assert PATIENT in pdf_text(data, PDF_PASSWORD)
    assert PATIENT.encode() not in data
    for secret in (PDF_PASSWORD, smtp_server.PASSWORD):
        assert secret.encode() not in got.data


def test_sends_over_implicit_tls(smtp_tls, handout, smtp_cert):
    settings = settings_for(smtp_tls, handout, smtp_cert, security="tls")
    send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    [got] = smtp_tls.delivered
    assert got.tls and got.authenticated and got.rcpt_tos == [TO]


def test_security_none_sends_plain_to_a_relay_on_this_machine(smtp_plain, handout, smtp_cert):
    settings = settings_for(smtp_plain, handout, smtp_cert, security="none", user=None)
    send(message_for(handout, settings), settings, None, timeout=TIMEOUT)
    [got] = smtp_plain.delivered
    assert not got.tls and got.rcpt_tos == [TO]


# --- Sending: every failure is one clear line ---


def test_a_refused_connection_names_host_and_port(handout, smtp_cert):
    settings = SmtpSettings("127.0.0.1", smtp_server.free_port(), "starttls", None, "a@b.example")
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, None, timeout=TIMEOUT)
    assert "connection refused" in assert_one_line(exc, settings)


def test_a_server_that_never_answers_times_out(handout):
    silent = smtp_server.SilentServer()
    try:
        settings = SmtpSettings("127.0.0.1", silent.port, "starttls", None, "a@b.example")
        with pytest.raises(MailError) as exc:
            send(message_for(handout, settings), settings, None, timeout=0.3)
    finally:
        silent.close()
    assert "no answer within 0.3 seconds" in assert_one_line(exc, settings)


def test_a_wrong_password_is_an_authentication_error(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, "wrong-password-123", timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert "refused the login" in text and "SMTP_PASSWORD" in text
    assert smtp_starttls.delivered == []


def test_a_server_without_starttls_gets_nothing(smtp_plain, handout, smtp_cert):
    settings = settings_for(smtp_plain, handout, smtp_cert)
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    assert "does not offer STARTTLS" in assert_one_line(exc, settings)
    assert smtp_plain.delivered == [] and smtp_plain.recorder.logins == []


def test_a_refused_recipient_is_reported_without_the_address(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    message = message_for(handout, settings, to=smtp_server.REJECTED_RECIPIENT)
    with pytest.raises(MailError) as exc:
        send(message, settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert "refused the recipient's address" in text and "550" in text
    assert smtp_server.REJECTED_RECIPIENT not in text  # the patient's address (issue 12, item 11)
    assert smtp_starttls.delivered == []


def test_a_refused_sender_is_named(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert, sender=f"IR <{smtp_server.REJECTED_SENDER}>")
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert f"refused the sender {smtp_server.REJECTED_SENDER}" in text and "smtp.from" in text


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_points_at_ca_file(security, smtp_starttls, smtp_tls, handout, smtp_cert):
    server = smtp_starttls if security == "starttls" else smtp_tls
    settings = settings_for(server, handout, smtp_cert, security=security, ca_file=None)
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert "not trusted" in text and "--smtp-ca-file" in text
    assert server.delivered == [] and server.recorder.logins == []


def test_a_missing_ca_file_is_reported(handout, smtp_cert, tmp_path):
    settings = SmtpSettings("127.0.0.1", 587, "starttls", None, "a@b.example", tmp_path / "nope.pem")
    expected = "nope.pem: the CA certificate file does not exist — .*--smtp-ca-file"
    with pytest.raises(MailError, match=expected):
        send(message_for(handout, settings), settings, None, timeout=TIMEOUT)


def test_a_user_without_password_asks_for_smtp_password(smtp_starttls, handout, smtp_cert):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, None, timeout=TIMEOUT)
    assert "SMTP_PASSWORD" in assert_one_line(exc, settings)
    assert smtp_starttls.delivered == []


def test_a_login_the_server_does_not_offer(smtp_plain, handout, smtp_cert):
    settings = settings_for(smtp_plain, handout, smtp_cert, security="none")
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    assert "does not offer a login" in assert_one_line(exc, settings)
    assert smtp_plain.delivered == []


# --- Composing ---


def test_the_to_header_is_the_bare_address(handout):
    message = compose(handout.project, handout.org, handout.parts, handout.pdf, FILENAME,
                      f"{PATIENT} <{TO}>", "IR <ir@example.org>")
    assert message["To"] == TO
    assert PATIENT not in message.as_string()


@pytest.mark.parametrize("to", ["", "   ", "nobody", "a@b", "a@b.org, c@d.org", "a@b.org; c@d.org",
                                "a@b.org\nBcc: c@d.org", "a@b.org\r\n", "a b@c.org", "<>", "a@@b.org",
                                "Jane <a@b.org> c@d.org", "a@b.org <c@d.org>", '"x@y.org" <a@b.org>'])
def test_an_address_that_is_not_exactly_one_address_is_refused(handout, to):
    with pytest.raises(MailError, match=r"^e-mail address: .* — give one address"):
        compose(handout.project, handout.org, handout.parts, handout.pdf, FILENAME, to, "IR <ir@example.org>")


@pytest.mark.parametrize("filename", ["", "../x.pdf", "a/b.pdf", "x.exe", "x.pdf\nX-Hdr: 1", ".hidden.pdf"])
def test_the_attachment_name_must_be_a_plain_pdf_name(handout, filename):
    with pytest.raises(MailError, match="^attachment: "):
        compose(handout.project, handout.org, handout.parts, handout.pdf, filename, TO, "IR <ir@example.org>")


def test_the_attachment_must_be_a_pdf(handout):
    with pytest.raises(MailError, match="not a readable PDF"):
        compose(handout.project, handout.org, handout.parts, b"hello", FILENAME, TO, "IR <ir@example.org>")


def test_templates_cannot_reach_patient_data(handout, tmp_path):
    root = make_project(tmp_path / "project")
    body = root / "templates" / "email_body.txt"
    body.write_text(body.read_text("utf-8") + "Dear {{ patient.name }}\n", "utf-8")
    line = len(body.read_text("utf-8").splitlines())
    expected = rf"^templates/email_body.txt:{line}: template error: 'patient' is undefined"
    with pytest.raises(MailError, match=expected):
        compose(Project(root), handout.org, handout.parts, handout.pdf, FILENAME, TO, "IR <ir@example.org>")


def test_encrypting_needs_a_password_of_eight_characters(handout):
    with pytest.raises(MailError, match="shorter than 8 characters"):
        encrypt_pdf(handout.pdf, "1234567")


def test_write_eml_saves_a_message_mail_programs_can_open(handout, tmp_path):
    message = compose(handout.project, handout.org, handout.parts, encrypt_pdf(handout.pdf, PDF_PASSWORD),
                      FILENAME, TO, "IR <ir@example.org>")
    path = tmp_path / "out" / "RGH-0042.eml"
    write_eml(message, path)
    raw = path.read_bytes()
    assert b"\r\n" in raw and not re.search(rb"[^\r]\n", raw)
    assert [p.name for p in path.parent.iterdir()] == ["RGH-0042.eml"]
    parsed = message_from_bytes(raw, policy=policy.default)
    # A long Subject is folded onto its own line; Python's parser then keeps the fold's leading space.
    assert parsed["To"] == TO and parsed["Subject"].strip() == message["Subject"]
    attachment = only_attachment(parsed)
    assert attachment.get_filename() == FILENAME
    with pikepdf.open(io.BytesIO(attachment.get_content()), password=PDF_PASSWORD) as doc:
        assert len(doc.pages) > 1
    assert b"password is given" not in raw and PDF_PASSWORD.encode() not in raw


# --- Settings ---


ORG = {"name": "X", "smtp": {"host": "mail.example.org", "security": "starttls", "user": "u",
                             "from": "X <x@example.org>"}}


@pytest.mark.parametrize("security, port", [("starttls", 587), ("tls", 465)])
def test_the_port_defaults_to_the_security(security, port):
    settings = smtp_settings({**ORG, "smtp": {**ORG["smtp"], "security": security}})
    assert (settings.host, settings.port, settings.security) == ("mail.example.org", port, security)
    assert (settings.user, settings.sender, settings.ca_file) == ("u", "X <x@example.org>", None)


def test_security_none_defaults_to_port_25_on_this_machine_only():
    local = {**ORG, "smtp": {**ORG["smtp"], "host": "localhost", "security": "none"}}
    assert smtp_settings(local).port == 25
    assert smtp_settings(local, host="::1").port == 25
    with pytest.raises(MailError, match="not on this machine — use starttls or tls"):
        smtp_settings(local, host="mail.example.org")


def test_command_line_values_win(tmp_path):
    org = {**ORG, "smtp": {**ORG["smtp"], "port": 2525}}
    assert smtp_settings(org).port == 2525
    settings = smtp_settings(org, host="127.0.0.1", port=1025, ca_file=tmp_path / "ca.pem")
    assert (settings.host, settings.port, settings.ca_file) == ("127.0.0.1", 1025, tmp_path / "ca.pem")


def test_a_host_only_on_the_command_line_still_uses_starttls():
    settings = smtp_settings({"name": "X", "smtp": {"from": "x@example.org"}}, host="mail.example.org")
    assert (settings.security, settings.port, settings.user) == ("starttls", 587, None)


def test_no_mail_server_is_an_error_with_a_fix():
    expected = r"^leaflets/org.yaml: no mail server is set — add smtp: .*--smtp-host"
    with pytest.raises(MailError, match=expected):
        smtp_settings({"name": "X"})


def test_no_from_address_is_an_error_with_a_fix():
    with pytest.raises(MailError, match="smtp.from is missing"):
        smtp_settings({"name": "X", "smtp": {"host": "mail.example.org"}})
    with pytest.raises(MailError, match="smtp.from 'IR handouts' is not an e-mail address"):
        smtp_settings({"name": "X", "smtp": {"host": "mail.example.org", "from": "IR handouts"}})


def test_the_real_org_yaml_gives_starttls_on_587():
    settings = smtp_settings(content.load(Project(REPO), ["dvt"]).org)
    assert (settings.security, settings.port, settings.user) == ("starttls", 587, "ir-handouts")
