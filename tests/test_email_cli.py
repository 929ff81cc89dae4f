"""build.py email end to end: a real SMTP server on loopback, STARTTLS, AUTH, the issue log, privacy."""

from __future__ import annotations

import io
import json
import stat

import pikepdf
import pypdf
import pytest

import smtp_server
from helpers import (ADDRESS, DISTINCT, FULL, SAMPLE, assert_clean_error, assert_ok, email, log_lines, run,
                     write_patient)

def attachment(delivered) -> tuple[str, bytes]:
    (part,) = [p for p in delivered.message.iter_attachments()]
    return part.get_filename(), part.get_content()


def test_email_sends_the_handout_over_starttls_with_auth(mail_project, tmp_path, smtp_starttls, smtp_cert,
                                                         monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr("tempfile.tempdir", str(private_tmp))
    result = email(mail_project, tmp_path, smtp_starttls, smtp_cert)
    assert_ok(result)
    assert list(private_tmp.iterdir()) == []  # no temp copy of the handout or the message
    for path in mail_project.rglob("*"):
        assert DISTINCT not in path.name
    (got,) = smtp_starttls.delivered
    assert got.tls and got.authenticated and got.rcpt_tos == [ADDRESS]
    message = got.message
    assert SAMPLE["title"] in message["Subject"] and "Fixture Health Trust" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert DISTINCT not in message["Subject"] and DISTINCT not in body
    name, data = attachment(got)
    assert name == "MRN-0042.pdf"
    with pikepdf.open(io.BytesIO(data)) as doc:
        assert len(doc.pages) >= 1
    assert DISTINCT in pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    (line,) = log_lines(mail_project)
    assert line["channel"] == "email" and line["reference"] == "MRN-0042" and line["encrypted"] is False
    for shown in (result.stdout, result.stderr, json.dumps(line)):
        assert DISTINCT not in shown and ADDRESS not in shown


def test_encrypted_email_needs_the_password(mail_project, tmp_path, smtp_starttls, smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    monkeypatch.setenv("HANDOUT_PASSWORD", "Kea-Orchard-5521")
    result = email(mail_project, tmp_path, smtp_starttls, smtp_cert, "--encrypt")
    assert_ok(result)
    assert "Kea-Orchard-5521" not in result.stdout + result.stderr
    (got,) = smtp_starttls.delivered
    _, data = attachment(got)
    assert b"Kea-Orchard-5521" not in got.data
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data), password="Kea-Orchard-5521") as doc:
        assert doc.encryption.stream_method.name == "aesv3"
    reader = pypdf.PdfReader(io.BytesIO(data))
    reader.decrypt("Kea-Orchard-5521")
    assert DISTINCT in reader.pages[0].extract_text()
    assert log_lines(mail_project)[0]["encrypted"] is True


def test_encrypt_without_a_password_and_no_terminal_is_refused(mail_project, tmp_path, smtp_starttls, smtp_cert,
                                                               monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    monkeypatch.delenv("HANDOUT_PASSWORD", raising=False)
    result = email(mail_project, tmp_path, smtp_starttls, smtp_cert, "--encrypt")
    assert result.exit_code == 2 and "HANDOUT_PASSWORD" in result.stderr
    assert smtp_starttls.delivered == [] and log_lines(mail_project) == []


def test_refused_connection_is_a_clean_error_and_nothing_is_recorded(mail_project, tmp_path, smtp_cert,
                                                                    monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    closed = smtp_server.free_port()
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", ADDRESS,
                 "--smtp-host", "127.0.0.1", "--smtp-port", str(closed))
    err = assert_clean_error(result, None, rf"^smtp 127\.0\.0\.1:{closed}: .+ — .+$")
    assert DISTINCT not in err and ADDRESS not in err
    assert log_lines(mail_project) == []


def test_wrong_smtp_password(mail_project, tmp_path, smtp_starttls, smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "not-the-password")
    err = assert_clean_error(email(mail_project, tmp_path, smtp_starttls, smtp_cert))
    assert "not-the-password" not in err and "authentication" in err.lower()
    assert smtp_starttls.delivered == []


def test_server_without_starttls_is_refused(mail_project, tmp_path, smtp_plain, smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    err = assert_clean_error(email(mail_project, tmp_path, smtp_plain, smtp_cert))
    assert "STARTTLS" in err
    assert smtp_plain.delivered == []


def test_rejected_recipient(mail_project, tmp_path, smtp_starttls, smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", "nobody@refused.example",
                 "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_starttls.port),
                 "--smtp-ca-file", smtp_cert.cert)
    err = assert_clean_error(result)
    assert "refused the recipient's address" in err
    assert "nobody@refused.example" not in err  # the patient's address (issue 12, item 11)
    assert log_lines(mail_project) == []


def test_bad_address_fails_before_anything_is_rendered(mail_project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", "a@b.org, c@d.org")
    assert_clean_error(result)


def test_eml_is_written_for_a_mail_client_readable_only_by_its_owner(mail_project, tmp_path):
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    eml = tmp_path / "out" / "handout.eml"
    result = run(mail_project, "email", "sample", "--patient", patient, "--to", ADDRESS, "--eml", eml)
    assert_ok(result)
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600
    from email import message_from_bytes, policy

    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == ADDRESS
    (part,) = list(message.iter_attachments())
    assert DISTINCT in pypdf.PdfReader(io.BytesIO(part.get_content())).pages[0].extract_text()
    assert log_lines(mail_project)[0]["delivery"] == "eml"


def test_a_blank_smtp_host_in_org_yaml_is_reported_at_its_line(project, tmp_path):
    # It used to be thrown away and reported as "no mail server is set", with no line.
    org = project / "leaflets" / "org.yaml"
    with open(org, "a", encoding="utf-8") as f:
        f.write("smtp:\n  host:\n  from: Fixture Health Trust <handouts@fixture.example>\n")
    line = org.read_text("utf-8").splitlines().index("  host:") + 1
    patient = write_patient(tmp_path / "p.yaml", **FULL)
    result = run(project, "email", "sample", "--patient", patient, "--to", ADDRESS)
    err = assert_clean_error(result, None, rf"^leaflets/org\.yaml:{line}: smtp\.host must be text — .+$")
    assert "no mail server is set" not in err
    assert log_lines(project) == []
