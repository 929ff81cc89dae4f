"""E-mail test support: the session's DVT handout, the SMTP settings and message for a test server,
and the check that a failure is one line that names the server and hides every secret."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import pikepdf
import pytest
import weasyprint

import smtp_server
from clearleaf import builder, content
from clearleaf.config import Project
from clearleaf.mail import SmtpSettings, compose, smtp_settings
from helpers import REPO

PATIENT = "Zanzibar Quokka"  # stands in for the patient's name, printed only inside the PDF
TO = "patient.mailbox@example.org"
FILENAME = "RGH-0042-dvt.pdf"
PDF_PASSWORD = "Okapi-Marigold-5150"
TIMEOUT = 5


@dataclass
class Handout:
    project: Project
    org: dict
    parts: list
    pdf: bytes


def dvt_handout(out: Path) -> Handout:
    """The repo's DVT leaflet with the venous-stent insert, built once, with a cover page naming the patient.

    Personalised handouts are built elsewhere; a WeasyPrint cover page stands in for the patient's details.
    """
    project = Project(REPO)
    result = builder.build(project, ids=["dvt"], papers=("a4",), inserts=("venous-stent",), out=out,
                           allow_overdue=True)
    cover = weasyprint.HTML(string=f"<h1>Prepared for {PATIENT}</h1>").write_pdf()
    with pikepdf.open(result.jobs[0].path) as doc, pikepdf.open(io.BytesIO(cover)) as first:
        doc.pages.insert(0, first.pages[0])
        data = io.BytesIO()
        doc.save(data)
    library = content.load(project, ["dvt"], ["venous-stent"])
    parts = [library.leaflets["dvt"], library.inserts["venous-stent"]]
    return Handout(project, library.org, parts, data.getvalue())


def settings_for(server, handout: Handout, smtp_cert, security: str = "starttls", **changes) -> SmtpSettings:
    """The org.yaml settings pointed at a test server, as --smtp-host/--smtp-port/--smtp-ca-file would."""
    org = {**handout.org, "smtp": {**handout.org["smtp"], "security": security}}
    settings = smtp_settings(org, host=server.host, port=server.port, ca_file=smtp_cert.cert)
    return replace(settings, **changes)


def message_for(handout: Handout, settings: SmtpSettings, pdf: bytes | None = None, to: str = TO):
    return compose(handout.project, handout.org, handout.parts, handout.pdf if pdf is None else pdf,
                   FILENAME, to, settings.sender)


def assert_one_line(exc: pytest.ExceptionInfo, settings: SmtpSettings) -> str:
    text = str(exc.value)
    assert "\n" not in text
    assert text.startswith(f"smtp {settings.host}:{settings.port}: ") and " — " in text
    for secret in (smtp_server.PASSWORD, "wrong-password-123", PATIENT):
        assert secret not in text
    return text
