"""Render checked leaflets through the Jinja templates into one HTML document."""

from __future__ import annotations

import re
import traceback
from functools import lru_cache
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import BytecodeCache, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from . import i18n
from .config import Project, leaflet_url, public_org
from .content import Leaflet
from .errors import Problem, Problems, RenderError
from .schema import Source

TEMPLATE = "handout.html"
# Where "Page %(page)s of %(pages)s" puts the numbers; the template cuts the translated text
# there into the words before, between and after, which CSS prints around its page counters.
PAGE_MARKER, PAGES_MARKER = "\x01", "\x02"
# Unicode isolates for text that cannot hold markup (the footer, an e-mail): FSI … PDI keeps a
# code or phone number in its own direction inside right-to-left text.
FSI, PDI = "\u2068", "\u2069"


@dataclass
class Part:
    """One leaflet or insert as the templates see it."""

    leaflet: Leaflet
    draft: bool = False
    overdue: bool = False
    first: bool = False
    url: str | None = None

    @property
    def short_url(self) -> str:
        return re.sub(r"^https://(www\.)?", "", self.url or "")

    @property
    def qr(self) -> str:
        """Return the QR code for the leaflet's web address as a PNG data URL (see qr_data_url)."""
        return qr_data_url(self.url)

    @property
    def kind(self):
        return self.leaflet.kind

    @property
    def meta(self):
        return self.leaflet.meta

    @property
    def sources(self) -> list[Source]:
        """The numbered sources, each a Source (a plain title becomes one)."""
        return [s if isinstance(s, Source) else Source(str(s)) for s in self.leaflet.meta.get("sources") or ()]

    @property
    def dir(self) -> str:
        """Return 'rtl' for a part written right to left (Arabic), else 'ltr'."""
        return i18n.direction(self.leaflet.lang)

    # Safe: produced by markdown-it with raw HTML turned off, so authors cannot inject markup.
    @property
    def lead(self):
        return Markup(self.leaflet.lead)

    @property
    def html(self):
        return Markup(self.leaflet.html)


QR_PIXELS_PER_MODULE = 4  # see qr_data_url


@lru_cache(maxsize=256)  # one per leaflet address: a build asks for each on every paper and language
def qr_data_url(url: str) -> str:
    """Return a QR code for url as a PNG data URL; error correction M survives a crease or smudge.

    A QR symbol is a grid of squares, so a small picture holds it exactly: four pixels a module,
    printed without smoothing (image-rendering: pixelated in common.css), keeps every edge sharp
    at any size, and still looks sharp in a viewer that smooths anyway. Drawn as an SVG path
    instead, it cost WeasyPrint a tenth of the time of each PDF.
    """
    import base64
    import io

    import segno

    png = io.BytesIO()
    segno.make(url, error="m", micro=False).save(png, kind="png", scale=QR_PIXELS_PER_MODULE, border=4,
                                                 dark="#000", light="#fff")
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")


def long_date(value: date, lang: str = "en") -> str:
    """Format a date in full for lang: '26 November 2029', which no reader can mistake for month-first."""
    return i18n.format_date(value, lang)


@dataclass(frozen=True)
class PageLabel:
    """The words of "Page X of Y" around the two numbers, for CSS string-set."""

    before: str
    between: str
    after: str


def page_parts(text, where: str = "templates/part.html") -> PageLabel:
    """Cut the translated "Page %(page)s of %(pages)s" (numbers filled with the markers) in three."""
    before, found, rest = str(escape(text)).partition(PAGE_MARKER)
    between, found_pages, after = rest.partition(PAGES_MARKER)
    if not found or not found_pages or PAGE_MARKER in after or PAGES_MARKER in before:
        raise RenderError([Problem(where, None, "the translation of 'Page %(page)s of %(pages)s' must show "
                                   "%(page)s before %(pages)s, once each",
                                   "write the page number first, e.g. 'Página %(page)s de %(pages)s'")])
    return PageLabel(Markup(before), Markup(between), Markup(after))


def ltr(value, rtl: bool, nowrap: bool = False):
    """In right-to-left text, keep value (a phone number, code or address) left to right and whole.

    nowrap also keeps it on one line (phone numbers). In left-to-right text value is unchanged.
    """
    if not rtl or value is None:
        return value
    return Markup('<span dir="ltr" class="%s">%s</span>') % ("ltr nowrap" if nowrap else "ltr", value)


def ltr_within(text, value, rtl: bool):
    """In right-to-left text, keep one value inside a sentence (the phone number in the
    other-formats sentence) left to right and whole; the rest of the sentence is escaped as usual."""
    if not rtl or not text or not value or value not in text:
        return text
    before, _, after = str(text).partition(value)
    return escape(before) + ltr(value, rtl, nowrap=True) + escape(after)


def bidi(value, rtl: bool):
    """In right-to-left text, isolate a value typed in a left-to-right script (an English phone
    label from org.yaml) so its words and brackets keep their order; Arabic values are unchanged."""
    if not rtl or value is None or i18n.text_direction(value) == "rtl":
        return value
    return Markup('<span dir="ltr" class="ltr">%s</span>') % (value,)


def isolate(value, rtl: bool):
    """Like ltr, for text that cannot hold markup: wrap value in Unicode isolates (FSI … PDI)."""
    if not rtl or value is None:
        return value
    return FSI + value + PDI if isinstance(value, str) else f"{FSI}{value}{PDI}"


def dial_link(shown, number, web: bool):
    """On a web page, make a phone number (shown as it prints) a tel: link; in print, leave it be."""
    if not web or not number:
        return shown
    return Markup('<a href="%s">%s</a>') % ("tel:" + re.sub(r"[^0-9+]", "", str(number)), shown)


def install_filters(env, lang: str) -> None:
    """Add the filters every template may use: longdate, ltr, ltr_within, bidi, isolate, textdir
    and dial_link."""
    env.filters["longdate"] = lambda value: long_date(value, lang)
    env.filters["dial_link"] = dial_link
    env.filters["ltr"] = ltr
    env.filters["ltr_within"] = ltr_within
    env.filters["bidi"] = bidi
    env.filters["isolate"] = isolate
    env.filters["textdir"] = i18n.text_direction


def environment(project: Project, lang: str = "en") -> SandboxedEnvironment:
    """Return the sandboxed, autoescaping, strict Jinja environment for the HTML templates, in lang.

    The i18n extension is installed with lang's catalogue (newstyle gettext, trimmed); a message
    the catalogue does not translate stops the render. Raise RenderError when lang has no
    catalogue. Environments are kept, with their compiled templates, until the catalogue
    changes (Jinja itself recompiles a template whose file changed): building one and compiling
    the templates again cost about 40 ms a handout.
    """
    path = None if i18n.is_source(lang) else i18n.catalogue_path(project, lang)
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path else None
    return _environment(project, lang, stamp)


class _SharedBytecode(BytecodeCache):
    """Compiled templates, shared by the environments of every language, in memory and on disk.

    They differ only in the catalogue and filters they hold, which the compiled code looks up
    when it runs, so a template is compiled once per process, not once per language (a build in
    three languages compiled each template three times: about 0.15 s). The project's
    `.clearleaf-cache/jinja/` keeps them between processes, so a handout made from the shell does
    not compile them again (about 0.1 s). Jinja recompiles a template whose source changed (the
    bucket's checksum) or that another Python compiled (its magic number). The folder is as
    trusted as the project's own code beside it; one that cannot be written is only slower.
    """

    def __init__(self, folder: Path | None = None):
        self.store: dict[str, bytes] = {}
        self.folder = folder

    def load_bytecode(self, bucket) -> None:
        data = self.store.get(bucket.key)
        if data is None and self.folder is not None:
            try:
                data = (self.folder / f"{bucket.key}.jbc").read_bytes()
            except OSError:
                return
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket) -> None:
        data = self.store[bucket.key] = bucket.bytecode_to_string()
        if self.folder is not None:
            from .pdf import write_atomic

            try:
                write_atomic(self.folder / f"{bucket.key}.jbc", data)
            except OSError:
                pass


@lru_cache(maxsize=4)
def _bytecode(project: Project) -> _SharedBytecode:
    return _SharedBytecode(project.cache / "jinja")


@lru_cache(maxsize=16)
def _environment(project: Project, lang: str, catalogue_stamp) -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(project.templates), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               extensions=["jinja2.ext.i18n"], bytecode_cache=_bytecode(project))
    translations = i18n.translations(project, lang)
    i18n.install(env, translations, escape_html=True)
    install_filters(env, lang)
    env.filters["page_parts"] = lambda text: page_parts(text, translations.shown or "templates/part.html")
    env.globals.update(page_marker=PAGE_MARKER, pages_marker=PAGES_MARKER)
    return env


def render_html(project: Project, org: dict, parts: list[Leaflet], paper: str, today: date,
                preview: dict | None = None, patient: dict | None = None, *, lang: str = "en",
                section: str | None = None, stand_ins: int = 0, total_pages: int = 0) -> str:
    """Return the HTML document for a leaflet followed by its inserts.

    lang is the language of the interface text (headings, labels, footer) and of the dates; it
    should be the leaflets' own language. The document's lang and dir come from the first part.
    section picks half of a personalised handout (clearleaf/personal.py): "personal" is the first
    part up to the patient's details, its footer counting total_pages; "rest" is stand_ins blank
    pages, then everything after the details. The rest never holds patient details.
    """
    if section not in (None, "personal", "rest"):
        raise ValueError(f"unknown section {section!r}")
    if section == "rest":
        patient = None
    env = environment(project, lang)
    first = parts[0]
    doc = {
        "title": first.title,
        "inserts": [p.title for p in parts[1:]],
        "lang": first.lang,
        "dir": i18n.direction(first.lang),
        "author": f"{org['name']}, {first.meta['owner']}",
        "subject": first.meta["summary"],
        "keywords": ", ".join([p.meta["code"] for p in parts] + [p.title for p in parts]),
    }
    context = {
        "org": public_org(org, first.lang),
        "doc": doc,
        "paper": paper,
        "parts": [make_part(p, org, today, first=(n == 0)) for n, p in enumerate(parts)],
        "preview": preview,
        "patient": patient,
        "section": section,
        "stand_ins": stand_ins,
        "total_pages": total_pages,
    }
    return render_template(project, env, TEMPLATE, context)


def make_part(leaflet: Leaflet, org: dict, today: date, first: bool = False, cls: type[Part] = Part, **extra) -> Part:
    """Return a leaflet or insert as the templates see it: draft, overdue, and its page's address."""
    return cls(leaflet, draft=leaflet.meta["status"] == "draft", overdue=leaflet.is_overdue(today), first=first,
               url=leaflet_url(org, leaflet.id, leaflet.lang if leaflet.translated else None), **extra)


def render_template(project: Project, env, name: str, context: dict, given: str = "org, doc, paper, parts",
                    guide: str = "docs/authoring.md") -> str:
    """Render one template; raise RenderError naming the template file and line of any error.

    given names what a template may use, and guide where that is explained, for the message.
    """
    try:
        return env.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        problems = Problems()
        problems.add(project.rel(Path(exc.filename)) if exc.filename else f"templates/{exc.name}",
                     exc.lineno, f"template error: {exc.message}", "fix the Jinja syntax in the template")
        problems.raise_if_any(RenderError)
    except TemplateError as exc:
        where, line = _template_frame(project, exc, name)
        problems = Problems()
        problems.add(where, line, f"template error: {exc}",
                     f"use only names the template is given ({given}); see {guide}")
        problems.raise_if_any(RenderError)
    raise AssertionError("unreachable")


def _template_frame(project: Project, exc: Exception, name: str = TEMPLATE) -> tuple[str, int | None]:
    """Find the template file and line a runtime Jinja error came from."""
    templates = str(project.templates.resolve())
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and str(Path(frame.filename).resolve()).startswith(templates):
            return project.rel(Path(frame.filename).resolve()), frame.lineno
    return project.rel(project.templates / name), None
