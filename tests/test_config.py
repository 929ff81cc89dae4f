"""leaflets/org.yaml has a declared schema (config.KEYS): typed values, defaults, and every mistake
reported as `leaflets/org.yaml:LINE: problem — fix`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from clearleaf import checks, config, content, mail, pdf
from clearleaf.checks.settings import load_settings
from clearleaf.config import KEYS, Desk, Org, Project, check_org, load_org, other_formats, public_org
from clearleaf.errors import ContentError, Problems
from helpers import FIXTURE, REPO, assert_ok, build, line_of, make_project

SHOWN = "leaflets/org.yaml"
BASE = (FIXTURE / "leaflets" / "org.yaml").read_text("utf-8").rstrip("\n") + "\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """One copy of the fixture project; each test writes its own org.yaml into it."""
    return make_project(tmp_path_factory.mktemp("config") / "project")


def line_at(path: Path, on: str) -> int:
    """The first line that starts with on (so "desk:" is the section, not the phone), else that contains it."""
    for n, line in enumerate(path.read_text("utf-8").split("\n"), 1):
        if line.startswith(on):
            return n
    return line_of(path, on)


def write(root: Path, extra: str = "", base: str = BASE) -> Path:
    path = root / "leaflets" / "org.yaml"
    path.write_text(base + extra, "utf-8")
    return path


def read(root: Path, extra: str = "", base: str = BASE) -> tuple[Org, list[str], Path]:
    """Write org.yaml (the fixture's plus extra), check it; return the Org, the problems as text, the path."""
    path = write(root, extra, base)
    problems = Problems()
    org = check_org(Project(root), problems)
    return org, [str(p) for p in problems.items], path


# --- The desk section: defaults and parsing ---------------------------------------------------------

def test_desk_defaults_when_the_section_is_absent(root):
    org, problems, _ = read(root)
    assert problems == []
    assert org.desk == Desk()
    assert org.desk.paper == "a4"
    assert org.desk.users_file == "records/desk-users.txt"
    assert org.desk.trusted_proxy == ()
    assert org.desk.user_header == "X-Remote-User"
    assert org.desk.allowed_hosts == ()
    assert org.desk.session_minutes == 15
    assert org.desk.line is None and "desk" not in org


def test_desk_defaults_fill_an_empty_looking_section(root):
    org, problems, path = read(root, "desk:\n  paper: letter\n")
    assert problems == []
    assert org.desk == Desk(paper="letter", line=line_at(path, "desk:"))
    assert org["desk"]["session_minutes"] == 15 and org["desk"]["paper"] == "letter"


def test_every_desk_key_is_parsed_and_typed(root):
    org, problems, path = read(root, (
        "desk:\n"
        "  paper: Letter\n"
        "  users_file: private/staff.txt\n"
        "  trusted_proxy:\n"
        "    - 127.0.0.1\n"
        "    - '::0001'\n"
        "  user_header: X-Forwarded-User\n"
        "  allowed_hosts: [Desk.Riverside.example., 10.1.2.3, '[::1]']\n"
        "  session_minutes: 480\n"))
    assert problems == []
    assert org.desk == Desk(paper="letter", users_file="private/staff.txt", trusted_proxy=("127.0.0.1", "::1"),
                            user_header="X-Forwarded-User",
                            allowed_hosts=("desk.riverside.example", "10.1.2.3", "[::1]"),
                            session_minutes=480, line=line_at(path, "desk:"))
    assert isinstance(org.desk.session_minutes, int)
    for key in ("paper", "users_file", "trusted_proxy", "user_header", "allowed_hosts", "session_minutes"):
        assert org.lines[f"desk.{key}"] == line_at(path, f"  {key}:")


def test_the_real_org_yaml_declares_the_desk_defaults():
    org = load_org(Project(REPO))
    assert dataclasses.replace(org.desk, line=None) == Desk()
    assert org.desk.line == line_at(REPO / "leaflets" / "org.yaml", "desk:")


# --- Typed attributes, and the same values as a read-only mapping -----------------------------------

SMTP = ("smtp:\n  host: mail.fixture.example\n  port: \"2525\"\n  security: tls\n  user: handouts\n"
        "  from: Fixture <handouts@fixture.example>\n")


def test_smtp_is_typed_and_keeps_its_lines(root):
    org, problems, path = read(root, SMTP + "leaflet_url: https://fixture.example/l/{id}\nissue_log: logs/x.jsonl\n")
    assert problems == []
    assert org.smtp == config.Smtp("mail.fixture.example", 2525, "tls", "handouts", "Fixture <handouts@fixture.example>",
                                   line_at(path, "smtp:"))
    assert org.lines["smtp"] == line_at(path, "smtp:") and org.lines["smtp.port"] == line_at(path, "port:")
    assert org.lines["phones.night.number"] == line_at(path, "0100 555 0111")
    assert (org.leaflet_url, org.issue_log) == ("https://fixture.example/l/{id}", "logs/x.jsonl")
    # The mapping keeps the plain values code and templates used before: smtp as a dict, port a number.
    assert org["smtp"] == {"host": "mail.fixture.example", "port": 2525, "security": "tls", "user": "handouts",
                           "from": "Fixture <handouts@fixture.example>"}


def test_defaults_when_the_settings_are_absent(root):
    org, problems, _ = read(root)
    assert problems == []
    assert (org.smtp, org.leaflet_url, org.checks, org.languages) == (None, None, None, {})
    assert org.issue_log == config.DEFAULT_ISSUE_LOG == org["issue_log"]
    assert org.name == "Fixture Health Trust" and org.emergency_number == "999"


def test_org_works_where_a_dict_did(root):
    org, _, _ = read(root)
    assert org["name"] == "Fixture Health Trust" and "name" in org and "smtp" not in org
    assert list(org.get("phones", {})) == ["desk", "night"]
    assert org.get("languages", {}) == {} and org.get("checks") is None
    assert {**org}["department"] == "Quillfeather Department" and dict(org) == org
    assert other_formats(org) == "Fixture leaflets come in large print and other languages. Ring 0100 555 0199 to ask."
    assert set(public_org(org)) == {"name", "department", "emergency_number", "website", "phones", "other_formats"}
    assert config.leaflet_url(org, "dvt") is None
    with pytest.raises(TypeError):
        org["name"] = "Other"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        org.name = "Other"  # type: ignore[misc]


def test_checks_are_handed_to_the_check_settings_with_their_line(root):
    org, problems, path = read(root, "checks:\n  grade_warning: 7\n")
    assert problems == []
    assert org["checks"]["line"] == line_at(path, "checks:") and org["checks"]["value"] == {"grade_warning": "7"}
    findings: list = []
    assert load_settings(Project(root), org, findings).grade_warning == 7 and findings == []


# --- Every kind of mistake names its line ----------------------------------------------------------

CASES = [
    # (what is appended to the fixture's org.yaml, text on the reported line, the problem — fix)
    ("desk:\n  paper: a5\n", "paper:", "desk.paper 'a5' is not allowed — use a4 or letter"),
    ("desk:\n  paper: [a4, letter]\n", "paper:",
     "desk.paper must be one of a4, letter, not a list — write it on one line, e.g. paper: letter"),
    ("desk:\n  session_minutes: ten\n", "session_minutes:",
     "desk.session_minutes 'ten' is not a number — write a whole number from 1 to 480, e.g. session_minutes: 15"),
    ("desk:\n  session_minutes: 0\n", "session_minutes:",
     "desk.session_minutes 0 is not between 1 and 480 — write a whole number from 1 to 480, e.g. session_minutes: 15"),
    ("desk:\n  session_minutes: 481\n", "session_minutes:",
     "desk.session_minutes 481 is not between 1 and 480 — write a whole number from 1 to 480, e.g. session_minutes: 15"),
    ("desk:\n  session_minutes: \"1.5\"\n", "session_minutes:",
     "desk.session_minutes '1.5' is not a number — write a whole number from 1 to 480, e.g. session_minutes: 15"),
    ("desk:\n  users_file: \"\"\n", "users_file:",
     "desk.users_file must be text — write it on one line, e.g. users_file: records/desk-users.txt"),
    ("desk:\n  users_file:\n    - a.txt\n", "users_file:",
     "desk.users_file must be text, not a list — write it on one line, e.g. users_file: records/desk-users.txt"),
    ("desk:\n  trusted_proxy: 127.0.0.1\n", "trusted_proxy:",
     "desk.trusted_proxy must be a list of IP addresses — write it as trusted_proxy: [127.0.0.1], "
     "or trusted_proxy: [] for none"),
    ("desk:\n  trusted_proxy:\n    - 127.0.0.1\n    - 10.0.0.300\n", "10.0.0.300",
     "'10.0.0.300' in desk.trusted_proxy is not an IP address — write each address as digits, e.g. 127.0.0.1 "
     "or ::1; host names are not allowed"),
    ("desk:\n  trusted_proxy: [proxy.fixture.example]\n", "trusted_proxy:",
     "'proxy.fixture.example' in desk.trusted_proxy is not an IP address — write each address as digits, "
     "e.g. 127.0.0.1 or ::1; host names are not allowed"),
    ("desk:\n  user_header: X Remote User\n", "user_header:",
     "desk.user_header 'X Remote User' is not a header name — use letters, digits and hyphens, "
     "e.g. user_header: X-Remote-User"),
    ("desk:\n  allowed_hosts:\n    - desk.fixture.example\n    - https://desk.fixture.example/\n", "https://",
     "'https://desk.fixture.example/' in desk.allowed_hosts is not a host name — write the name alone, "
     "e.g. desk.example.org: no http://, port or path"),
    ("desk:\n  allowed_hosts: desk.fixture.example\n", "allowed_hosts:",
     "desk.allowed_hosts must be a list of host names — write it as allowed_hosts: [desk.riverside-general.example], "
     "or allowed_hosts: [] for none"),
    ("desk: a4\n", "desk:", "desk is not a list of 'key: value' lines — write one 'key: value' per line"),
    ("desk:\n  paper: a4\n  paper: letter\n", "paper: letter", "'paper' is given twice — keep one and delete the other"),
    ("smtp:\n  host: mail.fixture.example\n  port: five\n", "port:",
     "smtp.port 'five' is not a number — use e.g. 587 (STARTTLS) or 465 (TLS)"),
    ("smtp:\n  host: mail.fixture.example\n  port: 70000\n", "port:",
     "smtp.port 70000 is not between 1 and 65535 — use e.g. 587 (STARTTLS) or 465 (TLS)"),
    ("smtp:\n  host: mail.fixture.example\n  security: ssl\n", "security:",
     "smtp.security 'ssl' is not allowed — use starttls (the default), tls, or none for a server on this machine only"),
    ("smtp:\n  host:\n", "host:",
     "smtp.host must be text — write it on one line, e.g. host: smtp.riverside-general.example"),
    ("smtp:\n  host: {name: x}\n", "host:",
     "smtp.host must be text, not a group of keys — write it on one line, e.g. host: smtp.riverside-general.example"),
    ("leaflet_url: http://fixture.example/{id}\n", "leaflet_url:",
     "leaflet_url is not an https:// address — write it as https://www.example.org/leaflets/{id}"),
    ("leaflet_url: https://fixture.example/{slug}\n", "leaflet_url:",
     "unknown field '{slug}' in leaflet_url — only {id} is filled in"),
    ("issue_log: [a, b]\n", "issue_log:",
     "issue_log must be text, not a list — write it on one line, e.g. issue_log: records/issued.jsonl"),
    ("languages:\n  es:\n    emergency_number: \"000\"\n", "emergency_number: \"000\"",
     "'emergency_number' cannot be translated in languages.es — translate only department, other_formats, phones; "
     "emergency_number is the same in every language"),
    ("languages:\n  es:\n    phones:\n      night:\n        number: \"1\"\n", "number: \"1\"",
     "'number' cannot be translated in languages.es.phones.night — translate only label, hours; "
     "number is the same in every language"),
    ("languages:\n  spanish:\n    department: x\n", "spanish:", "'spanish' is not a language tag — use a tag such as es or ar"),
]


@pytest.mark.parametrize("extra, on, expected", CASES, ids=[c[2][:40] for c in CASES])
def test_each_mistake_names_its_line(root, extra, on, expected):
    _, problems, path = read(root, extra)
    assert problems == [f"{SHOWN}:{line_at(path, on)}: {expected}"]


def test_a_wrong_value_keeps_the_default(root):
    org, problems, _ = read(root, "desk:\n  paper: a5\n  session_minutes: 0\n")
    assert len(problems) == 2
    assert (org.desk.paper, org.desk.session_minutes) == ("a4", 15)


def test_problems_in_a_phone_name_the_phone(root):
    _, problems, path = read(root, base=BASE.replace("    number: 0100 555 0111\n", "").replace(
        "    label: Quillfeather desk\n", "    label: [a, b]\n"))
    assert problems == [
        f"{SHOWN}:{line_at(path, 'label: [a, b]')}: phones.desk.label must be text, not a list — "
        "write it on one line, e.g. label: Interventional radiology nurses",
        f"{SHOWN}:{line_at(path, '  night:')}: phones.night has no number — give each phone a label, number and hours",
    ]


def test_an_empty_file_reports_every_required_key(root):
    _, problems, _ = read(root, base="")
    assert problems == [f"{SHOWN}: '{key.name}' is missing — add a line such as {key.name}: {key.example}"
                        for key in KEYS if key.required and "." not in key.name]


def test_load_org_raises_every_problem_at_once(root):
    path = write(root, "desk:\n  paper: a5\nsmtp:\n  port: x\n")
    with pytest.raises(ContentError) as caught:
        load_org(Project(root))
    assert str(caught.value).split("\n") == [
        f"{SHOWN}:{line_at(path, 'paper:')}: desk.paper 'a5' is not allowed — use a4 or letter",
        f"{SHOWN}:{line_at(path, 'port:')}: smtp.port 'x' is not a number — use e.g. 587 (STARTTLS) or 465 (TLS)",
    ]


# --- Unknown keys, anywhere, suggest the key meant ------------------------------------------------

@pytest.mark.parametrize("extra, on, expected", [
    ("desks:\n  paper: a4\n", "desks:", "unknown key 'desks' — did you mean 'desk'?"),
    ("fax: 0100 555 0000\n", "fax:",
     "unknown key 'fax' — allowed keys are name, department, emergency_number, website, phones, other_formats, "
     "smtp, issue_log, leaflet_url, checks, languages, desk"),
    ("desk:\n  sesion_minutes: 5\n", "sesion_minutes:", "unknown key 'sesion_minutes' in desk — did you mean 'session_minutes'?"),
    ("desk:\n  trusted_proxies: []\n", "trusted_proxies:", "unknown key 'trusted_proxies' in desk — did you mean 'trusted_proxy'?"),
    ("desk:\n  colour: blue\n", "colour:",
     "unknown key 'colour' in desk — desk has only paper, users_file, trusted_proxy, user_header, allowed_hosts, "
     "session_minutes"),
    ("smtp:\n  hots: mail.fixture.example\n", "hots:", "unknown key 'hots' in smtp — did you mean 'host'?"),
    ("smtp:\n  tls_cert: ca.pem\n", "tls_cert:",
     "unknown key 'tls_cert' in smtp — smtp has only host, port, security, user, from"),
    ("smtp:\n  password: hunter22\n", "password:",
     "unknown key 'password' in smtp — the password is never stored in org.yaml: set SMTP_PASSWORD in the environment"),
    ("languages:\n  es:\n    departmen: Departamento\n", "departmen:",
     "unknown key 'departmen' in languages.es — did you mean 'department'?"),
    ("languages:\n  es:\n    phones:\n      nigth:\n        label: Línea nocturna\n", "nigth:",
     "unknown phone 'nigth' in languages.es.phones — did you mean 'night'?"),
])
def test_unknown_keys_suggest_the_key_meant(root, extra, on, expected):
    _, problems, path = read(root, extra)
    assert problems == [f"{SHOWN}:{line_at(path, on)}: {expected}"]


def test_unknown_phone_key_suggests_the_key_meant(root):
    _, problems, path = read(root, base=BASE.replace("    hours: Any time", "    huors: Any time"))
    assert f"{SHOWN}:{line_at(path, 'huors:')}: unknown key 'huors' in phones.night — did you mean 'hours'?" in problems


# --- Mail settings name the line in org.yaml ------------------------------------------------------

def mail_error(org, *args) -> str:
    with pytest.raises(mail.MailError) as caught:
        mail.smtp_settings(org, *args)
    return str(caught.value)


def test_smtp_without_a_host_names_the_smtp_line(root):
    org, problems, path = read(root, "smtp:\n  from: a@fixture.example\n")
    assert problems == []
    assert mail_error(org) == (f"{SHOWN}:{line_at(path, 'smtp:')}: smtp.host is missing — add host: with the mail "
                               "server's name under smtp:, e.g. host: smtp.example.org, or pass --smtp-host")
    assert mail.smtp_settings(org, "mail.fixture.example").host == "mail.fixture.example"


def test_no_smtp_section_has_no_line_to_name(root):
    org, _, _ = read(root)
    assert mail_error(org) == (f"{SHOWN}: no mail server is set — add smtp: with host, port, security, user and "
                               "from to leaflets/org.yaml, or pass --smtp-host")
    assert re.match(rf"^{SHOWN}: smtp\.from is missing — ", mail_error(org, "mail.fixture.example"))


def test_plain_text_to_a_remote_server_names_the_security_line(root):
    org, _, path = read(root, "smtp:\n  host: mail.fixture.example\n  security: none\n  from: a@fixture.example\n")
    assert mail_error(org).startswith(
        f"{SHOWN}:{line_at(path, 'security:')}: smtp.security is none but the mail server mail.fixture.example "
        "is not on this machine — ")
    assert mail.smtp_settings(org, "127.0.0.1").port == 25


def test_from_problems_name_their_lines(root):
    org, _, path = read(root, "smtp:\n  host: mail.fixture.example\n")
    assert mail_error(org).startswith(f"{SHOWN}:{line_at(path, 'smtp:')}: smtp.from is missing — ")
    org, _, path = read(root, "smtp:\n  host: mail.fixture.example\n  from: Fixture handouts\n")
    assert mail_error(org).startswith(f"{SHOWN}:{line_at(path, 'from:')}: smtp.from 'Fixture handouts' is not an e-mail")
    with pytest.raises(mail.MailError, match=rf"^{SHOWN}:{line_at(path, 'from:')}: smtp\.from '"):
        mail.sender_address(org)


def test_a_blank_host_is_reported_by_validation_even_when_its_problems_were_dropped(root):
    # check_org's own Problems thrown away, as a caller that only wants the settings might do.
    org, problems, path = read(root, "smtp:\n  host:\n  from: a@fixture.example\n")
    expected = f"{SHOWN}:{line_at(path, 'host:')}: smtp.host must be text — write it on one line, " \
               "e.g. host: smtp.riverside-general.example"
    assert problems == [expected]
    assert mail_error(org) == expected
    with pytest.raises(mail.MailError, match=re.escape(expected)):
        mail.sender_address(org)


# --- Read once per run ------------------------------------------------------------------------------

@pytest.fixture
def org_reads(monkeypatch):
    """Count how often leaflets/org.yaml is opened."""
    reads = []
    real_bytes, real_text = Path.read_bytes, Path.read_text

    def read_bytes(self):
        if self.name == "org.yaml":
            reads.append(self)
        return real_bytes(self)

    def read_text(self, *args, **kwargs):
        if self.name == "org.yaml":
            reads.append(self)
        return real_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "read_text", read_text)
    return reads


def test_loading_and_checking_read_org_yaml_once(root, org_reads):
    write(root, "checks:\n  grade_warning: 7\n")
    library = content.load(Project(root), drawable=pdf.font_characters(), langs="all")
    assert len(org_reads) == 1 and library.org.name == "Fixture Health Trust"
    org_reads.clear()
    checks.check(Project(root))
    assert len(org_reads) == 1


def test_a_build_reads_org_yaml_once(root, org_reads, tmp_path, monkeypatch):
    """Read to be understood once; the manifest also hashes its bytes once, with every input file."""
    from clearleaf import manifest

    write(root)
    hashed = []
    real_inputs = manifest.inputs

    def inputs(project):
        before = len(org_reads)
        found = real_inputs(project)
        hashed.extend(org_reads[before:])
        del org_reads[before:]
        return found

    monkeypatch.setattr(manifest, "inputs", inputs)
    assert_ok(build(root, tmp_path / "dist", "sample", "--paper", "a4"))
    assert len(org_reads) == 1 and len(hashed) == 1


# --- The docs list the same keys --------------------------------------------------------------------

def org_section() -> str:
    text = (REPO / "docs" / "authoring.md").read_text("utf-8")
    start = text.index("\n## The organisation config")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_authoring_guide_lists_every_declared_key():
    documented = re.findall(r"^\| `([^`]+)` \|", org_section(), re.M)
    assert len(documented) == len(set(documented)), "a key is documented twice"
    assert set(documented) == {key.name for key in KEYS}


def test_the_authoring_guide_documents_each_default():
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([^`]+)` \|[^|]*\| ([^|]*) \|", org_section(), re.M)}
    for key in KEYS:
        if key.default not in (None, ()):
            assert f"`{key.default}`" in rows[key.name], key.name


def test_the_authoring_guides_example_mistakes_are_what_the_build_says(root):
    block = re.search(r"```\n(leaflets/org\.yaml:.*?)```", org_section(), re.S).group(1)
    examples = [re.sub(r"^leaflets/org\.yaml:\d+: ", "", line) for line in block.strip().split("\n")]
    _, problems, _ = read(root, "smtp:\n  hots: x\n  port: five\ndesk:\n  paper: a5\n  trusted_proxy: [10.0.0.300]\n")
    assert sorted(examples) == sorted(re.sub(r"^leaflets/org\.yaml:\d+: ", "", p) for p in problems)
