"""The website the leaflets' QR codes lead to (`build.py site`): a page for every leaflet and
insert in each language, made from the same content, renderer and end-matter templates as the
PDFs, with the PDFs beside them.

The stages are the PDFs' own: load (content.load), plan (builder.plan for the PDFs, `plan` for
the pages), render (templates/site/, sandboxed and autoescaped), check (the output folder holds
only the site's own files), write (builder.build for the PDFs, then every page and asset, each
atomically). The folders match the addresses the QR codes encode: see Layout.

    site/index.html                     every leaflet, its inserts beneath it
    site/<id>/index.html                a leaflet or insert in its own language
    site/<id>/<lang>/index.html         a translation
    site/pdf/<paper>[-large]/...        the PDFs, exactly as `build.py build` lays them out
    site/assets/                        site.css (with the fonts' @font-face), site.js, fonts/
    site/media/                         PNG and JPEG pictures, as under leaflets/ (SVG drawings are
                                        drawn in the page, so they use the packaged fonts)
    site/.clearleaf-site.json           what the site wrote, so it never writes over anything else
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from html import unescape
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from markupsafe import Markup, escape

from . import builder, content, i18n, manifest, pdf, render
from .config import ORG_FILE, Project, leaflet_url, public_org
from .content import INSERT, LEAFLET, Leaflet, Library
from .errors import ContentError, Problem, Problems, RenderError

MARKER = ".clearleaf-site.json"
FORMAT = 1
PDF_FOLDER, ASSETS, MEDIA = "pdf", "assets", "media"
# Page folders are named after ids, so no id may take the name of the site's own folders.
RESERVED_IDS = (PDF_FOLDER, ASSETS, MEDIA, "index")
VARIANTS = ("standard", "large")
STYLES = tuple(pdf.Style(paper, variant) for variant in VARIANTS for paper in pdf.PAPERS)
# The pages may load files from the site itself and nothing else: no other site's fonts,
# scripts, pictures or trackers. No inline script or style either (site.js, site.css).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; script-src 'self'; "
       "base-uri 'none'; form-action 'none'")
# What may follow {id} in leaflet_url for the address to name a static file or folder.
URL_TAILS = {"": False, "/": False, ".html": True}
# markdown-it writes every picture as <img src="..." alt="..."> (and title="..." when given); with
# raw HTML off, an author's own "<img" is text (&lt;img), so this finds only real pictures.
IMG_RE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? ?/?>')
SVG_NS = "http://www.w3.org/2000/svg"
# What a picture shown on a web page must not hold: script, or a reference to another site.
SVG_DANGER_RE = re.compile(r"<script|<foreignObject|\son[a-z]+\s*=|javascript:|@import|"
                           r"""(?:href|src)\s*=\s*["']\s*(?:[a-z][a-z0-9+.-]*:|//)|"""
                           r"""url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.IGNORECASE)
SVG_NAMESPACES_RE = re.compile(r"""(?:xmlns(?::\w+)?|xml:space)\s*=\s*["'][^"']*["']""")


@dataclass(frozen=True)
class Layout:
    """Where each page goes: the path its QR code's address names, under the site's folder.

    root is leaflet_url up to {id}: the address the site's folder is published at. The page
    of <id> in <lang> is config.leaflet_url's address with root taken off: <id>/<lang>, as a
    folder holding index.html, or as a .html file when leaflet_url ends in {id}.html.
    """

    root: str | None = None
    html_files: bool = False

    def page(self, org, item: Leaflet) -> str:
        lang = item.lang if item.translated else None
        url = leaflet_url(org, item.id, lang) if self.root else None
        rest = url[len(self.root):] if url else (f"{item.id}/{lang}" if lang else item.id)
        return rest if self.html_files else rest.rstrip("/") + "/index.html"


def layout(project: Project, org, problems: Problems) -> Layout:
    """Return the layout leaflet_url calls for; report an address no static folder can answer."""
    url = org.leaflet_url
    if not url:
        return Layout()
    before, found, after = url.partition("{id}")
    if found and after in URL_TAILS and before.endswith("/") and not any(c in before for c in "?#"):
        return Layout(before, URL_TAILS[after])
    problems.add(project.rel(project.leaflets / ORG_FILE), org.lines.get("leaflet_url"),
                 f"leaflet_url {url} cannot be the address of a page of a static website: {{id}} must come "
                 "after a / and end the address, or be followed only by / or .html",
                 "write it as https://www.example.org/leaflets/{id}; then publish the site's folder at "
                 "https://www.example.org/leaflets/ (see docs/site.md)")
    return Layout()


@dataclass
class Page:
    """One web page: a leaflet or insert in one language, and where its page and PDFs go."""

    item: Leaflet
    path: str  # under the site folder, e.g. "dvt/es/index.html"
    pdfs: list[tuple[pdf.Style, str]] = field(default_factory=list)  # (style, path under the site folder)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.item.kind, self.item.id, self.item.lang)


@dataclass
class Plan:
    """Every page, the PDF build's jobs, and the language of the home page."""

    library: Library
    layout: Layout
    pages: dict[tuple[str, str, str], Page]
    jobs: list[builder.Job]
    home_lang: str


@dataclass
class Result:
    """What a site build made."""

    pages: list[Page]
    pdf: builder.Result
    written: list[str]      # files under out written because they were new or changed
    unchanged: list[str]    # files already as the build would write them
    removed: list[str]      # files of an earlier build that this one no longer makes
    warnings: list[str]
    address: str | None     # where to publish the folder, so the QR codes find its pages


def build(project: Project, out: Path = Path("dist/site"), allow_overdue: bool = False, today: date | None = None,
          progress=None, force: bool = False) -> Result:
    """Build the website into out: every page, its assets and pictures, and the PDFs it links.

    Every problem (content, org.yaml, templates, and anything in out the site did not write) is
    reported before anything is written. The same inputs give the same bytes. progress(done,
    total) is called as each PDF renders; force renders every PDF again (builder.build).

    Raises:
        ClearleafError: every problem found, each as `file:line: what is wrong — how to fix it`.
    """
    today = today or date.today()
    out = Path(out)
    problems = Problems()
    library = content.load(project, None, (), problems, pdf.font_characters(), langs="all")
    site = plan(project, library, out, allow_overdue, today, problems)
    problems.raise_if_any(ContentError)
    files = render_site(project, site, today, problems)
    problems.raise_if_any(RenderError)
    previous = check_folder(out, files, [path for page in site.pages.values() for _, path in page.pdfs], problems)
    problems.raise_if_any(ContentError)
    # The PDFs, through the normal build: only what changed is rendered again (manifest.py).
    made = builder.build(project, None, pdf.PAPERS, (), out / PDF_FOLDER, allow_overdue, today, progress=progress,
                         force=force, prune=True, variants=VARIANTS)
    written, unchanged = [], []
    for path, data in sorted(files.items()):
        target = out / path
        if target.is_file() and target.read_bytes() == data:
            unchanged.append(path)
            continue
        _write(target, data)
        written.append(path)
    pdfs = {job.path.relative_to(out).as_posix(): manifest.file_hash(job.path) for job in made.jobs}
    pdfs[f"{PDF_FOLDER}/{manifest.NAME}"] = manifest.file_hash(out / PDF_FOLDER / manifest.NAME)
    now = {**{path: _sha256(data) for path, data in files.items()}, **pdfs}
    removed, warnings = remove_stale(out, previous, now)
    _write(out / MARKER, (json.dumps({"format": FORMAT, "files": dict(sorted(now.items()))}, indent=1)
                          + "\n").encode("utf-8"))
    return Result(sorted(site.pages.values(), key=lambda p: p.path), made, written, unchanged, removed,
                  made.warnings + warnings, site.layout.root)


def plan(project: Project, library: Library, out: Path, allow_overdue: bool, today: date,
         problems: Problems) -> Plan:
    """Decide every page and PDF; report ids the layout cannot hold and leaflet_url it cannot map."""
    site_layout = layout(project, library.org, problems)
    jobs = builder.plan(library, None, STYLES, (), out / PDF_FOLDER, allow_overdue, today, problems)
    for id_ in sorted(set(library.leaflets) & set(library.inserts)):
        insert = library.inserts[id_]
        problems.add(insert.shown, None, f"the insert '{id_}' has the same id as the leaflet "
                     f"{library.leaflets[id_].shown}, and an id names its web page",
                     "rename one of the two files (and update the leaflet's inserts list)")
    for item in [*library.leaflets.values(), *library.inserts.values()]:
        if item.id in RESERVED_IDS:
            problems.add(item.shown, None, f"the id '{item.id}' is the name of one of the website's own folders",
                         f"rename the file: {', '.join(RESERVED_IDS)} cannot be ids")
    pages = {}
    for kind, sources in ((LEAFLET, library.leaflets), (INSERT, library.inserts)):
        for id_ in sorted(sources):
            for lang in library.languages(kind, id_):
                item = library.get(kind, id_, lang)
                page = Page(item, site_layout.page(library.org, item))
                pages[page.key] = page
    for job in jobs:
        key = (job.parts[0].kind, job.parts[0].id, job.parts[0].lang)
        if key in pages:
            pages[key].pdfs.append((job.style, job.path.relative_to(out).as_posix()))
    return Plan(library, site_layout, pages, jobs, _home_language(library))


def _home_language(library: Library) -> str:
    """The home page's language: the one most leaflets are written in (English when there are none)."""
    counts = Counter(item.lang for item in library.leaflets.values())
    return min(counts, key=lambda lang: (-counts[lang], lang)) if counts else i18n.SOURCE_LANGUAGE


# --- render -------------------------------------------------------------------------------------

@dataclass
class WebPart(render.Part):
    """A part as its web page shows it: the same HTML, its pictures drawn in the page (SVG) or
    found in the site's media/ folder (PNG, JPEG)."""

    page: str = ""
    drawings: dict = field(default_factory=dict)  # picture path in the site -> its SVG, to draw in the page

    # On paper an insert's emergency box ends it: it always goes out with its leaflet, whose page 1
    # holds the emergency signs. A web page stands alone (a QR code leads straight to it), so
    # every danger callout comes first there, leaflet or insert.
    @property
    def lead(self):
        return Markup(self._pictures(self.leaflet.lead + "".join(_dangers(self.leaflet.html)[0])))

    @property
    def html(self):
        return Markup(self._pictures(_dangers(self.leaflet.html)[1]))

    def _pictures(self, html: str) -> str:
        count = iter(range(1, 1000))

        def picture(match) -> str:
            path = _picture_path(match.group(1))
            if path in self.drawings:
                return inline_svg(self.drawings[path], unescape(match.group(2)), f"pic{next(count)}")
            return match.group(0).replace(match.group(1), str(escape(href(self.page, path))), 1)
        return IMG_RE.sub(picture, html)


DANGER_OPEN = '<div class="callout callout-danger">'
DIV_RE = re.compile(r"<div\b|</div>")


def _dangers(html: str) -> tuple[list[str], str]:
    """Split the danger callouts out of a part's HTML: (the callouts, the HTML without them).

    markdown-it writes every <div> (raw HTML is off), so counting them finds each callout's end.
    """
    found = []
    while (start := html.find(DANGER_OPEN)) != -1:
        depth = 0
        for match in DIV_RE.finditer(html, start):
            depth += 1 if match.group(0) == "<div" else -1
            if depth == 0:
                break
        found.append(html[start:match.end()])
        html = html[:start] + html[match.end():]
    return found, html


def _picture_path(src: str) -> str:
    """Return where a picture's src (relative to leaflets/, as markdown-it wrote it) is in the site."""
    return posixpath.normpath(f"{MEDIA}/{unquote(urlsplit(unescape(src)).path)}")


def _picture_source(project: Project, src: str) -> Path:
    return (project.leaflets / unquote(urlsplit(unescape(src)).path)).resolve()


def inline_svg(text: str, label: str, prefix: str) -> str:
    """Return an SVG drawing as an element of the page, labelled with the picture's alt text.

    An SVG shown through <img> cannot use the page's fonts, so its words would be drawn in
    whatever font the phone has, wider than the packaged ones, and labels would run into each
    other; in the page it uses the same fonts as the PDF. Its ids get prefix, so that two
    drawings on one page never share one.
    """
    root = ElementTree.fromstring(text)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if name == "id":
                value = f"{prefix}-{value}"
            for old in ids:
                value = value.replace(f"url(#{old})", f"url(#{prefix}-{old})")
                if value == f"#{old}":
                    value = f"#{prefix}-{old}"
            element.set(name, value)
    # Alone, an SVG is laid out left to right; in an Arabic page it would inherit rtl, which
    # moves every text-anchor to the other end. Its own direction="rtl" texts still hold.
    root.set("direction", root.get("direction", "ltr"))
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("class", "picture")
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ElementTree.tostring(root, encoding="unicode")


def href(page: str, target: str) -> str:
    """Return a link from page to target (both under the site folder), relative and naming the file,
    so that it works from a web server and straight from the folder alike."""
    return quote(posixpath.relpath(target, posixpath.dirname(page) or "."))


def language_name(lang: str) -> str:
    """Return a language's name in itself: English, Español, العربية."""
    name = i18n.locale(lang).get_display_name(i18n.locale(lang)) or lang
    return name[:1].upper() + name[1:]


def render_site(project: Project, site: Plan, today: date, problems: Problems) -> dict[str, bytes]:
    """Return every file of the site but the PDFs (path under the site folder -> bytes)."""
    files: dict[str, bytes] = {}
    pictures = {_picture_path(src): _picture_source(project, src) for page in site.pages.values()
                for source in (page.item.lead, page.item.html) for src, _ in IMG_RE.findall(source)}
    drawings = {}
    for path, source in sorted(pictures.items()):
        data = source.read_bytes()
        drawing = _drawing(project, source, data, problems) if source.suffix.lower() == ".svg" else None
        if drawing is not None:
            drawings[path] = drawing
        else:
            files[path] = data
    for page in site.pages.values():
        files[page.path] = _render_page(project, site, page, today, drawings).encode("utf-8")
    files["index.html"] = _render_home(project, site, today).encode("utf-8")
    files.update(assets(project))
    return files


def _drawing(project: Project, path: Path, data: bytes, problems: Problems) -> str | None:
    """Check an SVG picture; return its text to draw in the page, or None to show it through <img>.

    One that styles itself (<style>, style="...") stays an <img>: the pages' CSP allows no inline
    style, and inside <img> its own styles still apply.
    """
    shown = project.rel(path)
    text = data.decode("utf-8", errors="replace")
    for n, line in enumerate(text.split("\n"), 1):
        found = SVG_DANGER_RE.search(SVG_NAMESPACES_RE.sub("", line))
        if found:
            problems.add(shown, n, f"the picture holds '{found.group(0).strip()}', which a web page must not show: "
                         "a script, or something from another site", "remove it from the SVG; draw everything in "
                         "the file itself")
            return None
        if "<!DOCTYPE" in line or "<!ENTITY" in line:
            problems.add(shown, n, "the picture declares a DOCTYPE or entities", "remove the <!DOCTYPE ...> lines")
            return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        problems.add(shown, exc.position[0], f"the picture is not well-formed SVG: {exc}",
                     "open it in a drawing program and save it again as plain SVG")
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        problems.add(shown, 1, "the picture is not an SVG drawing (no <svg> element)", "save it as plain SVG")
        return None
    styled = any(e.tag == f"{{{SVG_NS}}}style" or e.get("style") is not None for e in root.iter())
    return None if styled else text


def _links(page: str, js: bool = False) -> dict:
    return {"home": href(page, "index.html"), "css": href(page, f"{ASSETS}/site.css"),
            "js": href(page, f"{ASSETS}/site.js") if js else None}


def _language_links(site: Plan, page: Page) -> list[dict]:
    kind, id_ = page.item.kind, page.item.id
    found = []
    for lang in site.library.languages(kind, id_):
        other = site.pages[(kind, id_, lang)]
        found.append({"lang": lang, "dir": i18n.direction(lang), "name": language_name(lang),
                      "href": href(page.path, other.path), "current": other is page})
    return found


def _in_language(site: Plan, kind: str, id_: str, lang: str) -> Page | None:
    """The page of a leaflet or insert in lang, or in its own language when it has no such translation."""
    return site.pages.get((kind, id_, lang)) or site.pages.get((kind, id_, site.library.get(kind, id_).lang))


def _render_page(project: Project, site: Plan, page: Page, today: date, drawings: dict) -> str:
    item, org = page.item, site.library.org
    if item.kind == LEAFLET:
        ids = [i for i in item.meta.get("inserts", []) if site.library.get(INSERT, i)]
        related = [_in_language(site, INSERT, i, item.lang) for i in ids]
    else:
        ids = [i for i, leaflet in site.library.leaflets.items() if item.id in leaflet.meta.get("inserts", [])]
        related = [_in_language(site, LEAFLET, i, item.lang) for i in sorted(ids)]
    languages = _language_links(site, page)
    downloads = []
    for lang in [item.lang] + [other["lang"] for other in languages if other["lang"] != item.lang]:
        other = site.pages[(item.kind, item.id, lang)]
        downloads.append({"lang": lang, "dir": i18n.direction(lang), "name": language_name(lang),
                          "files": [{"style": style.folder, "href": href(page.path, path)}
                                    for style, path in other.pdfs]})
    context = {
        "org": public_org(org, item.lang),
        "doc": {"lang": item.lang, "dir": i18n.direction(item.lang), "description": item.meta["summary"]},
        "part": render.make_part(item, org, today, first=True, cls=WebPart, page=page.path, drawings=drawings),
        "languages": languages,
        "related": [{"title": r.item.title, "lang": r.item.lang, "dir": i18n.direction(r.item.lang),
                     "href": href(page.path, r.path)} for r in related if r is not None],
        "downloads": downloads,
        "links": _links(page.path),
        "csp": Markup(CSP),  # the project's own constant: its quotes stay quotes
    }
    env = render.environment(project, item.lang)
    return render.render_template(project, env, "site/page.html", context, ", ".join(sorted(context)),
                                  "docs/developing.md")


def _entry(site: Plan, kind: str, id_: str, today: date) -> dict:
    """One leaflet or insert on the home page: in the home page's language when it has it."""
    shown = _in_language(site, kind, id_, site.home_lang)
    langs = site.library.languages(kind, id_)
    items = [site.library.get(kind, id_, lang) for lang in langs]
    search = " ".join([id_] + [f"{i.title} {i.meta['code']}" for i in items])
    return {"title": shown.item.title, "lang": shown.item.lang, "dir": i18n.direction(shown.item.lang),
            "href": href("index.html", shown.path), "code": shown.item.meta["code"],
            "version": shown.item.meta["version"],
            "draft": shown.item.meta["status"] == "draft", "overdue": shown.item.is_overdue(today),
            "search": search.lower(),
            "languages": [{"lang": lang, "dir": i18n.direction(lang), "name": language_name(lang),
                           "href": href("index.html", site.pages[(kind, id_, lang)].path)} for lang in langs]}


def _render_home(project: Project, site: Plan, today: date) -> str:
    library, lang = site.library, site.home_lang
    listed = {i for leaflet in library.leaflets.values() for i in leaflet.meta.get("inserts", [])}
    by_title = lambda entry: (entry["title"].casefold(), entry["href"])  # noqa: E731
    leaflets = []
    for id_ in library.leaflets:
        entry = _entry(site, LEAFLET, id_, today)
        entry["inserts"] = [_entry(site, INSERT, i, today) for i in library.leaflets[id_].meta.get("inserts", [])
                            if i in library.inserts]
        leaflets.append(entry)
    context = {
        "org": public_org(library.org, lang),
        "doc": {"lang": lang, "dir": i18n.direction(lang), "description": ""},
        "leaflets": sorted(leaflets, key=by_title),
        "others": sorted((_entry(site, INSERT, i, today) for i in library.inserts if i not in listed), key=by_title),
        "languages": [],
        "links": _links("index.html", js=True),
        "csp": Markup(CSP),  # the project's own constant: its quotes stay quotes
    }
    env = render.environment(project, lang)
    return render.render_template(project, env, "site/index.html", context, ", ".join(sorted(context)),
                                  "docs/developing.md")


def assets(project: Project) -> dict[str, bytes]:
    """Return the stylesheet (with @font-face rules for the packaged fonts), the script and the fonts."""
    files, rules = {}, []
    for family, path, weights in pdf.font_faces():
        name = re.sub(r"[^A-Za-z0-9._-]", "", path.name)
        files[f"{ASSETS}/fonts/{name}"] = path.read_bytes()
        licence = path.parent.parent / "LICENSE"
        if licence.is_file():
            files[f"{ASSETS}/fonts/{re.sub(r'[^A-Za-z0-9]', '', family)}-LICENSE.txt"] = licence.read_bytes()
        rules.append(f'@font-face {{ font-family: "{family}"; src: url("fonts/{name}") format("truetype"); '
                     f"font-weight: {' '.join(map(str, sorted({min(weights), max(weights)})))}; "
                     "font-style: normal; font-display: swap; }")
    css = (project.styles / "site.css").read_text("utf-8")
    files[f"{ASSETS}/site.css"] = ("\n".join(rules) + "\n\n" + css).encode("utf-8")
    files[f"{ASSETS}/site.js"] = (project.templates / "site" / "site.js").read_bytes()
    return files


# --- check and write ----------------------------------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_marker(out: Path) -> dict[str, str] | None:
    """Return what the last site build wrote (path -> SHA-256), or None when out has no record."""
    try:
        data = json.loads((out / MARKER).read_text("utf-8"))
        files = data["files"]
        if data.get("format") == FORMAT and isinstance(files, dict):
            return {str(k): str(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def check_folder(out: Path, files: dict[str, bytes], pdf_paths: list[str], problems: Problems) -> dict[str, str]:
    """Report anything in out the site would write over that is not its own earlier output.

    The site's own files are those its record (MARKER) lists with the same contents, and PDFs
    the PDF build's manifest lists with the same contents. A file the site would write with
    exactly the bytes it already has is not written over. Return the record's files.
    """
    shown = str(out)
    if out.exists() and not out.is_dir():
        problems.add(shown, None, "is a file, not a folder", "choose another --out folder")
        return {}
    if not out.exists() or not any(out.iterdir()):
        return {}
    previous = read_marker(out)
    if previous is None:
        problems.add(shown, None, "the folder holds files that build.py site did not write (it has no "
                     f"{MARKER})", "choose a new or empty --out folder: the site never writes over other files")
        return {}
    pdf_entries = manifest.read(out / PDF_FOLDER)
    for path in sorted([*files, *pdf_paths]):
        target = out / path
        if not target.exists() and not target.is_symlink():
            continue
        if target.is_symlink() or not target.is_file():
            problems.add(str(target), None, "is not a plain file, and the site would write a page or file there",
                         "move it out of the site's folder")
            continue
        data = target.read_bytes()
        digest = _sha256(data)
        entry = pdf_entries.get(path.removeprefix(f"{PDF_FOLDER}/")) if path.startswith(f"{PDF_FOLDER}/") else None
        own = previous.get(path) == digest or (entry is not None and entry.sha256 == digest) or files.get(path) == data
        if not own:
            problems.add(str(target), None, "was changed or put there after build.py site wrote the folder, and the "
                         "site would write over it", "move your copy out of the site's folder, or delete it")
    return previous


def remove_stale(out: Path, previous: dict[str, str], now: dict[str, str]) -> tuple[list[str], list[str]]:
    """Delete the files an earlier build wrote that this one does not (a deleted leaflet's pages).

    A file changed since the site wrote it is left, with a warning. Return (removed, warnings).
    """
    removed, warnings = [], []
    for path, digest in sorted(previous.items()):
        target = out / path
        if path in now or not target.is_file() or target.is_symlink():
            continue
        if _sha256(target.read_bytes()) != digest:
            warnings.append(f"warning: {target}: left in place: changed since build.py site wrote it, and the site "
                            "no longer makes it — delete it if it is not needed")
            continue
        target.unlink()
        removed.append(path)
        folder = target.parent
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return removed, warnings


def _write(path: Path, data: bytes) -> None:
    try:
        pdf.write_atomic(path, data)
    except OSError as exc:
        raise RenderError([Problem(str(path), None, f"cannot write the file: {exc.strerror}",
                                   "choose another --out folder, or check its permissions and free space")]) from None
