"""The declared front-matter schema: one place that defines, documents and checks every key.

docs/authoring.md documents the same keys; tests/test_docs.py keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# BCP 47 in the shape authors actually use: "en", "es-MX", "zh-Hant", "ar".
LANG_RE = re.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STATUSES = ("draft", "approved")


@dataclass(frozen=True)
class Source:
    """One item of `sources`: its title, and where and when it was read, if given."""

    title: str
    url: str | None = None
    accessed: date | None = None

    def __str__(self) -> str:
        return self.title


SOURCE_KEYS = ("title", "url", "accessed")
URL_RE = re.compile(r"^https?://[^\s<>\"]+$")


@dataclass(frozen=True)
class Field:
    """One front-matter key: its name, its kind, whether it is required, and what it means."""

    name: str
    kind: str  # text | date | status | lang | list | ids | sources
    required: bool
    doc: str
    example: str
    leaflet_only: bool = False


FIELDS: tuple[Field, ...] = (
    Field("title", "text", True, "The leaflet's title, printed large on page 1 and used as the PDF title.",
          "Deep vein thrombosis (DVT)"),
    Field("code", "text", True, "The reference printed in every page's footer.", "IR-DVT-001"),
    Field("version", "text", True, "The version, as text. Quote it so that 1.10 stays 1.10.", '"1.0"'),
    Field("published", "date", True, "The date this version was published, as YYYY-MM-DD.", "2026-11-26"),
    Field("review_by", "date", True,
          "The date by which the leaflet must be reviewed, after `published`. "
          "Once it has passed the leaflet is refused unless built with --allow-overdue.", "2029-11-26"),
    Field("owner", "text", True, "The department that owns the leaflet.", "Interventional Radiology"),
    Field("status", "status", True,
          "`draft` or `approved`. A draft prints 'DRAFT – not for patient use' on every page.", "draft"),
    Field("summary", "text", True,
          "One to three plain sentences, shown under the title on page 1 and used as the PDF subject.",
          '"A clot in a deep vein, usually in the leg. This leaflet explains how it is treated."'),
    Field("lang", "lang", False, "The language, as a BCP 47 tag. Defaults to `en`.", "en"),
    Field("reviewed_by", "text", False, "Who clinically reviewed this version.", "Dr A. Patel, consultant radiologist"),
    Field("sources", "sources", False,
          "The evidence the leaflet draws on, one item each: a title, or `{title, url, accessed}` "
          "(accessed as YYYY-MM-DD). Numbered from 1 in \"About this leaflet\"; cite one in the text "
          "as [1].",
          "[NICE NG158 (2020), Society of Interventional Radiology]"),
    Field("inserts", "ids", False,
          "Leaflets only: the ids of the procedure inserts that may be printed with this leaflet.",
          "[venous-angioplasty, venous-stent]", leaflet_only=True),
    Field("translation_of", "text", False,
          "Translations only (`<id>.<lang>.md`), and required there: the version of the source leaflet "
          "this translates. When the source's version moves on, `list` and `check` say the translation "
          "is out of date.", '"1.0"'),
)

BY_NAME = {f.name: f for f in FIELDS}
SENTENCE_END_RE = re.compile(r"[.!?](?:\s|$)")


def suggest(name: str) -> str:
    """Return a 'did you mean' hint for a mistyped key, or a list of the allowed keys."""
    close = get_close_matches(name, list(BY_NAME), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "allowed keys are " + ", ".join(BY_NAME)


def parse_value(field: Field, raw) -> tuple[object, str | None, str | None]:
    """Check one raw YAML value against its field; return (value, problem, fix)."""
    if field.kind in ("text", "status", "lang", "date"):
        if not isinstance(raw, str) or not raw.strip():
            return None, f"'{field.name}' must be a single line of text", f"write it as {field.name}: {field.example}"
        value = " ".join(raw.split())
        if field.kind == "status" and value not in STATUSES:
            return None, f"status '{value}' is not allowed", "use 'draft' or 'approved'"
        if field.kind == "lang" and not LANG_RE.match(value):
            return None, f"lang '{value}' is not a BCP 47 language tag", "use a tag such as en, es or ar"
        if field.kind == "date":
            return _parse_date(field, value)
        if field.name == "summary":
            sentences = len(SENTENCE_END_RE.findall(value + " "))
            if not 1 <= sentences <= 3:
                return None, f"summary has {sentences} sentences", "write one to three short sentences, each ending with a full stop"
        return value, None, None
    if field.kind == "sources":
        return _parse_sources(field, raw)
    # list and ids
    if not isinstance(raw, list) or not all(isinstance(i, str) and i.strip() for i in raw):
        return None, f"'{field.name}' must be a list of text items", f"write it as {field.name}: {field.example}"
    items = [" ".join(i.split()) for i in raw]
    if field.kind == "ids":
        bad = [i for i in items if not ID_RE.match(i)]
        if bad:
            return None, f"'{bad[0]}' in {field.name} is not an id", "ids are lowercase words joined by hyphens, e.g. venous-stent"
    return items, None, None


def _parse_sources(field: Field, raw):
    """A list of titles, or of {title, url, accessed} mappings, or a mix."""
    example = ('write each source as a line "- Title", or as "- {title: NICE NG158, '
               'url: https://www.nice.org.uk/guidance/ng158, accessed: 2026-11-30}"')
    if not isinstance(raw, list) or not raw:
        return None, "'sources' must be a list", example
    found = []
    for n, item in enumerate(raw, 1):
        if isinstance(item, str) and item.strip():
            found.append(Source(" ".join(item.split())))
            continue
        if not isinstance(item, dict):
            return None, f"source {n} is neither a title nor a mapping", example
        unknown = [k for k in item if k not in SOURCE_KEYS]
        if unknown:
            close = get_close_matches(unknown[0], SOURCE_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "the keys are title, url and accessed"
            return None, f"source {n} has an unknown key '{unknown[0]}'", hint
        title, url, accessed = item.get("title"), item.get("url"), item.get("accessed")
        if not isinstance(title, str) or not title.strip():
            return None, f"source {n} has no title", "give it a title: the document's name and publisher"
        if url is not None and (not isinstance(url, str) or not URL_RE.match(url.strip())):
            return None, f"source {n}'s url is not a web address", "write the full address, starting https://"
        when = None
        if accessed is not None:
            when, problem, _ = _parse_date(Field("accessed", "date", False, "", "2026-11-30"),
                                           accessed if isinstance(accessed, str) else "")
            if problem:
                return None, f"source {n}: {problem}", "write the day you read it as YYYY-MM-DD, e.g. accessed: 2026-11-30"
        found.append(Source(" ".join(title.split()), url.strip() if url else None, when))
    return found, None, None


def _parse_date(field: Field, value: str):
    fix = f"write the date as YYYY-MM-DD, e.g. {field.name}: {field.example}"
    if not DATE_RE.match(value):
        return None, f"'{value}' is not a date in {field.name}", fix
    try:
        return date.fromisoformat(value), None, None
    except ValueError:
        return None, f"'{value}' is not a real date in {field.name}", fix
