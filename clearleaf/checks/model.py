"""What the checks find and report: each finding is an errors.Problem with a level, gathered in a
Report per file with its readability figures and PEMAT-P items; a rule works on a FileCheck."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..content import Leaflet
from ..errors import ERROR, WARNING, Problem
from .document import Document
from .settings import Settings

__all__ = ["CONFIG", "ERROR", "WARNING", "PEMAT_ITEMS", "FileCheck", "Pemat", "Readability", "Report",
           "count_of", "finding_dict", "finding_order", "pemat_label"]

CONFIG = "config"

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


@dataclass
class Readability:
    """Reading-level figures for a text: the English grades, or another language's own scores."""

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
            measured = f"{len(self.passed)} of {count_of(len(self.checked), 'machine-checked item')} {verb}"
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
    findings: list[Problem] = field(default_factory=list)  # each with its level: error or warning

    @property
    def errors(self) -> list[Problem]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [f for f in self.findings if f.level == WARNING]

    def to_dict(self) -> dict:
        r = self.readability
        return {
            "path": self.path, "id": self.id, "kind": self.kind, "code": self.code, "version": self.version,
            "readability": None if r is None else {"fk": r.fk, "smog": r.smog, "words": r.words,
                                                   "sentences": r.sentences, **r.scores},
            "pemat": None if self.pemat is None else self.pemat.to_dict(),
            "findings": [finding_dict(f) for f in sorted(self.findings, key=finding_order)],
        }


def finding_dict(f: Problem) -> dict:
    """Return a finding as the JSON report gives it."""
    return {"path": f.path, "line": f.line, "level": f.level, "message": f.message, "fix": f.fix}


def finding_order(f: Problem) -> tuple:
    """Order a file's findings by line, errors before warnings at the same line."""
    return (f.line or 0, f.level != ERROR, f.message)


@dataclass
class FileCheck:
    """One leaflet or insert being checked: its text, the settings, and what was found so far."""

    leaflet: Leaflet
    doc: Document
    settings: Settings
    today: date
    org: dict
    report: Report
    source: Leaflet | None = None  # for a translation, the leaflet or insert it translates

    @property
    def language(self) -> str:
        """Return the base language of the file: 'es' for es-MX."""
        return self.leaflet.lang.lower().split("-")[0]

    @property
    def english(self) -> bool:
        return self.language == "en"

    def add(self, level: str, line: int | None, message: str, fix: str) -> None:
        self.report.findings.append(Problem(self.leaflet.shown, line, message, fix, level=level))


def count_of(n: int, what: str) -> str:
    """Return '1 file' or '3 files'."""
    return f"{n} {what}{'s' if n != 1 else ''}"
