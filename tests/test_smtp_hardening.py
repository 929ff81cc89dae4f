"""Mail servers that stall, refuse for now, or echo secrets (issue 12, items 9, 10 and 11).

Against real servers on loopback: aiosmtpd (tests/smtp_server.py) and hand-written ones for what
aiosmtpd will not do (trickle its greeting a byte at a time, echo the AUTH line).
"""

from __future__ import annotations

import base64

import pytest

import smtp_server
from clearleaf.mail import MailError, SmtpSettings, send
from helpers import ADDRESS, DISTINCT, FULL, assert_clean_error, log_lines, run, write_patient
from mail_support import TIMEOUT, assert_one_line, message_for, settings_for

NON_ASCII_PASSWORD = "Tuatara-Lantérn-8841-ñ"


# --- item 9: one deadline for the whole conversation ----------------------------------------------

def test_a_server_that_trickles_its_greeting_is_cut_off_at_the_deadline(handout):  # noqa: F811
    """A byte every 0.25 s never trips the 5 s wait for each read; the 1.5 s deadline for it all does."""
    server = smtp_server.TricklingServer(interval=0.25, length=400)  # 100 s to say hello
    try:
        settings = SmtpSettings(server.host, server.port, "none", None, "a@b.example")
        with pytest.raises(MailError) as exc:
            send(message_for(handout, settings), settings, None, timeout=5, deadline=1.5)
    finally:
        server.close()
    text = assert_one_line(exc, settings)
    assert "the mail server did not finish within 1.5 seconds" in text and "nothing was sent" in text
    assert server.sent < 40  # it hung up after about 6 bytes, not 400


@pytest.mark.parametrize("recipient,code", [(smtp_server.BUSY_RECIPIENT, "451"),
                                            (smtp_server.GREYLISTED_RECIPIENT, "450")])
def test_a_4xx_reply_is_a_temporary_failure_to_retry_later(smtp_starttls, handout, smtp_cert, recipient,  # noqa: F811
                                                           code):
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    with pytest.raises(MailError) as exc:
        send(message_for(handout, settings, to=recipient), settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert f"the server cannot take the message now ({code} " in text and "a temporary failure" in text
    assert "try again later" in text
    assert "too large" not in text and recipient not in text
    assert smtp_starttls.delivered == []


# --- item 10: the SMTP password is never shown, whatever its characters or the server says ---------

def test_a_non_ascii_smtp_password_logs_in(mail_project, tmp_path, smtp_cert, monkeypatch):  # noqa: F811
    server = smtp_server.start("starttls", smtp_cert, password=NON_ASCII_PASSWORD)
    try:
        monkeypatch.setenv("SMTP_PASSWORD", NON_ASCII_PASSWORD)
        patient = write_patient(tmp_path / "p.yaml", **FULL)
        result = run(mail_project, "email", "sample", "--patient", patient, "--to", ADDRESS, "--smtp-host",
                     "127.0.0.1", "--smtp-port", str(server.port), "--smtp-ca-file", smtp_cert.cert)
        assert result.exit_code == 0, result.stderr
        assert server.recorder.logins == [(smtp_server.USER, True)] and len(server.delivered) == 1
    finally:
        server.stop()


def test_a_wrong_non_ascii_password_is_a_clean_error_that_shows_none_of_it(mail_project, tmp_path,  # noqa: F811
                                                                           smtp_starttls, smtp_cert, monkeypatch):
    wrong = "Wrøng-pässwörd-ß"
    monkeypatch.setenv("SMTP_PASSWORD", wrong)
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", ADDRESS, "--smtp-host",
                 "127.0.0.1", "--smtp-port", str(smtp_starttls.port), "--smtp-ca-file", smtp_cert.cert)
    err = assert_clean_error(result)
    assert "refused the login" in err
    for character in "øäöß":
        assert character not in err and ascii(character)[1:-1] not in err
    assert smtp_starttls.delivered == []


@pytest.mark.parametrize("password", ["Okapi-Lantern-5150", NON_ASCII_PASSWORD])
def test_a_server_that_echoes_the_auth_line_never_shows_the_credentials(handout, password):  # noqa: F811
    server = smtp_server.EchoingAuthServer()
    try:
        settings = SmtpSettings(server.host, server.port, "none", "ir-handouts", "a@b.example")
        with pytest.raises(MailError) as exc:
            send(message_for(handout, settings), settings, password, timeout=TIMEOUT)
    finally:
        server.close()
    text = assert_one_line(exc, settings)
    assert "refused the login for ir-handouts" in text
    sent = b"\0ir-handouts\0" + password.encode("utf-8")
    token = base64.b64encode(sent).decode()
    assert any(token.encode() in line for line in server.seen)  # the server really had it to echo
    for secret in (password, token, token[:12], base64.b64encode(password.encode("utf-8")).decode()):
        assert secret not in text


# --- item 11: the patient's address is never in a message -------------------------------------------

def test_a_refused_recipient_is_not_named(smtp_starttls, handout, smtp_cert):  # noqa: F811
    settings = settings_for(smtp_starttls, handout, smtp_cert)
    message = message_for(handout, settings, to=smtp_server.REJECTED_RECIPIENT)
    with pytest.raises(MailError) as exc:
        send(message, settings, smtp_server.PASSWORD, timeout=TIMEOUT)
    text = assert_one_line(exc, settings)
    assert "the server refused the recipient's address (550 " in text
    assert smtp_server.REJECTED_RECIPIENT not in text and "refused.example" not in text


def test_a_refused_recipient_at_the_command_line_is_not_named(mail_project, tmp_path, smtp_starttls,  # noqa: F811
                                                              smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", smtp_server.REJECTED_RECIPIENT,
                 "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_starttls.port), "--smtp-ca-file", smtp_cert.cert)
    err = assert_clean_error(result)
    assert "refused the recipient's address" in err
    assert "refused.example" not in err and DISTINCT not in err
    assert log_lines(mail_project) == []


@pytest.mark.parametrize("to", ["ann.smith@example", "Ann Smith <ann.smith@example.org>, bo@example.org",
                                "ann.smith@@example.org"])
def test_an_invalid_address_is_not_echoed(to):
    from clearleaf.mail import check_address

    with pytest.raises(MailError) as exc:
        check_address(to)
    assert "ann.smith" not in str(exc.value) and "Ann Smith" not in str(exc.value)
