"""Project layout and the organisation config (leaflets/org.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import Problems
from .schema import ID_RE

ORG_FILE = "org.yaml"
ORG_KEYS = {
    "name": "the organisation's name, e.g. Riverside General Hospital",
    "department": "the department that issues the leaflets",
    "emergency_number": 'the emergency number, quoted, e.g. "911", "999" or "112"',
    "website": "the website patients can visit",
    "phones": "phone numbers, each with a label, number and hours",
    "other_formats": "the 'other formats and languages' sentence printed on every leaflet; "
                     "{phone} stands for the first phone number",
}
PHONE_KEYS = ("label", "number", "hours")
# Settings for the discharge workflow: optional, and never offered to leaflets as placeholders.
SETTING_KEYS = {
    "smtp": "the mail server for `build.py email`: host, port, security, user and from",
    "issue_log": "where the record of issued handouts is kept (default records/issued.jsonl)",
    "leaflet_url": "each leaflet's web address, with {id} for its id; printed with a QR code",
    "checks": "thresholds and the glossary for `build.py check`",
    "languages": "the organisation details in other languages (department, other_formats, phone labels "
                 "and hours), by language tag",
}
# What may be said again in another language. The name, website, phone numbers and the
# emergency number stay the same in every language.
TRANSLATABLE_KEYS = ("department", "other_formats")
TRANSLATABLE_PHONE_KEYS = ("label", "hours")
SMTP_KEYS = ("host", "port", "security", "user", "from")
SMTP_SECURITY = ("starttls", "tls", "none")
DEFAULT_ISSUE_LOG = "records/issued.jsonl"


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

    def rel(self, path: Path) -> str:
        """Return path as shown to users: relative to the project when it is inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def default_root() -> Path:
    """Return the project this package ships in (the folder holding build.py)."""
    return Path(__file__).resolve().parent.parent


def read_text(path: Path, shown: str, problems: Problems) -> str | None:
    """Read a UTF-8 file, reporting the line of the first bad byte when it is not UTF-8."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.add(shown, line, f"the file is not UTF-8 (byte 0x{data[exc.start]:02x})",
                     "save it as UTF-8 in your editor ('Save with encoding' → UTF-8)")
        return None
    return text.removeprefix("\ufeff")


def compose(text: str, shown: str, first_line: int, problems: Problems):
    """Parse YAML into nodes, which keep line numbers; report malformed YAML with its line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
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


def load_org(project: Project) -> dict:
    """Load and check leaflets/org.yaml; raise ContentError listing every problem."""
    problems = Problems()
    org = check_org(project, problems)
    problems.raise_if_any()
    return org


def check_org(project: Project, problems: Problems) -> dict:
    """Load leaflets/org.yaml, adding its problems to problems; return what is valid."""
    path = project.leaflets / ORG_FILE
    shown = project.rel(path)
    if not path.is_file():
        problems.add(shown, None, "the organisation config is missing",
                     f"create it with the keys {', '.join(ORG_KEYS)} (see docs/authoring.md)")
        return {}
    text = read_text(path, shown, problems)
    if text is None:
        return {}
    root = compose(text, shown, 1, problems)
    if root is None:
        return {}
    org: dict = {}
    given = set()
    for key, node, line in mapping_items(root, shown, 1, problems, "the organisation config"):
        given.add(key)
        if key not in ORG_KEYS and key not in SETTING_KEYS:
            problems.add(shown, line, f"unknown key '{key}'",
                         f"allowed keys are {', '.join([*ORG_KEYS, *SETTING_KEYS])}")
        elif key == "phones":
            org[key] = _check_phones(node, shown, problems)
        elif key == "smtp":
            org[key] = _check_smtp(node, shown, problems)
        elif key == "languages":
            org[key] = _check_languages(node, shown, problems)
        elif key == "checks":
            # Checked by check.py, which knows the settings; keep the line for its messages.
            org[key] = {"line": line, "value": node_value(node)}
        elif not isinstance(node, yaml.ScalarNode) or not node.value.strip():
            problems.add(shown, line, f"'{key}' must be a single line of text",
                         f"give {ORG_KEYS.get(key) or SETTING_KEYS[key]}")
        else:
            org[key] = node.value.strip()
            if key in ("other_formats", "leaflet_url"):
                _check_fields(org, key, line, shown, problems)
    for key, hint in ORG_KEYS.items():
        if key not in given:
            problems.add(shown, None, f"'{key}' is missing", f"add {key}: with {hint}")
    return org


def _check_fields(org: dict, key: str, line: int, shown: str, problems: Problems) -> None:
    """Check the {name} fields of a text setting: other_formats takes {phone}, leaflet_url {id}."""
    allowed = {"other_formats": "phone", "leaflet_url": "id"}[key]
    for field in re.findall(r"{([^{}]*)}", org[key]):
        if field != allowed:
            problems.add(shown, line, f"unknown field '{{{field}}}' in {key}", f"only {{{allowed}}} is filled in")
    if key == "leaflet_url" and not re.match(r"^https://[^\s]+$", org[key]):
        problems.add(shown, line, "leaflet_url is not an https:// address",
                     "write it as https://www.example.org/leaflets/{id}")


def other_formats(org: dict) -> str:
    """Return the 'other formats and languages' sentence with the first phone number filled in."""
    phone = next(iter(org.get("phones", {}).values()), {}).get("number", "")
    return org.get("other_formats", "").replace("{phone}", phone)


def leaflet_url(org: dict, leaflet_id: str) -> str | None:
    """Return the leaflet's web address, when the config gives one."""
    url = org.get("leaflet_url")
    return url.replace("{id}", leaflet_id) if url else None


def public_org(org: dict, lang: str | None = None) -> dict:
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


def _check_languages(node, shown: str, problems: Problems) -> dict:
    """Check languages: in org.yaml: per language tag, the translatable details only."""
    from .schema import LANG_RE

    languages: dict = {}
    for lang, lnode, line in mapping_items(node, shown, 1, problems, "languages"):
        if not LANG_RE.match(lang):
            problems.add(shown, line, f"'{lang}' is not a language tag", "use a tag such as es or ar")
            continue
        said: dict = {}
        for key, vnode, vline in mapping_items(lnode, shown, 1, problems, f"languages.{lang}"):
            if key == "phones":
                said["phones"] = {}
                for pid, pnode, pline in mapping_items(vnode, shown, 1, problems, f"languages.{lang}.phones"):
                    entry = {}
                    for pkey, pv, pvline in mapping_items(pnode, shown, 1, problems, f"languages.{lang}.phones.{pid}"):
                        if pkey not in TRANSLATABLE_PHONE_KEYS:
                            problems.add(shown, pvline, f"'{pkey}' cannot be translated in languages.{lang}.phones.{pid}",
                                         "translate only label and hours; the number is the same in every language")
                        elif not isinstance(pv, yaml.ScalarNode) or not pv.value.strip():
                            problems.add(shown, pvline, f"languages.{lang}.phones.{pid}.{pkey} must be text",
                                         "write it on one line")
                        else:
                            entry[pkey] = pv.value.strip()
                    said["phones"][pid] = entry
            elif key not in TRANSLATABLE_KEYS:
                problems.add(shown, vline, f"'{key}' cannot be translated in languages.{lang}",
                             f"translate only {', '.join(TRANSLATABLE_KEYS)} and phone labels and hours; "
                             "the name, website and numbers stay the same")
            elif not isinstance(vnode, yaml.ScalarNode) or not vnode.value.strip():
                problems.add(shown, vline, f"languages.{lang}.{key} must be text", "write it on one line")
            else:
                said[key] = vnode.value.strip()
        languages[lang] = said
    return languages


def _check_smtp(node, shown: str, problems: Problems) -> dict:
    smtp = {"security": "starttls"}
    for key, vnode, line in mapping_items(node, shown, 1, problems, "smtp"):
        if key not in SMTP_KEYS:
            problems.add(shown, line, f"unknown key '{key}' in smtp", f"smtp has only {', '.join(SMTP_KEYS)}")
        elif not isinstance(vnode, yaml.ScalarNode) or not vnode.value.strip():
            problems.add(shown, line, f"smtp.{key} must be text", "write it on one line")
        elif key == "port" and not vnode.value.strip().isdigit():
            problems.add(shown, line, f"smtp.port '{vnode.value}' is not a number", "use e.g. 587 (STARTTLS) or 465 (TLS)")
        elif key == "security" and vnode.value.strip() not in SMTP_SECURITY:
            problems.add(shown, line, f"smtp.security '{vnode.value}' is not allowed",
                         "use starttls (the default), tls, or none for a server on this machine only")
        else:
            smtp[key] = int(vnode.value) if key == "port" else vnode.value.strip()
    return smtp


def _check_phones(node, shown: str, problems: Problems) -> dict:
    phones = {}
    for pid, pnode, line in mapping_items(node, shown, 1, problems, "phones"):
        if not ID_RE.match(pid.replace("_", "-")):
            problems.add(shown, line, f"phone id '{pid}' is not a simple name", "use lowercase words, e.g. team or out_of_hours")
            continue
        entry = {}
        for key, vnode, vline in mapping_items(pnode, shown, 1, problems, f"phones.{pid}"):
            if key not in PHONE_KEYS:
                problems.add(shown, vline, f"unknown key '{key}' in phones.{pid}", "each phone has only label, number and hours")
            elif not isinstance(vnode, yaml.ScalarNode) or not vnode.value.strip():
                problems.add(shown, vline, f"phones.{pid}.{key} must be text", "write it on one line")
            else:
                entry[key] = vnode.value.strip()
        missing = [k for k in PHONE_KEYS if k not in entry]
        if isinstance(pnode, yaml.MappingNode) and missing:
            problems.add(shown, line, f"phones.{pid} has no {', '.join(missing)}", "give each phone a label, number and hours")
        phones[pid] = entry
    return phones
