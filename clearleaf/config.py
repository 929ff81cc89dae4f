"""Project layout and the organisation config (leaflets/org.yaml), declared once.

KEYS declares every org.yaml key, nested ones included, with its kind, whether it is required,
what it means and an example, as schema.FIELDS does for front matter. check_org reads the file
once per run against that table and returns an Org: typed attributes for code (org.smtp.host,
org.desk.session_minutes), and a read-only mapping of the same plain values for templates and
older code (org["name"], org.get("phones", {})). Every problem names leaflets/org.yaml and the
line. docs/authoring.md documents the same keys; tests/test_config.py keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path

from .errors import Problem, Problems, os_reason
from .lazy import OnFirstUse
from .schema import ID_RE, LANG_RE

yaml = OnFirstUse("yaml")  # imported when a file is first parsed: a no-op build parses none

ORG_FILE = "org.yaml"
DEFAULT_ISSUE_LOG = "records/issued.jsonl"
DEFAULT_USERS_FILE = "records/desk-users.txt"
DEFAULT_USER_HEADER = "X-Remote-User"
SMTP_SECURITY = ("starttls", "tls", "none")
PAPERS = ("a4", "letter")
HEADER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
# In a key's dotted name these stand for any phone name and any language tag.
PHONE_NAME, LANG_TAG = "<name>", "<lang>"


@dataclass(frozen=True)
class Key:
    """One org.yaml key: its dotted name, its kind, whether it is required, and what it means."""

    name: str  # e.g. "smtp.host"; <name> and <lang> stand for a phone name and a language tag
    kind: str  # section | map | text | number | choice | url | path | header | ips | hosts | checks
    required: bool  # within its section, when the section is given
    doc: str
    example: str
    default: object = None
    choices: tuple[str, ...] = ()
    bounds: tuple[int, int] | None = None  # numbers: the lowest and highest allowed
    fields: tuple[str, ...] = ()  # the {field}s a text may contain
    public: bool = False  # printed on leaflets and offered to them as {{ org.<key> }}
    fix: str = ""  # how to put a wrong value right, when the kind's own advice is not enough

    @property
    def leaf(self) -> str:
        return self.name.rpartition(".")[2]

    @property
    def parent(self) -> str:
        return self.name.rpartition(".")[0]


KEYS: tuple[Key, ...] = (
    Key("name", "text", True, "The organisation's name, printed on every page.", "Riverside General Hospital",
        public=True),
    Key("department", "text", True, "The department that issues the leaflets.", "Interventional Radiology",
        public=True),
    Key("emergency_number", "text", True, "The emergency number. Quote it so that it stays as written.",
        '"911"', public=True),
    Key("website", "text", True, "The website patients can visit.", "www.riverside-general.example/ir",
        public=True),
    Key("phones", "map", True,
        "Phone numbers, each under a short name such as `team`. The first is the one printed for "
        "requests for other formats and feedback.",
        '{team: {label: Ward nurses, number: "0100 555 0199", hours: Any time}}', public=True),
    Key("phones.<name>", "section", True,
        "One phone: its label, number and hours. The name is lowercase words joined by `_` or `-`.",
        '{label: Ward nurses, number: "0100 555 0199", hours: Any time}',
        fix="give each phone a label, number and hours"),
    Key("phones.<name>.label", "text", True, "Who answers the phone.", "Interventional radiology nurses"),
    Key("phones.<name>.number", "text", True, "The number, as patients dial it.", "(555) 010-0142"),
    Key("phones.<name>.hours", "text", True, "When it is answered.", "Monday to Friday, 8 am to 5 pm"),
    Key("other_formats", "text", True,
        "The 'other formats and languages' sentence printed on every leaflet; `{phone}` stands for the "
        "first phone number.", '"Call {phone} to ask for large print or another language."',
        fields=("phone",), public=True),
    Key("smtp", "section", False,
        "The mail server for `build.py email`. The password is never stored here: it comes from the "
        "SMTP_PASSWORD environment variable.", "{host: smtp.example.org, from: ir@example.org}"),
    Key("smtp.host", "text", False, "The mail server's name. `--smtp-host` overrides it.",
        "smtp.riverside-general.example"),
    Key("smtp.port", "number", False, "The port. Defaults to 587 for starttls, 465 for tls and 25 for none.",
        '"587"', bounds=(1, 65535), fix="use e.g. 587 (STARTTLS) or 465 (TLS)"),
    Key("smtp.security", "choice", False,
        "`starttls` (the default), `tls`, or `none` (no encryption: only for a mail relay on this machine).",
        "starttls", default="starttls", choices=SMTP_SECURITY,
        fix="use starttls (the default), tls, or none for a server on this machine only"),
    Key("smtp.user", "text", False, "The login, when the server asks for one.", "ir-handouts"),
    Key("smtp.from", "text", False, "The From address of every message.",
        "Riverside IR <ir-handouts@riverside-general.example>"),
    Key("issue_log", "path", False,
        "Where each issued handout is recorded (one JSON line each), relative to the project.",
        DEFAULT_ISSUE_LOG, default=DEFAULT_ISSUE_LOG),
    Key("leaflet_url", "url", False,
        "Each leaflet's https:// web page, with `{id}` for its id; a translation's page has `/<lang>` after "
        "the id. The QR code in \"About this leaflet\" leads there; `build.py site` makes the pages.",
        "https://www.example.org/leaflets/{id}", fields=("id",)),
    Key("checks", "checks", False,
        "Thresholds and the glossary for `build.py check`; docs/checks.md lists its keys.",
        "{grade_warning: 6, grade_error: 8}"),
    Key("languages", "map", False,
        "The organisation details in other languages, under each language's tag.",
        "{es: {department: Radiología Intervencionista}}"),
    Key("languages.<lang>", "section", False,
        "One language's details. The tag is BCP 47, such as `es` or `ar`.",
        "{department: Radiología Intervencionista}"),
    Key("languages.<lang>.department", "text", False, "The department, in that language.",
        "Radiología Intervencionista"),
    Key("languages.<lang>.other_formats", "text", False,
        "The other-formats sentence, in that language; `{phone}` as above.",
        '"Llame al {phone} para pedirlo en letra grande."', fields=("phone",)),
    Key("languages.<lang>.phones", "map", False,
        "Phone labels and hours in that language, under the phone's name in `phones`.",
        "{team: {label: Enfermeras, hours: De lunes a viernes}}"),
    Key("languages.<lang>.phones.<name>", "section", False, "One phone's label and hours, in that language.",
        "{label: Enfermeras, hours: De lunes a viernes}"),
    Key("languages.<lang>.phones.<name>.label", "text", False, "The label, in that language.", "Enfermeras"),
    Key("languages.<lang>.phones.<name>.hours", "text", False, "The hours, in that language.",
        "De lunes a viernes, de 8 a. m. a 5 p. m."),
    Key("desk", "section", False, "Settings for the discharge web desk. Every key has a default.",
        "{paper: letter, session_minutes: 15}"),
    Key("desk.paper", "choice", False, "The paper the desk form offers first: `a4` or `letter`.",
        "letter", default="a4", choices=PAPERS),
    Key("desk.users_file", "path", False,
        "The file of staff logins (argon2 password hashes), relative to the project.",
        DEFAULT_USERS_FILE, default=DEFAULT_USERS_FILE),
    Key("desk.trusted_proxy", "ips", False,
        "The IP addresses of a reverse proxy allowed to name the user in `user_header`. "
        "Empty (the default): no proxy is trusted, and staff log in to the desk itself.",
        "[127.0.0.1]", default=()),
    Key("desk.user_header", "header", False, "The header in which the trusted proxy names the user.",
        DEFAULT_USER_HEADER, default=DEFAULT_USER_HEADER),
    Key("desk.allowed_hosts", "hosts", False,
        "Extra host names the desk answers to (the Host header), such as its name on the hospital "
        "network. Empty by default.", "[desk.riverside-general.example]", default=()),
    Key("desk.session_minutes", "number", False,
        "Minutes without activity after which a desk login ends, from 1 to 480.", "15",
        default=15, bounds=(1, 480)),
)
BY_NAME = {k.name: k for k in KEYS}


def children(parent: str) -> dict[str, Key]:
    """Return the keys directly inside a section ("" for the top level), by their own name."""
    return {k.leaf: k for k in KEYS if k.parent == parent}


def default(name: str):
    return BY_NAME[name].default


# Names kept for the code that used them before the table existed.
ORG_KEYS = {k.name: k.doc for k in KEYS if k.public}
SETTING_KEYS = {k.name: k.doc for k in KEYS if "." not in k.name and not k.public}
PHONE_KEYS = tuple(children(f"phones.{PHONE_NAME}"))
SMTP_KEYS = tuple(children("smtp"))
DESK_KEYS = tuple(children("desk"))
# What may be said again in another language. The name, website, phone numbers and the
# emergency number stay the same in every language.
TRANSLATABLE_KEYS = tuple(k for k, spec in children(f"languages.{LANG_TAG}").items() if spec.kind != "map")
TRANSLATABLE_PHONE_KEYS = tuple(children(f"languages.{LANG_TAG}.phones.{PHONE_NAME}"))


@dataclass(frozen=True)
class Smtp:
    """The smtp: section: where and how `build.py email` sends. The password is never here."""

    host: str | None = None
    port: int | None = None
    security: str = default("smtp.security")
    user: str | None = None
    sender: str | None = None  # smtp.from
    line: int | None = None  # the line of smtp:


@dataclass(frozen=True)
class Desk:
    """The desk: section, with every default filled in."""

    paper: str = default("desk.paper")
    users_file: str = default("desk.users_file")
    trusted_proxy: tuple[str, ...] = default("desk.trusted_proxy")
    user_header: str = default("desk.user_header")
    allowed_hosts: tuple[str, ...] = default("desk.allowed_hosts")
    session_minutes: int = default("desk.session_minutes")
    line: int | None = None  # the line of desk:, when it is given


@dataclass(frozen=True, eq=False)
class Org(Mapping):
    """leaflets/org.yaml, checked: typed attributes, and a read-only mapping of the plain values.

    The mapping holds what the file gives (org["name"], org["smtp"]["host"], org["checks"]["line"]),
    as templates and leaflet placeholders see it; the attributes add the defaults (issue_log, desk).
    """

    name: str | None = None
    department: str | None = None
    emergency_number: str | None = None
    website: str | None = None
    other_formats: str | None = None  # as written: {phone} is filled in by config.other_formats()
    phones: Mapping = field(default_factory=dict)  # name -> {label, number, hours}
    smtp: Smtp | None = None
    issue_log: str = DEFAULT_ISSUE_LOG
    leaflet_url: str | None = None  # as written, with {id}
    checks: Mapping | None = None  # {"line", "value", "node"}: checks/settings.py checks it
    languages: Mapping = field(default_factory=dict)  # tag -> {department, other_formats, phones}
    desk: Desk = field(default_factory=Desk)
    lines: Mapping = field(default_factory=dict)  # dotted key -> line, e.g. "smtp.host" -> 21
    text: str = field(default="", repr=False)  # the file as read, for checks that need its characters
    plain: Mapping = field(default_factory=dict, repr=False)
    issues: tuple = field(default=(), repr=False)  # (dotted key, Problem) for every problem found

    def __getitem__(self, key):
        return self.plain[key]

    def __iter__(self):
        return iter(self.plain)

    def __len__(self) -> int:
        return len(self.plain)

    def problems_under(self, key: str) -> list[Problem]:
        """Return the problems found in key (e.g. "smtp") and everything inside it."""
        return [p for k, p in self.issues if k == key or k.startswith(key + ".")]


@dataclass(frozen=True)
class Project:
    """Where a project's leaflets, templates and styles live."""

    root: Path

    @property
    def leaflets(self) -> Path:
        return self.root / "leaflets"

    @property
    def inserts(self) -> Path:
        return self.leaflets / "inserts"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def styles(self) -> Path:
        return self.root / "styles"

    @property
    def cache(self) -> Path:
        """What is kept between runs to save time, never patient details: compiled templates
        and the shared part of personalised handouts. Deleting it only costs time."""
        return self.root / ".clearleaf-cache"

    def rel(self, path: Path) -> str:
        """Return path as shown to users: relative to the project when it is inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def default_root() -> Path:
    """Return the project this package ships in (the folder holding build.py)."""
    return Path(__file__).resolve().parent.parent


MAX_FILE_BYTES = 1_000_000  # any file the project reads, unless its reader says otherwise


def read_text(path: Path, shown: str, problems: Problems, limit: int = MAX_FILE_BYTES) -> str | None:
    """Read a UTF-8 file, reporting the line of the first bad byte when it is not UTF-8, and every
    line that holds an invisible formatting character (see invisible_characters).

    A file over limit bytes is refused before it is read: nothing the project reads needs more.
    """
    try:
        size = path.stat().st_size
        if size > limit:
            problems.add(shown, None, f"the file is {size // 1000} KB; the most is {limit // 1000} KB",
                         "check that this is the right file: no leaflet, organisation or patient file needs "
                         "so much (split a long leaflet into a leaflet and inserts)")
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.add(shown, None, f"cannot read the file: {os_reason(exc)}", "check the path and its permissions")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.add(shown, line, f"the file is not UTF-8 (byte 0x{data[exc.start]:02x})",
                     "save it as UTF-8 in your editor ('Save with encoding' → UTF-8)")
        return None
    text = text.removeprefix("\ufeff")
    bad = False
    for number, line in enumerate(text.split("\n"), 1):
        found = invisible_characters(line)
        if found:
            bad = True
            problems.add(shown, number, f"the line holds an invisible formatting character ({', '.join(found)})",
                         INVISIBLE_FIX)
    return None if bad else text


INVISIBLE_FIX = ("delete it, or retype the line: such characters can reorder text as it prints, "
                 "so that a dose reads as a different dose")


def invisible_characters(text: str) -> list[str]:
    """Return the code points of the format characters in text (Unicode category Cf): bidi
    embeddings, overrides and isolates, zero-width spaces and joiners, and the like. Arabic
    letters and marks are not format characters; nothing any leaflet or patient needs is."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cf"})


MAX_YAML_CHARS = 256_000  # far more than any org.yaml, front matter or patient file needs


@lru_cache(maxsize=1)
def _loader():
    """libyaml's parser where PyYAML was built with it: the same events and line marks, about ten
    times faster than the pure-Python one, which was a third of a no-op build."""
    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def compose(text: str, shown: str, first_line: int, problems: Problems):
    """Parse YAML into nodes, which keep line numbers; report malformed YAML with its line.

    Anchors and aliases (&name, *name) are refused before anything is built: a few hundred bytes
    of nested aliases expand to gigabytes, and an alias inside itself never ends. No file the
    project reads needs them. Text over MAX_YAML_CHARS is refused too.
    """
    if len(text) > MAX_YAML_CHARS:
        problems.add(shown, first_line, f"the YAML is {len(text) // 1000} KB long; the most is "
                     f"{MAX_YAML_CHARS // 1000} KB", "this is not a leaflet, organisation or patient file; "
                     "check that the right file was given")
        return None
    try:
        for event in yaml.parse(text, Loader=_loader()):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                problems.add(shown, first_line + event.start_mark.line,
                             "YAML anchors and aliases ('&name' and '*name') are not allowed",
                             "write each value out in full where it is needed")
                return None
        return yaml.compose(text, Loader=_loader())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark else 0)
        what = exc.problem or exc.context or "malformed YAML"
        problems.add(shown, line, f"malformed YAML: {what}",
                     "check the indentation and put quotes around text that contains a colon")
    except yaml.YAMLError as exc:
        problems.add(shown, first_line, f"malformed YAML: {exc}", "check the YAML syntax")
    return None


def node_value(node):
    """Turn a YAML node into plain values: every scalar stays text, so '1.10' is not 1.1."""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [node_value(n) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        return {k.value: node_value(v) for k, v in node.value}
    return None


def mapping_items(node, shown: str, first_line: int, problems: Problems, what: str):
    """Yield (key, value node, line) of a YAML mapping, reporting duplicates and non-mappings."""
    if not isinstance(node, yaml.MappingNode):
        line = first_line + (node.start_mark.line if node is not None else 0)
        problems.add(shown, line, f"{what} is not a list of 'key: value' lines",
                     "write one 'key: value' per line")
        return
    seen = set()
    for key, value in node.value:
        line = first_line + key.start_mark.line
        name = key.value if isinstance(key, yaml.ScalarNode) else str(node_value(key))
        if name in seen:
            problems.add(shown, line, f"'{name}' is given twice", "keep one and delete the other")
            continue
        seen.add(name)
        yield name, value, line


def load_org(project: Project) -> Org:
    """Load and check leaflets/org.yaml; raise ContentError listing every problem."""
    problems = Problems()
    org = check_org(project, problems)
    problems.raise_if_any()
    return org


def check_org(project: Project, problems: Problems) -> Org:
    """Read leaflets/org.yaml and check it against KEYS, adding its problems to problems.

    Return an Org of what is valid (defaults where a value is missing or wrong); the Org also keeps
    its own problems, so code handed only the Org can still report them (Org.problems_under).
    """
    path = project.leaflets / ORG_FILE
    shown = project.rel(path)
    if not path.is_file():
        required = [name for name, spec in children("").items() if spec.required]
        problems.add(shown, None, "the organisation config is missing",
                     f"create it with the keys {', '.join(required)} (see docs/authoring.md)")
        return Org()
    local = Problems()
    text = read_text(path, shown, local)
    root = compose(text, shown, 1, local) if text is not None else None
    if local:
        problems.extend(local)
        return Org(text=text or "", issues=tuple(("", p) for p in local.items))
    reader = _Reader(shown)
    # An empty file is an empty config: every required key is then reported missing.
    plain = reader.section(root if root is not None else yaml.MappingNode("tag:yaml.org,2002:map", []),
                           "", "", None)
    reader.check_translated_phones(plain)
    for _, problem in reader.issues:
        problems.add(problem.path, problem.line, problem.message, problem.fix)
    smtp, desk = plain.get("smtp"), plain.get("desk")
    return Org(
        name=plain.get("name"), department=plain.get("department"),
        emergency_number=plain.get("emergency_number"), website=plain.get("website"),
        other_formats=plain.get("other_formats"), phones=plain.get("phones", {}),
        smtp=None if smtp is None else Smtp(smtp.get("host"), smtp.get("port"), smtp["security"],
                                            smtp.get("user"), smtp.get("from"), reader.lines.get("smtp")),
        issue_log=plain["issue_log"], leaflet_url=plain.get("leaflet_url"), checks=plain.get("checks"),
        languages=plain.get("languages", {}),
        desk=Desk() if desk is None else Desk(**{k: desk[k] for k in DESK_KEYS}, line=reader.lines.get("desk")),
        lines=reader.lines, text=text, plain=plain, issues=tuple(reader.issues))


class _Reader:
    """Walks org.yaml's nodes against KEYS, keeping each key's line and each problem's key."""

    def __init__(self, shown: str):
        self.shown = shown
        self.lines: dict[str, int] = {}
        self.issues: list[tuple[str, Problem]] = []

    def add(self, key: str, line: int | None, message: str, fix: str) -> None:
        self.issues.append((key, Problem(self.shown, line, message, fix)))

    def _mapping(self, node, path: str):
        """Yield (key, node, line) of a mapping; its duplicate keys and a non-mapping are path's problems."""
        found = Problems()
        yield from mapping_items(node, self.shown, 1, found, path or "the organisation config")
        self.issues += [(path, p) for p in found.items]

    def section(self, node, pattern: str, path: str, line: int | None) -> dict:
        """Check a section (pattern "" is the top level); return its values, defaults filled in."""
        allowed = children(pattern)
        values: dict = {}
        given = set()
        for key, vnode, kline in self._mapping(node, path):
            dotted = f"{path}.{key}" if path else key
            spec = allowed.get(key)
            if spec is None:
                self.unknown(key, pattern, path, kline)
                continue
            given.add(key)
            self.lines[dotted] = kline
            value = self.value(spec, vnode, dotted, kline)
            if value is not None:
                values[key] = value
        for key, spec in allowed.items():
            if key not in values and spec.default is not None:
                values[key] = spec.default
        missing = [key for key, spec in allowed.items() if spec.required and key not in given]
        if isinstance(node, yaml.MappingNode) and missing:
            if not path:
                for key in missing:
                    self.add(key, None, f"'{key}' is missing", f"add a line such as {key}: {allowed[key].example}")
            else:
                self.add(path, line, f"{path} has no {', '.join(missing)}",
                         BY_NAME[pattern].fix or f"add {', '.join(missing)} under {path}")
        return values

    def unknown(self, key: str, pattern: str, path: str, line: int) -> None:
        dotted = f"{path}.{key}" if path else key
        allowed = list(children(pattern))
        prefix = f"languages.{LANG_TAG}"
        if pattern.startswith(prefix) and key in children(pattern[len(prefix):].lstrip(".")):
            # A detail that is the same in every language, such as the emergency number.
            self.add(dotted, line, f"'{key}' cannot be translated in {path}",
                     f"translate only {', '.join(allowed)}; {key} is the same in every language")
            return
        close = get_close_matches(key, allowed, n=1, cutoff=0.6)
        if path == "smtp" and "pass" in key.lower():
            fix = "the password is never stored in org.yaml: set SMTP_PASSWORD in the environment"
        elif close:
            fix = f"did you mean '{close[0]}'?"
        else:
            fix = f"{path} has only {', '.join(allowed)}" if path else f"allowed keys are {', '.join(allowed)}"
        self.add(dotted, line, f"unknown key '{key}'" + (f" in {path}" if path else ""), fix)

    def value(self, spec: Key, node, path: str, line: int):
        """Check one key's value node against its declared kind; return the value, or None."""
        if spec.kind == "section":
            return self.section(node, spec.name, path, line)
        if spec.kind == "map":
            return self.map(spec, node, path, line)
        if spec.kind == "checks":
            # Checked by checks/settings.py, which knows the settings; the node keeps every setting's line.
            return {"line": line, "value": node_value(node), "node": node}
        if spec.kind in ("ips", "hosts"):
            return self.items(spec, node, path, line)
        return self.scalar(spec, node, path, line)

    def map(self, spec: Key, node, path: str, line: int) -> dict:
        """Check a map of phones or languages: each entry is a section under its own name."""
        (entry,) = [k for k in KEYS if k.parent == spec.name]
        if entry.required and isinstance(node, yaml.MappingNode) and not node.value:
            self.add(path, line, f"{path} is empty", f"add at least one, e.g. {spec.leaf}: {spec.example}")
        values = {}
        for key, vnode, kline in self._mapping(node, path):
            dotted = f"{path}.{key}"
            if entry.leaf == LANG_TAG and not LANG_RE.match(key):
                self.add(dotted, kline, f"'{key}' is not a language tag", "use a tag such as es or ar")
                continue
            if entry.leaf == PHONE_NAME and not ID_RE.match(key.replace("_", "-")):
                self.add(dotted, kline, f"phone id '{key}' is not a simple name",
                         "use lowercase words, e.g. team or out_of_hours")
                continue
            self.lines[dotted] = kline
            values[key] = self.section(vnode, entry.name, dotted, kline)
        return values

    def scalar(self, spec: Key, node, path: str, line: int):
        noun = {"number": "a whole number", "choice": f"one of {', '.join(spec.choices)}"}.get(spec.kind, "text")
        example = f"{spec.leaf}: {spec.example}"
        if not isinstance(node, yaml.ScalarNode):
            shape = "a list" if isinstance(node, yaml.SequenceNode) else "a group of keys"
            self.add(path, line, f"{path} must be {noun}, not {shape}", f"write it on one line, e.g. {example}")
            return None
        value = " ".join(node.value.split())
        if not value:
            self.add(path, line, f"{path} must be {noun}", f"write it on one line, e.g. {example}")
            return None
        if spec.kind == "number":
            low, high = spec.bounds
            fix = spec.fix or f"write a whole number from {low} to {high}, e.g. {example}"
            if not re.fullmatch(r"[0-9]+", value):
                self.add(path, line, f"{path} '{value}' is not a number", fix)
                return None
            if not low <= int(value) <= high:
                self.add(path, line, f"{path} {int(value)} is not between {low} and {high}", fix)
                return None
            return int(value)
        if spec.kind == "choice":
            if value.lower() not in spec.choices:
                self.add(path, line, f"{path} '{value}' is not allowed",
                         spec.fix or f"use {' or '.join(spec.choices)}")
                return None
            return value.lower()
        if spec.kind == "header" and not HEADER_RE.match(value):
            self.add(path, line, f"{path} '{value}' is not a header name",
                     f"use letters, digits and hyphens, e.g. {example}")
            return None
        for name in re.findall(r"{([^{}]*)}", value):
            if name not in spec.fields:
                self.add(path, line, f"unknown field '{{{name}}}' in {path}",
                         f"only {{{spec.fields[0]}}} is filled in" if spec.fields else "write it without braces")
        if spec.kind == "url" and not re.match(r"^https://[^\s]+$", value):
            self.add(path, line, f"{path} is not an https:// address", f"write it as {spec.example}")
        return value

    def items(self, spec: Key, node, path: str, line: int) -> tuple[str, ...] | None:
        """Check a list of IP addresses or host names, naming the line of each wrong item."""
        what = "IP addresses" if spec.kind == "ips" else "host names"
        if not isinstance(node, yaml.SequenceNode):
            self.add(path, line, f"{path} must be a list of {what}",
                     f"write it as {spec.leaf}: {spec.example}, or {spec.leaf}: [] for none")
            return None
        parse = _ip if spec.kind == "ips" else _host
        values = []
        for item in node.value:
            raw = " ".join(item.value.split()) if isinstance(item, yaml.ScalarNode) else None
            value = parse(raw) if raw else None
            if value is None:
                shown = f"'{raw}'" if raw else "an empty or nested item"
                if spec.kind == "ips":
                    self.add(path, 1 + item.start_mark.line, f"{shown} in {path} is not an IP address",
                             "write each address as digits, e.g. 127.0.0.1 or ::1; host names are not allowed")
                else:
                    self.add(path, 1 + item.start_mark.line, f"{shown} in {path} is not a host name",
                             "write the name alone, e.g. desk.example.org: no http://, port or path")
            else:
                values.append(value)
        return tuple(values)

    def check_translated_phones(self, plain: dict) -> None:
        """Each phone named under languages.<lang>.phones must be one of phones."""
        phones = plain.get("phones")
        if phones is None:
            return
        for lang, said in plain.get("languages", {}).items():
            for pid in said.get("phones", {}):
                if pid not in phones:
                    dotted = f"languages.{lang}.phones.{pid}"
                    close = get_close_matches(pid, list(phones), n=1, cutoff=0.6)
                    self.add(dotted, self.lines.get(dotted), f"unknown phone '{pid}' in languages.{lang}.phones",
                             f"did you mean '{close[0]}'?" if close else f"the phones are {', '.join(phones)}")


def _ip(raw: str) -> str | None:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _host(raw: str) -> str | None:
    name = raw.lower().removesuffix(".")
    literal = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return name if HOST_RE.match(name) else None
    return f"[{address}]" if address.version == 6 else str(address)


def other_formats(org: Mapping) -> str:
    """Return the 'other formats and languages' sentence with the first phone number filled in."""
    phone = next(iter(org.get("phones", {}).values()), {}).get("number", "")
    return org.get("other_formats", "").replace("{phone}", phone)


def leaflet_url(org: Mapping, leaflet_id: str, lang: str | None = None) -> str | None:
    """Return the web address of a leaflet's page, or of its translation into lang, when the
    config gives one.

    The one place the address scheme lives: {id} becomes the id, and for a translation the id
    then /<lang> (https://…/leaflets/dvt/es), so the QR code on a Spanish PDF opens the Spanish
    page. `build.py site` (clearleaf/site.py) lays out its folders to match.
    """
    url = org.get("leaflet_url")
    return url.replace("{id}", f"{leaflet_id}/{lang}" if lang else leaflet_id) if url else None


def public_org(org: Mapping, lang: str | None = None) -> dict:
    """Return the organisation details leaflets and templates may print (not the settings),
    in lang where org.yaml gives them in that language."""
    details = {k: v for k, v in org.items() if k in ORG_KEYS}
    said = org.get("languages", {}).get(lang or "", {})
    details.update({k: v for k, v in said.items() if k in TRANSLATABLE_KEYS})
    if "phones" in details:
        details["phones"] = {pid: {**phone, **said.get("phones", {}).get(pid, {})}
                             for pid, phone in details["phones"].items()}
    if "other_formats" in details:
        details["other_formats"] = other_formats(details)
    return details
