"""Render checked leaflets through the Jinja templates into one HTML document."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .config import Project, leaflet_url, public_org
from .content import Leaflet
from .errors import Problems, RenderError

TEMPLATE = "handout.html"
DRAFT_MARK = "DRAFT – not for patient use"
OVERDUE_MARK = "Review overdue"


@dataclass
class Part:
    """One leaflet or insert as the templates see it."""

    leaflet: Leaflet
    marks: str
    first: bool = False
    url: str | None = None

    @property
    def short_url(self) -> str:
        return re.sub(r"^https://(www\.)?", "", self.url or "")

    @property
    def qr(self) -> str:
        """Return the QR code for the leaflet's web address as an SVG data URL (vector, sharp at any size)."""
        return qr_data_url(self.url)

    @property
    def kind(self):
        return self.leaflet.kind

    @property
    def meta(self):
        return self.leaflet.meta

    # Safe: produced by markdown-it with raw HTML turned off, so authors cannot inject markup.
    @property
    def lead(self):
        return Markup(self.leaflet.lead)

    @property
    def html(self):
        return Markup(self.leaflet.html)


def qr_data_url(url: str) -> str:
    """Return a QR code for url as an SVG data URL; error correction M survives a crease or smudge."""
    import segno

    return segno.make(url, error="m", micro=False).svg_data_uri(border=4, dark="#000", light="#fff",
                                                                omitsize=True)


def long_date(value: date) -> str:
    """Format a date as '26 November 2029', which no reader can mistake for month-first."""
    return f"{value.day} {value:%B %Y}"


def environment(project: Project) -> SandboxedEnvironment:
    """Return the sandboxed, autoescaping, strict Jinja environment for the HTML templates."""
    env = SandboxedEnvironment(loader=FileSystemLoader(project.templates), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["longdate"] = long_date
    return env


def marks_for(leaflet: Leaflet, today: date) -> str:
    """Return the warning printed at the top of every page of this part, if any."""
    marks = []
    if leaflet.meta["status"] == "draft":
        marks.append(DRAFT_MARK)
    if leaflet.is_overdue(today):
        marks.append(OVERDUE_MARK)
    return " · ".join(marks)


def render_html(project: Project, org: dict, parts: list[Leaflet], paper: str, today: date,
                preview: dict | None = None, patient: dict | None = None) -> str:
    """Return the HTML document for a leaflet followed by its inserts."""
    first = parts[0]
    doc = {
        "title": first.title if len(parts) == 1 else
        f"{first.title}, with: " + "; ".join(p.title for p in parts[1:]),
        "lang": first.lang,
        "author": f"{org['name']}, {first.meta['owner']}",
        "subject": first.meta["summary"],
        "keywords": ", ".join([p.meta["code"] for p in parts] + [p.title for p in parts]),
    }
    context = {
        "org": public_org(org),
        "doc": doc,
        "paper": paper,
        "parts": [Part(p, marks_for(p, today), first=(n == 0), url=leaflet_url(org, p.id))
                  for n, p in enumerate(parts)],
        "preview": preview,
        "patient": patient,
    }
    try:
        return environment(project).get_template(TEMPLATE).render(context)
    except TemplateSyntaxError as exc:
        problems = Problems()
        problems.add(project.rel(Path(exc.filename)) if exc.filename else f"templates/{exc.name}",
                     exc.lineno, f"template error: {exc.message}", "fix the Jinja syntax in the template")
        problems.raise_if_any(RenderError)
    except TemplateError as exc:
        where, line = _template_frame(project, exc)
        problems = Problems()
        problems.add(where, line, f"template error: {exc}",
                     "use only names the template is given (org, doc, paper, parts); see docs/authoring.md")
        problems.raise_if_any(RenderError)
    raise AssertionError("unreachable")


def _template_frame(project: Project, exc: Exception) -> tuple[str, int | None]:
    """Find the template file and line a runtime Jinja error came from."""
    templates = str(project.templates.resolve())
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and str(Path(frame.filename).resolve()).startswith(templates):
            return project.rel(Path(frame.filename).resolve()), frame.lineno
    return project.rel(project.templates / TEMPLATE), None
