"""The check settings: the `checks:` section of leaflets/org.yaml, declared once with its defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from difflib import get_close_matches

import yaml

from ..config import ORG_FILE, Project, mapping_items, node_value
from ..errors import Problem, Problems

# Imperatives that start an instruction to the reader (PEMAT-P item 20). Matched at the start of
# a sentence, list item or callout title, or after an opening "If ...," clause.
ACTION_VERBS = (
    "call", "phone", "ring", "contact", "tell", "ask", "take", "go", "come", "keep", "stay", "stop",
    "do not", "don't", "never", "avoid", "carry", "bring", "raise", "walk", "move", "rest", "sit",
    "lie", "press", "drink", "eat", "wear", "check", "look", "plan", "book", "make", "get", "try",
    "follow", "remember", "show", "use", "put", "wash", "write", "read", "see", "visit", "talk",
    "speak", "let", "give", "find", "arrange",
)
# Headings that name no topic (PEMAT-P item 9). Compared with the whole heading, case-insensitively.
GENERIC_HEADINGS = (
    "introduction", "intro", "other", "others", "other information", "more information",
    "further information", "additional information", "information", "miscellaneous", "misc",
    "general", "general information", "overview", "background", "details", "notes", "extra",
)


@dataclass(frozen=True)
class Setting:
    """One key of the `checks:` section of leaflets/org.yaml."""

    name: str
    kind: str  # grade | count | words | glossary
    doc: str  # docs/checks.md says the same; tests/test_check.py keeps them in step

    @property
    def default(self):
        return getattr(Settings(), self.name)


SETTINGS: tuple[Setting, ...] = (
    Setting("grade_warning", "grade",
            "Warn when the reading grade (the higher of Flesch-Kincaid and SMOG) is above this."),
    Setting("grade_error", "grade", "Fail when the reading grade is above this."),
    Setting("max_sentence_words", "count", "Warn about each sentence longer than this many words."),
    Setting("words_per_heading", "count", "Warn when more than this many words run on without a heading."),
    Setting("explain_within_words", "count",
            "A glossary term counts as explained when a plain explanation is this many words or fewer away."),
    Setting("min_sentences", "count",
            "Below this many sentences the text is too short to grade; it gets a warning instead."),
    Setting("due_soon_days", "count", "Warn when review_by is this many days away or fewer."),
    Setting("action_verbs", "words", "Words that start an instruction to the reader."),
    Setting("generic_headings", "words", "Headings that say nothing about their section."),
    Setting("glossary", "glossary", "Medical terms, each with the plain words that explain it."),
)
SETTING_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The thresholds and word lists the checks use: the defaults, or leaflets/org.yaml `checks:`."""

    grade_warning: float = 6.0
    grade_error: float = 8.0
    max_sentence_words: int = 25
    words_per_heading: int = 250
    explain_within_words: int = 30
    min_sentences: int = 10
    due_soon_days: int = 90
    action_verbs: tuple[str, ...] = ACTION_VERBS
    generic_headings: tuple[str, ...] = GENERIC_HEADINGS
    glossary: dict = field(default_factory=dict)  # term -> tuple of plain explanations, all lowercase


def load_settings(project: Project, org: dict, findings: list[Problem]) -> Settings:
    """Return the check settings from org.yaml `checks:` (defaults when absent); report bad values."""
    entry = org.get("checks")
    if entry is None:
        return Settings()
    shown = project.rel(project.leaflets / ORG_FILE)
    # config.check_org keeps the YAML node, and with it every setting's line: org.yaml is read once.
    node = entry.get("node")

    def bad(line, message, fix):
        findings.append(Problem(shown, line, message, fix))

    if node is None or (isinstance(node, yaml.ScalarNode) and not node.value.strip()):
        return Settings()
    values: dict = {}
    lines: dict = {}
    dupes = Problems()
    for key, vnode, line in mapping_items(node, shown, 1, dupes, "checks"):
        lines[key] = line
        spec = SETTING_BY_NAME.get(key)
        if spec is None:
            close = get_close_matches(key, list(SETTING_BY_NAME), n=1, cutoff=0.6)
            bad(line, f"unknown key '{key}' in checks",
                f"did you mean '{close[0]}'?" if close else f"checks has only {', '.join(SETTING_BY_NAME)}")
            continue
        value = _setting_value(spec, vnode, shown, line, bad)
        if value is not None:
            values[key] = value
    findings.extend(dupes.items)
    settings = replace(Settings(), **values)
    if settings.grade_error < settings.grade_warning:
        bad(lines.get("grade_error", entry["line"]),
            f"grade_error {settings.grade_error:g} is below grade_warning {settings.grade_warning:g}",
            "make grade_error at least as high as grade_warning (the defaults are 8 and 6)")
        settings = replace(settings, grade_error=Settings.grade_error, grade_warning=Settings.grade_warning)
    return settings


def _setting_value(spec: Setting, node, shown: str, line: int, bad):
    """Check one setting's YAML node; return its value, or None after reporting it."""
    if spec.kind in ("grade", "count"):
        raw = node.value.strip() if isinstance(node, yaml.ScalarNode) else None
        if spec.kind == "count":
            if raw is None or not raw.isdigit() or int(raw) < 1:
                bad(line, f"checks.{spec.name} must be a whole number above 0",
                    f"write it as {spec.name}: {spec.default}")
                return None
            return int(raw)
        try:
            grade = float(raw) if raw is not None else math.nan
        except ValueError:
            grade = math.nan
        if not 0 <= grade <= 20:
            bad(line, f"checks.{spec.name} must be a school grade between 0 and 20",
                f"write it as {spec.name}: {spec.default:g}")
            return None
        return grade
    if spec.kind == "words":
        items = node_value(node)
        if not _text_list(items) or not items:
            bad(line, f"checks.{spec.name} must be a list of words",
                f"write it as {spec.name}: [{', '.join(spec.default[:3])}]")
            return None
        return tuple(_plain(i) for i in items)
    # glossary: term -> [plain explanation, ...]
    if not isinstance(node, yaml.MappingNode):
        bad(line, "checks.glossary must be a list of 'term: [plain words, ...]' lines",
            "write one term per line, e.g. anticoagulant: [blood thinner]")
        return None
    glossary = {}
    dupes = Problems()
    for term, tnode, tline in mapping_items(node, shown, 1, dupes, "checks.glossary"):
        explanations = node_value(tnode)
        if not term.strip():
            bad(tline, "a glossary term is empty", "write the medical term before the colon")
        elif not _text_list(explanations):
            bad(tline, f"glossary term '{term}' must have a list of plain explanations",
                f"write it as {term}: [plain words], or {term}: [] to accept only an explanation "
                "straight after it")
        else:
            glossary[_plain(term)] = tuple(_plain(e) for e in explanations)
    for p in dupes.items:
        bad(p.line, f"glossary: {p.message}", p.fix)
    return glossary


def _text_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(i, str) and i.strip() for i in value)


def _plain(text: str) -> str:
    return " ".join(text.lower().split())
