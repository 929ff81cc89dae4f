"""Check leaflets and inserts against patient-information standards (`build.py check`).

The checks are documented for authors in docs/checks.md. One module per seam:

- model: what a check finds (an errors.Problem with a level), a Report per file, the PEMAT-P items,
  and the FileCheck each rule works on;
- settings: the `checks:` section of leaflets/org.yaml, with its defaults;
- document: a loaded leaflet's text in reading order, with source lines;
- readability: a formula for each language (English: Flesch-Kincaid and SMOG);
- the rule modules, each exporting RULES: language (long sentences, medical terms), structure
  (PEMAT-P items, the danger callout, insert sections, figures and their sources), governance
  (review dates, drafts, sources, translations) and pictures (alt text);
- output: the reports as text or JSON.

A rule is a function that takes a FileCheck and adds findings to it, so a new check (such as "a
translation is referenced but missing") is one more function in its module's RULES.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import PurePosixPath

from .. import content
from ..config import ORG_FILE, Project
from ..content import INSERT, LEAFLET
from ..errors import Problem, Problems
from . import governance, language, pictures, readability, structure
from .document import read_document
from .model import CONFIG, WARNING, FileCheck, Pemat, Report, finding_order
from .output import to_json, to_text
from .settings import load_settings

__all__ = ["RULES", "check", "has_errors", "to_json", "to_text"]

# Every rule, run in this order on each leaflet, insert and translation.
RULES = (*readability.RULES, *language.RULES, *structure.RULES, *governance.RULES, *pictures.RULES)


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
    org_findings: list[Problem] = []
    settings = load_settings(project, library.org, org_findings)
    org_findings += governance.check_org(project, library.org)

    reports: dict[str, Report] = {org_shown: Report(org_shown, None, CONFIG)}
    for leaflet in [*library.leaflets.values(), *library.inserts.values(), *library.translations.values()]:
        report = Report(leaflet.shown, leaflet.id, leaflet.kind, leaflet.meta.get("code"),
                        leaflet.meta.get("version"), pemat=Pemat())
        fc = FileCheck(leaflet, read_document(leaflet, library.org), settings, today, library.org, report,
                       source=library.get(leaflet.kind, leaflet.id))
        for rule in RULES:
            rule(fc)
        reports[leaflet.shown] = report
    reports[org_shown].findings += org_findings
    for problem in problems.items:
        if problem.path not in reports:
            reports[problem.path] = _unloaded(project, problem.path)
        reports[problem.path].findings.append(problem)  # what stopped it loading: an error
    for warning in library.warnings:
        if warning.path in reports:
            reports[warning.path].findings.append(replace(warning, level=WARNING))
    ordered = [r for r in reports.values() if r.kind != CONFIG or r.findings]
    for report in ordered:
        report.findings = sorted(set(report.findings), key=finding_order)
    return ordered


def _unloaded(project: Project, path: str) -> Report:
    """A report for a file that could not be loaded, named after its path."""
    p = PurePosixPath(path)
    if p.name == ORG_FILE:
        return Report(path, None, CONFIG)
    kind = INSERT if p.parent.name == "inserts" else LEAFLET
    return Report(path, p.stem if p.suffix == ".md" else None, kind)


def has_errors(reports: list[Report]) -> bool:
    """Return True when any file has an error (warnings alone do not fail a run)."""
    return any(r.errors for r in reports)
