"""Check leaflets and inserts against patient-information standards.

Four groups of checks, documented for authors in docs/checks.md:

- readability: Flesch-Kincaid grade and SMOG, long sentences, medical terms without a plain
  explanation;
- structure: the PEMAT-P items a machine can judge (a summary, short sections with informative
  headings, an action for the reader, clear numbers, defined terms), a danger callout in every
  leaflet, and the five sections every procedure insert needs;
- governance: review dates, drafts, sources, the "other formats and languages" statement;
- pictures: meaningful alt text.

Every check is a function in CHECKS that takes a FileCheck and adds findings to it, so a new
check (such as "a translation is referenced but missing") is one more function in that tuple.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from difflib import get_close_matches
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import textstat
import yaml
from jinja2.exceptions import TemplateError

from .. import content
from ..config import ORG_FILE, Project, mapping_items, node_value, public_org, read_text
from ..content import INSERT, LEAFLET, Leaflet
from ..errors import Problems

ERROR, WARNING = "error", "warning"
CONFIG = "config"

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
# What every procedure insert covers (research digest: preparation, what happens, risks,
# aftercare, when to get help). A "##" heading belongs to the section whose keyword starts a
# word EARLIEST in it, so "After the procedure" is aftercare, not "what happens".
INSERT_SECTIONS = (
    ("preparation", "How to prepare", ("prepar", "before")),
    ("what happens", "What happens during the procedure", ("happen", "during", "procedure")),
    # Consent (Montgomery; NICE IPG651): benefits, material risks and reasonable alternatives.
    ("benefits", "Benefits", ("benefit",)),
    ("risks", "Risks", ("risk", "complication", "side effect")),
    ("alternatives", "Alternatives", ("alternative", "other option", "other treatment")),
    ("aftercare", "After the procedure", ("after", "recover", "home")),
    ("when to get help", "When to get help", ("help", "emergenc", "call", "worr")),
)
# Words that say nothing about a picture when they are all its alt text says.
GENERIC_ALT = {"image", "picture", "diagram", "photo", "photograph", "figure", "illustration", "graphic",
               "icon", "img", "chart", "drawing", "logo", "pic", "placeholder", "alt", "alt text"}
MIN_ALT_WORDS = 3


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


# The PEMAT-P items (AHRQ PEMAT and User's Guide, 2013): 17 for understandability, 7 for actionability.
# Items 13 and 14 are for audiovisual material only, so print skips them.
PEMAT_ITEMS = {
    1: ("purpose is evident", "The material makes its purpose completely evident."),
    2: ("nothing distracts from the purpose",
        ("The material does not include information or content that distracts from its "
         "purpose.")),
    3: ("common, everyday language", "The material uses common, everyday language."),
    4: ("medical terms are defined",
        ("Medical terms are used only to familiarize audience with the terms. When used, "
         "medical terms are defined.")),
    5: ("active voice", "The material uses the active voice."),
    6: ("numbers are clear", "Numbers appearing in the material are clear and easy to understand."),
    7: ("no calculations", "The material does not expect the user to perform calculations."),
    8: ("short sections", 'The material breaks or "chunks" information into short sections.'),
    9: ("informative headers", "The material's sections have informative headers."),
    10: ("logical sequence", "The material presents information in a logical sequence."),
    11: ("a summary", "The material provides a summary."),
    12: ("visual cues on key points",
        ("The material uses visual cues (e.g., arrows, boxes, bullets, bold, larger font, "
         "highlighting) to draw attention to key points.")),
    15: ("visual aids where they help",
        ("The material uses visual aids whenever they could make content more easily "
         "understood.")),
    16: ("visual aids reinforce the content",
        "The material's visual aids reinforce rather than distract from the content."),
    17: ("visual aids have clear captions", "The material's visual aids have clear titles or captions."),
    18: ("clear, uncluttered pictures",
        "The material uses illustrations and photographs that are clear and uncluttered."),
    19: ("simple tables", "The material uses simple tables with short and clear row and column headings."),
    20: ("at least one action", "The material clearly identifies at least one action the user can take."),
    21: ("speaks to the reader in actions",
        "The material addresses the user directly when describing actions."),
    22: ("actions in explicit steps", "The material breaks down any action into manageable, explicit steps."),
    23: ("a tool such as a checklist",
        ("The material provides a tangible tool (e.g., menu planners, checklists) whenever"
         " it could help the user take action.")),
    24: ("how to do any calculation",
        ("The material provides simple instructions or examples of how to perform "
         "calculations.")),
    25: ("how to use charts or diagrams",
        ("The material explains how to use the charts, graphs, tables, or diagrams to take"
         " actions.")),
    26: ("visual aids that help to act",
        ("The material uses visual aids whenever they could make it easier to act on the "
         "instructions.")),
}


def pemat_label(item: int) -> str:
    """Return a PEMAT-P item as '<number>. <its wording>'."""
    return f"{item}. {PEMAT_ITEMS[item][1]}"


@dataclass(frozen=True, order=True)
class Finding:
    """One thing a check found: where, how serious, what, and how to fix it."""

    path: str
    line: int | None
    level: str  # error | warning
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message} — {self.fix}"

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "level": self.level, "message": self.message,
                "fix": self.fix}


@dataclass
class Readability:
    """Reading-grade figures for a text, as textstat computes them."""

    fk: float | None
    smog: float | None
    words: int
    sentences: int
    scores: dict = field(default_factory=dict)  # other languages' formulas, e.g. Fernández-Huerta

    @property
    def grade(self) -> float | None:
        """The higher of the two grades: FK alone under-reads medical text."""
        grades = [g for g in (self.fk, self.smog) if g is not None]
        return max(grades) if grades else None


@dataclass
class Pemat:
    """The PEMAT-P items of one file: those a machine checked (and passed), those that do not apply,
    and those only a person can rate.

    There is deliberately no score: a machine judges at most 6 of the 24 items, so a percentage
    over those would read as a full PEMAT-P rating, which it is not.
    """

    checked: list[int] = field(default_factory=list)
    passed: list[int] = field(default_factory=list)
    not_applicable: list[int] = field(default_factory=list)

    def mark(self, item: int, ok: bool) -> None:
        if item not in self.checked:
            self.checked.append(item)
            if ok:
                self.passed.append(item)
        elif not ok and item in self.passed:
            self.passed.remove(item)

    @property
    def failed(self) -> list[int]:
        return [i for i in sorted(self.checked) if i not in self.passed]

    @property
    def needs_person(self) -> list[int]:
        return [i for i in PEMAT_ITEMS if i not in self.checked and i not in self.not_applicable]

    def summary(self) -> str:
        """Return what was measured: 'PEMAT-P: 5 of 6 machine-checked items pass; 1 not applicable; ...'."""
        if self.checked:
            verb = "passes" if len(self.checked) == 1 else "pass"
            measured = f"{len(self.passed)} of {_count(len(self.checked), 'machine-checked item')} {verb}"
        else:
            measured = "no items machine-checked"
        person = len(self.needs_person)
        return (f"PEMAT-P: {measured}; {len(set(self.not_applicable))} not applicable; "
                f"{person} {'needs' if person == 1 else 'need'} a person")

    def to_dict(self) -> dict:
        """Return each list of items as labels, and how many each list holds under 'counts'."""
        lists = {"checked": sorted(self.checked), "passed": sorted(self.passed), "failed": self.failed,
                 "not_applicable": sorted(set(self.not_applicable)), "needs_person": self.needs_person}
        return {"counts": {name: len(items) for name, items in lists.items()},
                **{name: [pemat_label(i) for i in items] for name, items in lists.items()}}


@dataclass
class Report:
    """Everything `check` found in one file."""

    path: str
    id: str | None
    kind: str  # leaflet | insert | config
    code: str | None = None
    version: str | None = None
    readability: Readability | None = None
    pemat: Pemat | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    def to_dict(self) -> dict:
        r = self.readability
        return {
            "path": self.path, "id": self.id, "kind": self.kind, "code": self.code, "version": self.version,
            "readability": None if r is None else {"fk": r.fk, "smog": r.smog, "words": r.words,
                                                   "sentences": r.sentences, **r.scores},
            "pemat": None if self.pemat is None else self.pemat.to_dict(),
            "findings": [f.to_dict() for f in sorted(self.findings, key=_finding_order)],
        }


def _finding_order(f: Finding) -> tuple:
    return (f.line or 0, f.level != ERROR, f.message)


# --- The text of a leaflet, as the reader sees it -------------------------------------------------

@dataclass
class Block:
    """One run of text: the title, the summary, a heading, a callout title, a paragraph or a list item."""

    kind: str  # title | summary | heading | callout-title | paragraph | item
    text: str  # plain text, with "\n" where the source line breaks
    line: int  # the source line of its first character
    level: int = 0  # heading level
    callout: str = ""  # the callout type when it is inside one

    def line_at(self, offset: int) -> int:
        """Return the source line of a character of text."""
        return self.line + self.text.count("\n", 0, offset)


@dataclass
class Picture:
    alt: str
    src: str
    line: int


@dataclass
class Document:
    """A leaflet's text in reading order, with source lines, and its pictures."""

    blocks: list[Block]
    pictures: list[Picture]
    body_line: int  # the body's first line of text
    close_line: int  # the front matter's closing '---'

    def prose(self) -> list[Block]:
        """The blocks read as sentences: the summary, paragraphs and list items (also in callouts)."""
        return [b for b in self.blocks if b.kind in ("summary", "paragraph", "item")]


def read_document(leaflet: Leaflet, org: dict) -> Document:
    """Return the text of a loaded leaflet with placeholders filled in, block by block."""
    lines = (read_text(leaflet.path, leaflet.shown, Problems()) or "").split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
    body = "\n".join(lines[end + 1:])
    first = end + 2
    try:
        # Org values are single lines, so filling them in keeps every line where it was.
        body = content.CONTENT_ENV.from_string(body).render(org=public_org(org, leaflet.lang))
    except TemplateError:
        pass  # content.load has already reported it
    blocks = [Block("title", leaflet.title, leaflet.lines.get("title", 2)),
              Block("summary", leaflet.meta.get("summary", ""), leaflet.lines.get("summary", 2))]
    pictures: list[Picture] = []
    callout, in_item, pending = "", 0, None
    for tok in content.MARKDOWN.parse(body):
        if tok.type == "admonition_open":
            callout = tok.meta.get("tag", "")
        elif tok.type == "admonition_close":
            callout = ""
        elif tok.type == "list_item_open":
            in_item += 1
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type == "heading_open":
            pending = ("heading", int(tok.tag[1:]))
        elif tok.type == "admonition_title_open":
            pending = ("callout-title", 0)
        elif tok.type == "inline":
            kind, level = pending or ("item" if in_item else "paragraph", 0)
            pending = None
            line = first + (tok.map[0] if tok.map else 0)
            text = _inline_text(tok, line, pictures)
            if text.strip():
                blocks.append(Block(kind, text, line, level, callout))
    # Findings about the body as a whole point at its first line of text.
    body_line = next((n for n in range(end + 1, len(lines)) if lines[n].strip()), end) + 1
    return Document(blocks, pictures, body_line, end + 1)


def _inline_text(tok, line: int, pictures: list[Picture]) -> str:
    """Return an inline token's plain text; record its pictures (alt text is not prose)."""
    parts = []
    for child in tok.children or []:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            at = line + "".join(parts).count("\n")
            pictures.append(Picture(child.content, child.attrGet("src") or "", at))
    return "".join(parts)


SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
ENDS_SENTENCE_RE = re.compile(r"[.!?][\"'”’)\]]*$")
WORD_RE = re.compile(r"\w[\w'’]*")
ADDRESS_RE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)


def sentences(block: Block) -> list[tuple[int, str]]:
    """Split a block into (offset, sentence); a sentence ends with . ! or ? before a space."""
    found, start = [], 0
    for m in [*SENTENCE_END_RE.finditer(block.text), None]:
        stop = m.end() if m else len(block.text)
        piece = block.text[start:stop]
        if piece.strip():
            found.append((start + len(piece) - len(piece.lstrip()), piece.strip()))
        start = stop
    return found


def word_count(text: str) -> int:
    """Count words as textstat does: punctuation removed, so 'catheter-directed' is one word."""
    return textstat.lexicon_count(text)


def prose_text(blocks: list[Block]) -> str:
    """Join blocks into the text the grade formulas read: each block ends as a sentence."""
    units = []
    for block in blocks:
        # Web and e-mail addresses are copied, not read as words; they would count as long words.
        # Citations such as [2] are not read either.
        text = " ".join(content.CITATION_RE.sub("", ADDRESS_RE.sub("", block.text)).split())
        if not text:
            continue
        if not ENDS_SENTENCE_RE.search(text):
            # A list item or a lead-in such as "Symptoms include:" is read as one sentence.
            text = text.rstrip(":;,–—- ") + "."
        units.append(text)
    return " ".join(units)


def measure(text: str) -> Readability:
    """Return the Flesch-Kincaid grade and SMOG index of text (textstat 0.7.3).

    Below 3 sentences SMOG is not defined (textstat returns 0), so it is None here.
    """
    count = textstat.sentence_count(text)
    words = textstat.lexicon_count(text)
    if not words:
        return Readability(None, None, 0, 0)
    fk = float(textstat.flesch_kincaid_grade(text))
    smog = float(textstat.smog_index(text)) if count >= 3 else None
    return Readability(fk, smog, words, count)


# --- Settings (leaflets/org.yaml, checks:) --------------------------------------------------------

def load_settings(project: Project, org: dict, findings: list[Finding]) -> Settings:
    """Return the check settings from org.yaml `checks:` (defaults when absent); report bad values."""
    entry = org.get("checks")
    if entry is None:
        return Settings()
    shown = project.rel(project.leaflets / ORG_FILE)
    # config.check_org keeps the YAML node, and with it every setting's line: org.yaml is read once.
    node = entry.get("node")

    def bad(line, message, fix):
        findings.append(Finding(shown, line, ERROR, message, fix))

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
    findings.extend(Finding(p.path, p.line, ERROR, p.message, p.fix) for p in dupes.items)
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


# --- Running the checks ---------------------------------------------------------------------------

@dataclass
class FileCheck:
    """One leaflet or insert being checked: its text, the settings, and what was found so far."""

    leaflet: Leaflet
    doc: Document
    settings: Settings
    today: date
    org: dict
    report: Report

    @property
    def english(self) -> bool:
        return self.leaflet.lang.lower().split("-")[0] == "en"

    def add(self, level: str, line: int | None, message: str, fix: str) -> None:
        self.report.findings.append(Finding(self.leaflet.shown, line, level, message, fix))


def check_readability(fc: FileCheck) -> None:
    """Grade the prose with Flesch-Kincaid and SMOG and hold the higher grade to the thresholds."""
    s = fc.settings
    reading = measure(prose_text(fc.doc.prose()))
    fc.report.readability = reading
    if not fc.english:
        # FK and SMOG are fitted to English: a grade for other languages would mislead. Spanish
        # has formulas of its own; for other languages say that none is applied.
        fc.report.readability = Readability(None, None, reading.words, reading.sentences)
        base = fc.leaflet.lang.lower().split("-")[0]
        if base in SPANISH_EASE:
            _check_spanish(fc, prose_text(fc.doc.prose()))
        else:
            fc.add(WARNING, fc.doc.body_line, f"no readability formula is known for lang '{fc.leaflet.lang}', "
                                              "so its reading level is not graded",
                   "ask a fluent reader to check the wording is plain")
        fc.add(WARNING, fc.doc.body_line, f"glossary, actions and insert sections are not checked for lang "
                                          f"'{fc.leaflet.lang}'",
               "these checks know English only; ask a fluent reader to check them")
        return
    grade = reading.grade
    if reading.sentences < s.min_sentences or grade is None:
        fc.add(WARNING, fc.doc.body_line, f"only {reading.sentences} sentences: too short to grade reliably",
               f"FK and SMOG need at least {s.min_sentences} sentences (SMOG was designed for 30); "
               "check the wording by hand")
        return
    which = "SMOG" if reading.smog is not None and reading.smog >= (reading.fk or 0) else "Flesch-Kincaid"
    if grade > s.grade_error:
        level, limit = ERROR, s.grade_error
    elif grade > s.grade_warning:
        level, limit = WARNING, s.grade_warning
    else:
        return
    long_words = ", ".join(f"{w} ({n})" for w, n in hard_words(prose_text(fc.doc.prose()))[:6])
    fix = "use shorter sentences and fewer long words"
    if long_words:
        fix += f"; words of 3 or more syllables used most: {long_words}"
    fc.add(level, fc.doc.body_line, f"reading grade {grade:.1f} ({which}) is above {limit:g}", fix)


# Spanish reading ease, 0-100 (higher is easier). Fernández-Huerta and Szigriszt-Pazos (INFLESZ)
# put 70+ at "easy" (about US grade 6) and below 60 at "somewhat hard" (past grade 8), matching
# the English thresholds of grade 6 and 8.
SPANISH_EASE = {"es": {"warning": 70, "error": 60}}


def _check_spanish(fc: FileCheck, text: str) -> None:
    limits = SPANISH_EASE["es"]
    textstat.set_lang("es")  # Spanish syllable counting (pyphen)
    try:
        scores = {"Fernández-Huerta": float(textstat.fernandez_huerta(text)),
                  "Szigriszt-Pazos": float(textstat.szigriszt_pazos(text))}
    finally:
        textstat.set_lang("en_US")
    fc.report.readability.scores = scores
    name, worst = min(scores.items(), key=lambda kv: kv[1])
    if worst < limits["error"]:
        level, limit = ERROR, limits["error"]
    elif worst < limits["warning"]:
        level, limit = WARNING, limits["warning"]
    else:
        return
    fc.add(level, fc.doc.body_line, f"reading ease {worst:.1f} ({name}) is below {limit}",
           "use shorter sentences and shorter, everyday words")


def hard_words(text: str) -> list[tuple[str, int]]:
    """Return the words of 3 or more syllables (those SMOG counts), most used first."""
    counts: dict[str, int] = {}
    for word in re.findall(r"\w[\w'’-]*", text.lower()):
        if textstat.syllable_count(word) >= 3:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def check_sentence_length(fc: FileCheck) -> None:
    """Flag every sentence longer than max_sentence_words, at its own line."""
    limit = fc.settings.max_sentence_words
    for block in fc.doc.prose():
        for offset, sentence in sentences(block):
            n = word_count(sentence)
            if n > limit:
                start = " ".join(sentence.split()[:6])
                fc.add(WARNING, block.line_at(offset), f"sentence of {n} words ('{start} …')",
                       f"split it into sentences of {limit} words or fewer")


def check_glossary(fc: FileCheck) -> None:
    """Find the first use of each glossary term and check that a plain explanation is near it."""
    glossary = fc.settings.glossary
    if not glossary or not fc.english:
        return  # item 4 is then left to a person
    stream, starts = _stream(fc.doc.blocks)
    lower = stream.lower()
    spans = [m.span() for m in WORD_RE.finditer(stream)]
    word_starts, word_ends = [a for a, _ in spans], [b for _, b in spans]
    matches = []
    for term in glossary:
        for m in _phrase_re(term, suffix=True).finditer(lower):
            matches.append((m.start(), m.end(), term))
    # The longest match wins, so "catheter-directed thrombolysis" is one term, not two.
    matches.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    first, covered_to = {}, -1
    for start, end, term in matches:
        if start < covered_to:
            continue
        covered_to = end
        first.setdefault(term, (start, end))
    within = fc.settings.explain_within_words
    ok = True
    for term, (start, end) in sorted(first.items(), key=lambda kv: kv[1]):
        if _explained(stream, lower, start, end, glossary[term], within, word_starts, word_ends):
            continue
        ok = False
        n = bisect_right(starts, start) - 1
        block, offset = fc.doc.blocks[n], start - starts[n]
        used = stream[start:end]
        words = f" using {' or '.join(repr(e) for e in glossary[term])}" if glossary[term] else ""
        fc.add(WARNING, block.line_at(offset),
               f"medical term '{used}' is not explained where it is first used",
               f"explain it in plain words{words} within {within} words, or in brackets straight after it")
    fc.report.pemat.mark(4, ok)


def _stream(blocks: list[Block]) -> tuple[str, list[int]]:
    """Join every block in reading order; return the text and where each block starts in it."""
    parts, starts, at = [], [], 0
    for block in blocks:
        starts.append(at)
        parts.append(block.text)
        at += len(block.text) + 2
    return "\n\n".join(parts), starts


def _phrase_re(phrase: str, suffix: bool) -> re.Pattern:
    """Match a phrase case-insensitively; spaces and hyphens are interchangeable.

    With suffix, as whole words with an optional plural ('stents', 'arteries'); without, from
    the start of a word, so 'blood thinner' also finds 'blood thinners'.
    """
    words = [re.escape(w) for w in re.split(r"[\s\-–]+", phrase.strip()) if w]
    if suffix and words[-1].endswith("y"):
        words[-1] = words[-1][:-1] + "(?:y|ies)"
    body = r"[\s\-–]+".join(words)
    return re.compile(r"(?<!\w)" + body + (r"(?:s|es)?(?!\w)" if suffix else ""), re.IGNORECASE)


ABBREVIATION_RE = re.compile(r"^\s*\([A-Z][A-Za-z]{1,6}\)")
EXPLAINED_AFTER_RE = re.compile(
    r"^(?:\s*\(|\s+[-–—]\s|\s*,\s*(?:which|a|an)\b|\s+(?:means|is a|is an|is the|are a|are an|is when)\b)",
    re.IGNORECASE)
EXPLAINED_BEFORE_RE = re.compile(r"(?:\bcalled|\bknown as|\bnamed)\s+(?:an?\s+|the\s+)?$", re.IGNORECASE)


def _explained(stream, lower, start, end, explanations, within, word_starts, word_ends) -> bool:
    """Return True when the use of a term at stream[start:end] is explained nearby."""
    after = stream[end:end + 80]
    abbreviation = ABBREVIATION_RE.match(after)
    if abbreviation:
        after = after[abbreviation.end():]  # "pulmonary embolism (PE) is a ..." still explains it
    if EXPLAINED_AFTER_RE.match(after) or EXPLAINED_BEFORE_RE.search(stream[max(0, start - 40):start]):
        return True
    first_word = bisect_right(word_starts, start) - 1
    last_word = bisect_right(word_starts, end - 1) - 1
    lo = word_starts[max(0, first_word - within)] if word_starts else 0
    hi = word_ends[min(len(word_ends) - 1, last_word + within)] if word_ends else len(stream)
    window = lower[lo:start] + " … " + lower[end:hi]
    return any(_phrase_re(e, suffix=False).search(window) for e in explanations)


def check_headings(fc: FileCheck) -> None:
    """Check that headings come often enough (item 8) and say what their section is about (item 9)."""
    limit = fc.settings.words_per_heading
    run, run_line, chunked = 0, None, True
    for block in fc.doc.blocks:
        if block.kind in ("title", "summary"):
            continue
        if block.kind in ("heading", "callout-title"):
            run, run_line = 0, None
            continue
        run_line = run_line or block.line
        before = run
        run += word_count(block.text)
        if before <= limit < run:
            chunked = False
            fc.add(WARNING, run_line, f"more than {limit} words without a heading from here",
                   "break the text up with '##' or '###' headings that say what each part is about")
    fc.report.pemat.mark(8, chunked)
    if not fc.english:
        return  # the generic headings are English; item 9 is left to a person
    generic = set(fc.settings.generic_headings)
    informative = True
    for heading in (b for b in fc.doc.blocks if b.kind == "heading"):
        plain = " ".join(re.sub(r"[^\w\s]", " ", heading.text.lower()).split())
        if plain in generic:
            informative = False
            fc.add(WARNING, heading.line, f"heading '{heading.text}' does not say what the section is about",
                   "name the topic, e.g. 'How to prepare' or 'When to get help'")
    fc.report.pemat.mark(9, informative)


def check_summary(fc: FileCheck) -> None:
    """A summary comes first (item 11): the front matter's summary, printed under the title."""
    fc.report.pemat.mark(11, bool(fc.leaflet.meta.get("summary", "").strip()))


NUMBER_PROBLEMS = (
    (re.compile(r"\d\s*%|\bper\s?cent\b", re.IGNORECASE), "a percentage",
     "use whole numbers, e.g. 'about 3 in 10 people'"),
    (re.compile(r"[½¼¾⅓⅔⅛]|(?<![\d/])(?!24/7\b)\d+/\d+(?![\d/])"), "a fraction",
     "use words or whole numbers, e.g. 'half' or '1 in 2'"),
    (re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])(?!\s*[ap]\.?m\b)", re.IGNORECASE), "a decimal number",
     "round it to a whole number, or use words"),
)


def check_numbers(fc: FileCheck) -> None:
    """Numbers are whole numbers, not percentages, fractions or decimals (item 6)."""
    blocks = [b for b in fc.doc.blocks if b.kind != "title"]
    if not any(re.search(r"\d", b.text) for b in blocks):
        fc.report.pemat.not_applicable.append(6)
        return
    clear = True
    for block in blocks:
        for pattern, what, fix in NUMBER_PROBLEMS:
            for m in pattern.finditer(block.text):
                clear = False
                fc.add(WARNING, block.line_at(m.start()),
                       f"'{m.group().strip()}' is {what}, which many readers find hard", fix)
    fc.report.pemat.mark(6, clear)


def check_actions(fc: FileCheck) -> None:
    """At least one instruction to the reader (item 20): a sentence that starts with an action verb."""
    if not fc.english:
        return
    verbs = "|".join(re.escape(v) for v in sorted(fc.settings.action_verbs, key=len, reverse=True))
    starts_with_verb = re.compile(rf"^[\"'“‘(]*(?:{verbs})\b", re.IGNORECASE)
    clause = re.compile(r"^(?:if|when|at|before|after|once|while|during|on|for)\b[^,.]{0,80},\s*",
                        re.IGNORECASE)
    found = False
    for block in fc.doc.blocks:
        if block.kind not in ("paragraph", "item", "callout-title"):
            continue
        for _, sentence in sentences(block):
            if sentence.rstrip("\"'”’)").endswith("?"):
                continue
            rest = clause.sub("", sentence, count=1)
            if starts_with_verb.match(sentence) or starts_with_verb.match(rest):
                found = True
                break
        if found:
            break
    if not found:
        fc.add(ERROR, fc.doc.body_line, "no action for the reader",
               "say what to do, starting with a verb: 'Call the team if…', 'Take your medicine…', "
               "'Keep moving.'")
    fc.report.pemat.mark(20, found)


def check_danger(fc: FileCheck) -> None:
    """Every leaflet has a danger callout with the emergency signs."""
    if fc.leaflet.kind == LEAFLET and not any(kind == "danger" for kind, _, _ in fc.leaflet.callouts):
        fc.add(ERROR, fc.doc.body_line, "the leaflet has no danger callout",
               "start the body with the emergency signs: "
               '!!! danger "Call {{ org.emergency_number }} now if you have"')


def check_insert_sections(fc: FileCheck) -> None:
    """Every insert has '##' sections on preparation, what happens, risks, aftercare and getting help."""
    if fc.leaflet.kind != INSERT or not fc.english:
        return
    covered = set()
    for heading in (b for b in fc.doc.blocks if b.kind == "heading" and b.level == 2):
        text = heading.text.lower()
        hits = []
        for name, _, keywords in INSERT_SECTIONS:
            for keyword in keywords:
                m = re.search(r"(?<!\w)" + re.escape(keyword), text)
                if m:
                    hits.append((m.start(), name))
        if hits:
            covered.add(min(hits)[1])
    for name, example, keywords in INSERT_SECTIONS:
        if name not in covered:
            fc.add(ERROR, fc.doc.body_line, f"the insert has no section on {name}",
                   f"add a '## {example}' section (its heading must contain a word starting with "
                   f"{' or '.join(repr(k) for k in keywords)})")


# How often something happens, as a reader is told it: "1 in 100", "10 out of 100", "about 2%".
# "Call 999 in 10 minutes" is not one: a time or a dose after the second number rules it out.
FREQUENCY_RE = re.compile(r"\b\d[\d,]*\s+(?:in|out\s+of)\s+(?:every\s+)?\d[\d,]*\b"
                          r"(?!\s*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|mg|ml)\b)"
                          r"|\b\d+(?:\.\d+)?\s?%")


def _sections(fc: FileCheck) -> list[tuple[Block, list[Block]]]:
    """Each '##' heading with the blocks under it, up to the next '##'."""
    found: list[tuple[Block, list[Block]]] = []
    for block in fc.doc.blocks:
        if block.kind == "heading" and block.level <= 2:
            found.append((block, []))
        elif found:
            found[-1][1].append(block)
    return found


def check_risk_frequencies(fc: FileCheck) -> None:
    """An insert's Risks section says how often each risk happens."""
    if fc.leaflet.kind != INSERT or not fc.english:
        return
    for heading, blocks in _sections(fc):
        if heading.level == 2 and re.search(r"(?<!\w)(?:risk|complication)", heading.text.lower()):
            if not any(FREQUENCY_RE.search(b.text) for b in blocks):
                fc.add(ERROR, heading.line, f"the '{heading.text}' section gives no frequency",
                       "say how often each risk happens, as 'about 1 in 100' (or 'about 2%'), "
                       "with its source, e.g. [1]")


def check_figures_cited(fc: FileCheck) -> None:
    """Every frequency in the text cites one of the sources, as [n], in the same sentence."""
    if not fc.english:
        return
    for block in fc.doc.blocks:
        if block.kind in ("title", "heading"):
            continue
        for offset, sentence in sentences(block):
            figure = FREQUENCY_RE.search(sentence)
            if figure and not content.CITATION_RE.search(sentence):
                fc.add(ERROR, block.line_at(offset + figure.start()),
                       f"the figure '{figure.group()}' cites no source",
                       "add the number of its source from 'sources:' in the same sentence, e.g. "
                       "'about 1 in 100 [2].'")


def check_review(fc: FileCheck) -> None:
    """The review date has not passed, and is not close; the leaflet is not a draft."""
    meta, lines = fc.leaflet.meta, fc.leaflet.lines
    review = meta["review_by"]
    if review < fc.today:
        fc.add(ERROR, lines["review_by"], f"review date {review:%Y-%m-%d} has passed",
               "review the content, then update version, published and review_by")
    elif review - fc.today <= timedelta(days=fc.settings.due_soon_days):
        fc.add(WARNING, lines["review_by"], f"review date {review:%Y-%m-%d} is within "
                                            f"{fc.settings.due_soon_days} days",
               "plan the clinical review now")
    if meta.get("status") == "draft":
        fc.add(WARNING, lines["status"], "status is draft: it prints 'DRAFT – not for patient use'",
               "after clinical review, set status: approved and fill in reviewed_by")


def check_sources(fc: FileCheck) -> None:
    """The leaflet lists the evidence it draws on (NHS PIF TICK: up-to-date evidence)."""
    if not fc.leaflet.meta.get("sources"):
        fc.add(WARNING, fc.doc.close_line, "no sources are listed",
               "add 'sources:' to the front matter, with the guidelines and evidence it draws on, "
               "one per line")


def check_pictures(fc: FileCheck) -> None:
    """Every picture has alt text that describes it: not its file name, not one generic word."""
    for picture in fc.doc.pictures:
        name = PurePosixPath(unquote(urlsplit(picture.src).path)).name.lower()
        stem = name.rsplit(".", 1)[0]
        alt = " ".join(re.sub(r"[^\w\s.-]", " ", picture.alt.lower()).split())
        useless = {name, stem, stem.replace("-", " ").replace("_", " "), *GENERIC_ALT}
        if alt in useless or alt.replace("-", " ").replace("_", " ") in useless:
            fc.add(ERROR, picture.line,
                   f"the alt text of '{picture.src}' does not describe it ('{picture.alt}')",
                   "say what the picture shows, e.g. ![A swollen left calf next to a normal right leg](...)")
        elif len(WORD_RE.findall(picture.alt)) < MIN_ALT_WORDS:
            fc.add(WARNING, picture.line, f"the alt text of '{picture.src}' is very short ('{picture.alt}')",
                   f"describe what the picture shows in at least {MIN_ALT_WORDS} words")
    if not fc.doc.pictures:
        # PEMAT: items about visual aids and diagrams are "N/A" when there are none.
        fc.report.pemat.not_applicable.extend([16, 17, 18, 25])


def check_tables(fc: FileCheck) -> None:
    """Leaflets are CommonMark, which has no tables, so item 19 never applies."""
    fc.report.pemat.not_applicable.append(19)


# Run in this order for each leaflet and insert. A future "translation referenced but missing"
# check is one more function here.
CHECKS = (
    check_readability, check_sentence_length, check_glossary, check_headings, check_summary, check_numbers,
    check_actions, check_danger, check_insert_sections, check_risk_frequencies, check_figures_cited,
    check_review, check_sources, check_pictures, check_tables,
)


def check_org_settings(project: Project, org: dict) -> list[Finding]:
    """Check what org.yaml says to every leaflet: the 'other formats and languages' statement."""
    shown = project.rel(project.leaflets / ORG_FILE)
    statement = org.get("other_formats")
    if statement is None:
        return []  # config.check_org has reported it missing
    if "large print" not in " ".join(statement.lower().split()):
        return [Finding(shown, (getattr(org, "lines", None) or {}).get("other_formats"), WARNING,
                        "other_formats does not mention large print",
                        "say that large print and other languages are available, and how to ask "
                        "(Accessible Information Standard)")]
    return []


def check(project: Project, ids=None, today: date | None = None) -> list[Report]:
    """Check leaflets and their inserts (every leaflet and insert when ids is empty).

    Return one Report per file, plus one for leaflets/org.yaml when it has findings. A file that
    cannot be loaded gets only its loading errors: the other checks need it loaded.
    """
    today = today or date.today()
    problems = Problems()
    if not ids:
        library = content.load(project, None, (), problems, langs="all")
    else:
        known_leaflets = content.available_ids(project, LEAFLET)
        known_inserts = content.available_ids(project, INSERT)
        # An id that names only an insert checks that insert, for authors of inserts.
        leaflet_ids = [i for i in ids if i in known_leaflets or i not in known_inserts]
        insert_ids = [i for i in ids if i not in leaflet_ids]
        library = content.load(project, leaflet_ids, insert_ids, problems, langs="all")
        for leaflet in list(library.leaflets.values()):
            for listed in leaflet.meta.get("inserts", []):
                if listed in known_inserts and listed not in library.inserts:
                    item = content.load_file(project, INSERT, listed, library.org, problems, library.warnings)
                    if item is not None:
                        library.inserts[listed] = item
    org_shown = project.rel(project.leaflets / ORG_FILE)
    org_findings: list[Finding] = []
    settings = load_settings(project, library.org, org_findings)
    org_findings += check_org_settings(project, library.org)

    reports: dict[str, Report] = {org_shown: Report(org_shown, None, CONFIG)}
    for leaflet in [*library.leaflets.values(), *library.inserts.values(), *library.translations.values()]:
        report = Report(leaflet.shown, leaflet.id, leaflet.kind, leaflet.meta.get("code"),
                        leaflet.meta.get("version"), pemat=Pemat())
        fc = FileCheck(leaflet, read_document(leaflet, library.org), settings, today, library.org, report)
        for run in CHECKS:
            run(fc)
        source = library.get(leaflet.kind, leaflet.id)
        if leaflet.translated and content.out_of_date(source, leaflet):
            fc.add(WARNING, leaflet.lines.get("translation_of"),
                   f"out of date: translates version {leaflet.meta['translation_of']}, but {source.shown} "
                   f"is version {source.meta['version']}",
                   "update the translation, then set translation_of to the source's version")
        if leaflet.translated and leaflet.lang not in library.org.get("languages", {}):
            fc.add(WARNING, leaflet.lines.get("lang"),
                   f"leaflets/org.yaml gives no '{leaflet.lang}' details, so the department, phone labels, "
                   "hours and other-formats sentence print in the source language",
                   f"add them under languages: {leaflet.lang}: in leaflets/org.yaml")
        reports[leaflet.shown] = report
    reports[org_shown].findings += org_findings
    for problem in problems.items:
        if problem.path not in reports:
            reports[problem.path] = _unloaded(project, problem.path)
        report = reports[problem.path]
        report.findings.append(Finding(problem.path, problem.line, ERROR, problem.message, problem.fix))
    for warning in library.warnings:
        if warning.path in reports:
            reports[warning.path].findings.append(
                Finding(warning.path, warning.line, WARNING, warning.message, warning.fix))
    ordered = [r for r in reports.values() if r.kind != CONFIG or r.findings]
    for report in ordered:
        report.findings = sorted(set(report.findings), key=_finding_order)
    return ordered


def _unloaded(project: Project, path: str) -> Report:
    """A report for a file that could not be loaded, named after its path."""
    p = PurePosixPath(path)
    if p.name == ORG_FILE:
        return Report(path, None, CONFIG)
    kind = INSERT if p.parent.name == "inserts" else LEAFLET
    return Report(path, p.stem if p.suffix == ".md" else None, kind)


def has_errors(reports: list[Report]) -> bool:
    return any(r.errors for r in reports)


# --- Output ---------------------------------------------------------------------------------------

def to_json(reports: list[Report]) -> str:
    """Return the run as a JSON object: one object per file, and the PEMAT-P items that need a person."""
    run = {"files": [r.to_dict() for r in reports],
           "pemat_needs_person": [pemat_label(i) for i in _needs_person(reports)]}
    return json.dumps(run, indent=2, ensure_ascii=False)


def to_text(reports: list[Report]) -> str:
    """Return the reports for a terminal: per file a header, its findings and what PEMAT-P measured;
    then, once, the PEMAT-P items that need a person."""
    out = []
    for report in reports:
        out.append(_header(report))
        out += [str(f) for f in report.findings]
        if report.pemat is not None:
            out.append(f"  {report.pemat.summary()}")
            out += [f"    fails: {pemat_label(i)}" for i in report.pemat.failed]
        out.append("")
    needs_person = _needs_person_text(reports)
    if needs_person:
        out += [*needs_person, ""]
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    files = sum(1 for r in reports if r.kind != CONFIG)
    out.append(f"checked {_count(files, 'file')}: {_count(errors, 'error')}, {_count(warnings, 'warning')}")
    return "\n".join(out)


def _needs_person(reports: list[Report]) -> dict[int, list[str]]:
    """Return each PEMAT-P item that needs a person in any file, with the files it needs one in."""
    files: dict[int, list[str]] = {}
    for report in reports:
        if report.pemat is not None:
            for item in report.pemat.needs_person:
                files.setdefault(item, []).append(report.path)
    return dict(sorted(files.items()))


def _needs_person_text(reports: list[Report]) -> list[str]:
    """Return the items that need a person once for the run; name files only where the lists differ."""
    rated = [r.path for r in reports if r.pemat is not None]
    groups: dict[tuple[str, ...], list[int]] = {}
    for item, paths in _needs_person(reports).items():
        groups.setdefault(tuple(paths), []).append(item)
    if not groups:
        return []
    if list(groups) == [tuple(rated)]:
        return ["PEMAT-P items that need a person in every file (a machine cannot judge them):",
                _fill_items(groups[tuple(rated)], "  ")]
    out = ["PEMAT-P items that need a person (a machine cannot judge them):"]
    # Items needed in every file first, then the rest in item order; the files, then their items.
    for paths, items in sorted(groups.items(), key=lambda g: (g[0] != tuple(rated), g[1])):
        every = "in both files:" if len(rated) == 2 else f"in all {len(rated)} files:"
        where = every if paths == tuple(rated) else f"only in {', '.join(paths)}:"
        out.append(textwrap.fill(where, width=100, initial_indent="  ", subsequent_indent="      ",
                                 break_long_words=False, break_on_hyphens=False))
        out.append(_fill_items(items, "    "))
    return out


def _fill_items(items: list[int], indent: str) -> str:
    """Wrap '1 purpose is evident; 2 ...' at 100 columns, never between an item's number and its name."""
    text = "; ".join(f"{i}\0{PEMAT_ITEMS[i][0]}" for i in items)
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent).replace("\0", " ")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _header(report: Report) -> str:
    parts = [report.path]
    if report.kind == CONFIG:
        return report.path
    if report.pemat is None:
        return f"{report.path}  not checked: fix the errors below first"
    parts.append(f"{report.code} v{report.version}")
    r = report.readability
    if r and r.scores:
        parts += [f"{name} {value:.1f}" for name, value in r.scores.items()]
    else:
        parts.append(f"FK {r.fk:.1f}" if r and r.fk is not None else "FK n/a")
        parts.append(f"SMOG {r.smog:.1f}" if r and r.smog is not None else "SMOG n/a")
    return "  ".join(parts)
