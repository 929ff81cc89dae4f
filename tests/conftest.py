"""Fixtures: a private copy of the fixture leaflet set (plus the real templates and styles) per test,
and one shared build of it, so expensive rendering happens once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import COMBINED, assert_ok, build, make_project


@pytest.fixture
def project(tmp_path) -> Path:
    """A throwaway copy of tests/fixtures/project with the repo's real templates/ and styles/."""
    return make_project(tmp_path / "project")


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "dist"


@dataclass
class Built:
    project: Path
    out: Path           # build with no ID: every leaflet and insert, both papers
    combined: Path      # build sample --insert first-insert --insert second-insert, both papers
    stdout: str
    stderr: str

    def single(self, paper: str, id_: str) -> Path:
        return self.out / paper / f"{id_}.pdf" if id_ == "sample" else self.out / paper / "inserts" / f"{id_}.pdf"

    def handout(self, paper: str) -> Path:
        return self.combined / paper / COMBINED


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """The fixture project built once for the whole session (all papers, singles and the combined handout)."""
    root = tmp_path_factory.mktemp("built")
    project = make_project(root / "project")
    everything = build(project, root / "dist")
    assert_ok(everything)
    combined = build(project, root / "combined", "sample", "--insert", "first-insert", "--insert", "second-insert")
    assert_ok(combined)
    return Built(project, root / "dist", root / "combined", everything.stdout + combined.stdout,
                 everything.stderr + combined.stderr)


@pytest.fixture(scope="session")
def cdef_data(tmp_path_factory) -> Path:
    """WeasyPrint's C declarations compiled by weasy_compat.prepare_cdef, into a file of the session's own."""
    from clearleaf import weasy_compat

    path = tmp_path_factory.mktemp("cdef") / "weasyprint-cdef.txt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weasy_compat, "CDEF_DATA", path)
        weasy_compat.prepare_cdef()
    assert path.is_file()
    return path


@dataclass
class BuiltSite:
    project: Path       # helpers.site_project: the fixture set with leaflet_url and an Arabic sample
    out: Path           # `build.py site --out` into here
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """The fixture set's website, built once for the session (tests/test_site*.py only read it)."""
    import time

    from helpers import run, site_project

    root = tmp_path_factory.mktemp("site")
    project = site_project(root / "project")
    start = time.perf_counter()
    result = run(project, "site", "--out", str(root / "site"))
    seconds = time.perf_counter() - start
    assert_ok(result)
    return BuiltSite(project, root / "site", result.stdout, result.stderr, seconds)


# --- Mail: real SMTP servers on 127.0.0.1 (tests/smtp_server.py) ---

import smtp_server


@pytest.fixture(scope="session")
def smtp_cert(tmp_path_factory) -> smtp_server.Certificate:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost (cert.pem, key.pem)."""
    return smtp_server.make_certificate(tmp_path_factory.mktemp("smtp-cert"))


def _serve(mode: str, cert=None):
    server = smtp_server.start(mode, cert)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_starttls(smtp_cert):
    """A server that requires STARTTLS and then AUTH (smtp_server.USER / smtp_server.PASSWORD)."""
    yield from _serve("starttls", smtp_cert)


@pytest.fixture
def smtp_tls(smtp_cert):
    """A server speaking implicit TLS (as on port 465), with AUTH."""
    yield from _serve("tls", smtp_cert)


@pytest.fixture
def smtp_plain():
    """A server with no TLS and no AUTH: it never offers STARTTLS."""
    yield from _serve("plain")


@pytest.fixture
def mail_project(project):
    """The fixture project with an smtp: section for the test servers (STARTTLS, user smtp_server.USER)."""
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"smtp:\n  host: mail.fixture.example\n  port: \"587\"\n  security: starttls\n"
                f"  user: {smtp_server.USER}\n  from: Fixture Health Trust <handouts@fixture.example>\n")
    return project


@pytest.fixture(scope="session")
def cups():
    """A private CUPS scheduler on 127.0.0.1 with a raw queue 'ward' (cups.queue) whose IPP printer
    (cups.printer) keeps every job it receives; pass server=cups.server to clearleaf.printing."""
    from cups_server import running_cups

    with running_cups("ward") as scheduler:
        yield scheduler
from browser import chromium_browser  # noqa: F401,E402  real-browser fixture


# --- E-mail: the DVT handout every mail test sends (tests/mail_support.py) ---

@pytest.fixture(scope="session")
def handout(tmp_path_factory):
    from mail_support import dvt_handout

    return dvt_handout(tmp_path_factory.mktemp("handout"))
