"""Governance rules: review dates, drafts, sources, translations, and the "other formats" statement."""

from __future__ import annotations

from datetime import timedelta

from .. import content
from ..config import ORG_FILE, Project
from ..errors import Problem
from .model import ERROR, WARNING, FileCheck


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


def check_translation(fc: FileCheck) -> None:
    """A translation translates its source's current version, and org.yaml gives its language's details."""
    leaflet, source = fc.leaflet, fc.source
    if not leaflet.translated:
        return
    if content.out_of_date(source, leaflet):
        fc.add(WARNING, leaflet.lines.get("translation_of"),
               f"out of date: translates version {leaflet.meta['translation_of']}, but {source.shown} "
               f"is version {source.meta['version']}",
               "update the translation, then set translation_of to the source's version")
    if leaflet.lang not in fc.org.get("languages", {}):
        fc.add(WARNING, leaflet.lines.get("lang"),
               f"leaflets/org.yaml gives no '{leaflet.lang}' details, so the department, phone labels, "
               "hours and other-formats sentence print in the source language",
               f"add them under languages: {leaflet.lang}: in leaflets/org.yaml")


RULES = (check_review, check_sources, check_translation)


def check_org(project: Project, org: dict) -> list[Problem]:
    """Check what org.yaml says to every leaflet: the 'other formats and languages' statement."""
    shown = project.rel(project.leaflets / ORG_FILE)
    statement = org.get("other_formats")
    if statement is None:
        return []  # config.check_org has reported it missing
    if "large print" not in " ".join(statement.lower().split()):
        return [Problem(shown, (getattr(org, "lines", None) or {}).get("other_formats"),
                        "other_formats does not mention large print",
                        "say that large print and other languages are available, and how to ask "
                        "(Accessible Information Standard)", level=WARNING)]
    return []
