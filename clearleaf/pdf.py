"""Turn rendered HTML into PDFs with WeasyPrint, reading only the project's own files."""

from __future__ import annotations

import errno
import fcntl
import logging
import mimetypes
import os
import pickle
import re
import shutil
import stat
import sys
import tempfile
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

from . import weasy_compat
from .config import Project
from .errors import Problem, RenderError

PAPERS = ("a4", "letter")
# Fonts come from Python packages, never from the system, so every machine prints the same.
# Atkinson Hyperlegible was designed with the Braille Institute for low-vision readers.
# Noto Sans and IBM Plex Sans Arabic are fallbacks for what Atkinson lacks, such as Vietnamese
# and Arabic patients' names; styles/common.css lists the three in this order.
FONT_FAMILIES = ("Atkinson Hyperlegible", "Noto Sans", "IBM Plex Sans Arabic")
POOL_MIN_JOBS = 10
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1", "attachments": None, "presentational_hints": False}


def font_roots() -> list[Path]:
    """Return the package folders holding the fonts the stylesheets may use."""
    import fontpkg  # here: it reads every installed package's metadata, which a no-op build never needs

    return sorted({f.path.resolve().parent for name in FONT_FAMILIES for f in fontpkg.family(name).files})


def font_faces() -> list[tuple[str, Path, tuple[int, ...]]]:
    """Return (family, file, weights) for every packaged face the stylesheets may use, in order.

    A variable font holds every weight in one file, so it is offered for regular and bold.
    """
    return [(name, f.path.resolve(), (400, 700) if f.variable else (f.weight,))
            for name in FONT_FAMILIES for f in _upright_files(name)]


def font_face_css() -> str:
    """Return @font-face rules pointing at the packaged font files."""
    # WeasyPrint 70 rejects a weight range in @font-face: one rule per weight.
    return "\n".join(f'@font-face {{ font-family: "{name}"; src: url("{path.as_uri()}"); '
                     f"font-weight: {weight}; font-style: normal; }}"
                     for name, path, weights in font_faces() for weight in weights)


def _upright_files(name: str) -> list:
    # Clear print has no italics, and the styles use only regular and bold, so other faces are
    # never offered to the layout.
    import fontpkg

    return [f for f in fontpkg.family(name).files
            if f.style == "normal" and (f.variable or f.weight in (400, 700))]


@lru_cache(maxsize=1)
def font_characters() -> frozenset[int]:
    """Return every character the packaged fonts can draw (the regular face of each family)."""
    from fontTools.ttLib import TTFont

    chars: set[int] = set()
    for name in FONT_FAMILIES:
        for f in _upright_files(name):
            if f.variable or f.weight == 400:
                chars.update(TTFont(f.path, lazy=True).getBestCmap())
    return frozenset(chars)


def asset_roots(project: Project) -> list[Path]:
    """Return every folder the renderer may read: leaflets, templates, styles and fonts."""
    return [project.leaflets.resolve(), project.templates.resolve(), project.styles.resolve(), *font_roots()]


@contextmanager
def refusals_reported(project: Project):
    """Turn a refused fetch into a user error that says where to look and what to do."""
    try:
        yield
    except weasyprint().Refused as exc:
        path, line = _locate(project, exc.url)
        raise RenderError([Problem(
            path, line, f"the renderer refused to read {exc.url}",
            "templates and stylesheets may use only files in leaflets/, templates/ and styles/ "
            "(and the packaged fonts); remove that reference")]) from None


def _locate(project: Project, url: str) -> tuple[str, int | None]:
    """Find the template or stylesheet line that names a refused URL (content is checked earlier)."""
    parts = urlsplit(url)
    needles = [n for n in (url, unquote(parts.path), Path(unquote(parts.path)).name, parts.netloc) if n]
    for folder in (project.templates, project.styles):
        for file in sorted(folder.rglob("*")):
            if not file.is_file():
                continue
            for n, text in enumerate(file.read_text("utf-8", errors="replace").split("\n"), start=1):
                if any(needle in text for needle in needles):
                    return project.rel(file), n
    return "templates/", None


@lru_cache(maxsize=1)
def weasyprint():
    """Import WeasyPrint on first use, with Clearleaf's additions installed (weasy_compat).

    Lazily, because a process that only checks content or serves the desk's forms never lays out
    a page: the desk's server process stays about 60 MB smaller, leaving that to its workers.
    """
    wp = weasy_compat.install()  # first: it refuses a WeasyPrint it was not written for
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

    from urllib.request import url2pathname  # here, not at the top: a no-op build never needs it

    class Refused(FatalURLFetchingError):
        """The fetcher refused a URL; fatal, so WeasyPrint stops instead of printing without it."""

        def __init__(self, url: str):
            super().__init__(url)
            self.url = url

    class ProjectFetcher(URLFetcher):
        """Fetch only data: URLs and files under the asset roots; refuse everything else."""

        def __init__(self, roots: list[Path]):
            super().__init__(allowed_protocols=("file", "data"), fail_on_errors=True)
            self.roots = [Path(r).resolve() for r in roots]

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                parts = urlsplit(url)
                # Resolving after unquoting defeats "%2e%2e" and symlinks that point outside.
                path = Path(url2pathname(unquote(parts.path))).resolve()
                if not parts.netloc and any(path.is_relative_to(r) for r in self.roots) and path.is_file():
                    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
            raise Refused(url)

    return SimpleNamespace(HTML=wp.HTML, CSS=wp.CSS, FontConfiguration=FontConfiguration, Refused=Refused,
                           ProjectFetcher=ProjectFetcher)


def __getattr__(name: str):
    # ProjectFetcher and Refused subclass WeasyPrint's classes, so they exist once it is imported.
    if name in ("ProjectFetcher", "Refused"):
        return getattr(weasyprint(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


VARIANTS = ("standard", "large")
BLEED_RE = re.compile(r"^(\d+(?:\.\d+)?)mm$")
MAX_BLEED_MM = 10


@dataclass(frozen=True)
class Style:
    """How a PDF is laid out: paper size, variant (large print), and print-shop bleed and marks."""

    paper: str
    variant: str = "standard"
    bleed: str | None = None  # e.g. "3mm"
    crop_marks: bool = False

    @property
    def folder(self) -> str:
        """Return the output folder name: a4, a4-large, letter-large-print (bleed or marks)."""
        parts = [self.paper, *(["large"] if self.variant == "large" else []),
                 *(["print"] if self.bleed or self.crop_marks else [])]
        return "-".join(parts)

    def print_shop_css(self) -> str:
        # The paper stays the trim size; WeasyPrint widens the media box and sets TrimBox and BleedBox.
        rules = ([f"bleed: {self.bleed};"] if self.bleed else []) + (["marks: crop;"] if self.crop_marks else [])
        return f"@page {{ {' '.join(rules)} }}" if rules else ""


def check_bleed(value: str | None) -> str | None:
    """Return a problem with a --bleed value, or None: it must be 0 to 10 mm, e.g. 3mm."""
    if value is None:
        return None
    found = BLEED_RE.match(value.strip())
    if not found or float(found.group(1)) > MAX_BLEED_MM:
        return f"--bleed must be a length in mm from 0 to {MAX_BLEED_MM}, e.g. 3mm"
    return None


class Fonts:
    """A FontConfiguration with the project's @font-face rules parsed into it.

    One per process, shared by the Renderer of every style: each FontConfiguration loads its own
    copy of every font (measured: 10 MB less per process for the four styles when shared).
    """

    def __init__(self, project: Project, folder: str | Path | None = None):
        wp = weasyprint()
        self.fetcher = wp.ProjectFetcher(asset_roots(project))
        self.config = wp.FontConfiguration()
        # WeasyPrint copies every @font-face font into a folder of its own in $TMPDIR, made on
        # first use; a process killed before it cleans up would leave them there. So the folder
        # is made here instead, inside a locked TempRun (or a worker pool's, as folder), which
        # the next run sweeps if this one never finishes.
        self.run = TempRun("run") if folder is None else None
        weasy_compat.set_font_folder(self.config,
                                     Path(tempfile.mkdtemp(prefix="weasyprint-", dir=folder or self.run.path)))
        with refusals_reported(project):
            self.css = wp.CSS(string=font_face_css(), base_url=project.styles.resolve().as_uri() + "/",
                              url_fetcher=self.fetcher, font_config=self.config)

    def close(self):
        """Delete the fonts WeasyPrint copied to a temporary folder; it only does so when collected."""
        weasy_compat.delete_font_copies(self.config)
        if self.run is not None:
            self.run.close()
            self.run = None


@dataclass
class Renderer:
    """The stylesheets for one style (paper, variant), parsed with the process's Fonts.

    Without fonts it makes, and on close deletes, its own.
    """

    project: Project
    style: Style
    fonts: Fonts | None = None
    fetcher: object = field(init=False)  # a ProjectFetcher

    def __post_init__(self):
        wp = weasyprint()
        self._own_fonts = self.fonts is None
        if self.fonts is None:
            self.fonts = Fonts(self.project)
        self.fetcher, self.font_config = self.fonts.fetcher, self.fonts.config
        styles = self.project.styles
        base = styles.resolve().as_uri() + "/"
        with refusals_reported(self.project):
            self.stylesheets = [
                self.fonts.css,
                *(wp.CSS(filename=styles / name, base_url=base, url_fetcher=self.fetcher,
                         font_config=self.font_config) for name in stylesheet_names(self.style)),
            ]
            if self.style.print_shop_css():
                self.stylesheets.append(wp.CSS(string=self.style.print_shop_css(), base_url=base,
                                               url_fetcher=self.fetcher, font_config=self.font_config))

    def render(self, html: str, trim: tuple[int, int] = (0, 0)) -> "Rendered":
        """Lay out one HTML document and return its PDF bytes, page facts and warnings.

        trim is how many blank stand-in pages to cut from the start and the end before the PDF is
        written (templates/handout.html makes them for the two halves of a personalised handout).
        """
        base_url = self.project.leaflets.resolve().as_uri() + "/"
        with capture_warnings() as logged, refusals_reported(self.project), fewer_collections():
            document = weasyprint().HTML(string=html, base_url=base_url, url_fetcher=self.fetcher).render(
                font_config=self.font_config, stylesheets=self.stylesheets, **PDF_OPTIONS)
            if trim != (0, 0):
                document = _cut_stand_ins(document, *trim)
            data = document.write_pdf(finisher=finish_tags(page_languages(document)), **PDF_OPTIONS)
        bookmarks = tuple(b[0] for page in document.pages for b in page.bookmarks)
        return Rendered(data, len(document.pages), first_page_classes(document), logged.messages, bookmarks,
                        tuple(logged.pictures), overflowing(document))

    def close(self):
        """Close the fonts if this Renderer made them (a shared Fonts is closed by its owner)."""
        if self._own_fonts:
            self.fonts.close()


COLLECT_AFTER = 100_000  # allocations between the cyclic collector's runs while laying out (Python's: 700)


@contextmanager
def fewer_collections():
    """Run Python's cyclic garbage collector less often for the length of the block.

    Laying out a page makes hundreds of thousands of short-lived objects, nearly all freed as
    soon as they are done with; at Python's default threshold the collector kept scanning the
    live ones, about 5% of the time of each PDF (benchmarks/peers.py), for about 9 MB more.
    """
    import gc

    before = gc.get_threshold()
    gc.set_threshold(COLLECT_AFTER, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def stylesheet_names(style: Style | str) -> list[str]:
    """Return the stylesheets for a style: the shared one, the paper's own, then the variant's."""
    style = as_style(style)
    return ["common.css", f"paper-{style.paper}.css",
            *([f"variant-{style.variant}.css"] if style.variant != "standard" else [])]


def as_style(style: Style | str) -> Style:
    """Accept a bare paper name where a Style is wanted."""
    return style if isinstance(style, Style) else Style(style)


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    first_page: set  # the HTML classes of every box laid out on page 1
    warnings: list
    bookmarks: tuple = ()  # the level of each of the PDF's outline entries, in order
    pictures: tuple = ()   # the URL of each picture that could not be drawn (an error: see builder)
    overflows: tuple = ()  # Overflow: text or pictures outside their box or the page (an error: see builder)


@dataclass(frozen=True)
class Overflow:
    """Text or a picture drawn outside its box or the page's text area: cut off, or over its neighbour."""

    page: int      # 1-based
    where: str     # the class of the nearest element that has one, e.g. "callout-danger"; never its text
    part: str      # the footer of the part (leaflet or insert) it is in, which names its code
    points: float  # how far past the edge
    edge: str      # "the page's text area" or "its box"
    side: str = "right"


OVERFLOW_TOLERANCE = 0.5  # points: rounding in the layout, never a visible overflow
POINTS_PER_MM = 72 / 25.4


def overflowing(document) -> tuple[Overflow, ...]:
    """Return where text or pictures run past the page's text area (either side), or past the
    right edge of their own line box in left-to-right text (a table cell, a callout).

    Right-to-left lines are checked against the page only: there a line's trailing space may
    sit outside it, unseen. List markers sit outside their box by design.
    """
    from weasyprint.formatting_structure import boxes

    found: dict = {}

    def walk(box, page: int, left: float, right: float, where: str, part: str, line) -> None:
        if isinstance(box, boxes.MarginBox):
            return  # the running footer, drawn in the page margin on purpose
        element = getattr(box, "element", None)
        if element is not None and element.get("class") and not str(getattr(box, "element_tag", "")).endswith("marker"):
            where = element.get("class").split()[-1]
            if element.tag == "article":
                part = element.get("data-footer") or part
        if isinstance(box, boxes.LineBox):
            line = box
        marker = str(getattr(box, "element_tag", "")).endswith("marker")
        drawn = isinstance(box, boxes.ReplacedBox) or (isinstance(box, boxes.TextBox) and box.text.strip())
        if drawn and not marker:
            start = box.border_box_x()
            end = start + box.border_width()
            past = None
            if end > right + OVERFLOW_TOLERANCE:
                past = (end - right, "the page's text area", "right")
            elif start < left - OVERFLOW_TOLERANCE:
                past = (left - start, "the page's text area", "left")
            elif line is not None and line.style["direction"] == "ltr" and \
                    end > line.position_x + line.width + OVERFLOW_TOLERANCE:
                past = (end - line.position_x - line.width, "its box", "right")
            if past is not None:
                key = (page, where, past[1], past[2])
                if key not in found or found[key].points < past[0]:
                    found[key] = Overflow(page, where, part, round(past[0], 1), past[1], past[2])
        for child in getattr(box, "children", ()):
            walk(child, page, left, right, where, part, line)

    for number, page in enumerate(document.pages, 1):
        page_box = weasy_compat.page_box(page)
        left = page_box.content_box_x()
        walk(page_box, number, left, left + page_box.width, "the page", "", None)
    return tuple(found.values())


def _cut_stand_ins(document, first: int, last: int):
    """Return the document without its first and last stand-in pages, checking they hold nothing else."""
    pages = document.pages
    if first + last >= len(pages):
        raise RenderError(f"a handout half has {len(pages)} pages, not more than the {first + last} stand-ins")
    for page in pages[:first] + pages[len(pages) - last:]:
        for box in weasy_compat.page_boxes(page):
            element = getattr(box, "element", None)
            if element is not None and element.tag not in ("html", "body") and \
                    "stand-in" not in (element.get("class") or "").split():
                raise RenderError(f"the handout's layout put <{element.tag}> on a stand-in page; "
                                  "check templates/handout.html and the .stand-in styles")
    return document.copy(pages[first:len(pages) - last])


def first_page_classes(document) -> set:
    """Return the classes of the elements that landed on page 1."""
    classes = set()
    for box in weasy_compat.page_boxes(document.pages[0]):
        element = getattr(box, "element", None)
        if element is not None and element.get("class"):
            classes.update(element.get("class").split())
    return classes


def page_languages(document) -> list[str | None]:
    """Return, for each page, the lang of the leaflet or insert laid out on it."""
    langs = []
    for page in document.pages:
        lang = None
        for box in weasy_compat.page_boxes(page):
            element = getattr(box, "element", None)
            if element is not None and element.tag == "article" and element.get("lang"):
                lang = element.get("lang")
                break
        langs.append(lang)
    return langs


def tag_part_languages(langs: list[str | None]):
    """Return a WeasyPrint finisher that gives each part's tags its own /Lang.

    PDF/UA-1 (7.2) wants a change of language marked in the tag tree so a screen reader switches
    voice; WeasyPrint 70 only sets the catalog's /Lang. Its tree has one top-level element per
    page of each part, so the page tells which part, and so which language, it belongs to.
    """
    import pydyf

    def finisher(document, pdf):
        # pydyf references are bytes such as b"12 0 R".
        pages = {bytes(ref): n for n, ref in enumerate(pdf.page_references)}
        by_ref = {obj.reference: obj for obj in pdf.objects if isinstance(obj, pydyf.Dictionary)}
        for obj in by_ref.values():
            if obj.get("S") == "/Document":
                for ref in obj["K"]:
                    element = by_ref.get(ref)
                    page = pages.get(element.get("Pg")) if element is not None else None
                    if page is not None and langs[page]:
                        element["Lang"] = pydyf.String(langs[page])
    return finisher


def finish_tags(langs: list[str | None]):
    """Return the WeasyPrint finisher that completes the tag tree before the PDF is written."""
    languages = tag_part_languages(langs)

    def finisher(document, pdf):
        languages(document, pdf)
        artifact_page_furniture(document, pdf)
    return finisher


def artifact_page_furniture(document, pdf) -> None:
    """Mark the running footer, page numbers and page-top marks as /Artifact (PDF/UA-1 7.1, 7.8).

    WeasyPrint 70 tags margin-box text as /Span content under a /NonStruct that it leaves out of
    the tree (it holds artifacts in the tree to be PDF 2.0 only), so screen readers can neither
    reach it nor skip it cleanly. Re-mark that content as pagination artifacts and drop it from
    the ParentTree.
    """
    import pydyf

    objects = {obj.reference: obj for obj in pdf.objects if getattr(obj, "number", None) is not None}
    document_elem = next((o for o in objects.values()
                          if isinstance(o, pydyf.Dictionary) and o.get("S") == "/Document"), None)
    if document_elem is None:
        return
    in_tree = set(document_elem["K"])
    orphans = [o for o in objects.values() if isinstance(o, pydyf.Dictionary) and o.get("Type") == "/StructElem"
               and o.get("P") == document_elem.reference and o.reference not in in_tree]
    furniture: dict = {}  # page reference -> MCIDs
    stack = list(orphans)
    while stack:
        element = stack.pop()
        for kid in element.get("K", []):
            if isinstance(kid, int):
                furniture.setdefault(element.get("Pg"), set()).add(kid)
            elif kid in objects and isinstance(objects[kid], pydyf.Dictionary):
                stack.append(objects[kid])
    if not furniture:
        return
    root = next(o for o in objects.values() if isinstance(o, pydyf.Dictionary)
                and o.get("Type") == "/StructTreeRoot")
    parent_tree = objects[root["ParentTree"]]
    for number, page_ref in enumerate(pdf.page_references):
        mcids = furniture.get(page_ref)
        if not mcids:
            continue
        page = objects[page_ref]
        stream = objects[page["Contents"]].stream
        for i in range(1, len(stream) - 1):
            item = stream[i]
            if isinstance(item, pydyf.Dictionary) and item.get("MCID") in mcids and stream[i + 1] == b"BDC":
                stream[i - 1] = "/Artifact"
                stream[i] = pydyf.Dictionary({"Type": "/Pagination"})
        refs = parent_tree["Nums"][2 * number + 1]
        for mcid in mcids:
            refs[mcid] = "null"


# WeasyPrint logs a picture it cannot draw and prints the page without it. These messages
# (weasyprint/images.py, html.py) name the picture's URL as their first argument.
PICTURE_FAILURES = ("Failed to load image at %r: %s", "Failed to render SVG image %s", "Failed to load inline SVG: %s")


class _Collect(logging.Handler):
    """WeasyPrint's warnings, and apart from them the pictures it could not draw."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.pictures: list[str] = []

    def emit(self, record):
        if record.msg in PICTURE_FAILURES:
            url = str(record.args[0]) if record.args and record.msg != PICTURE_FAILURES[2] else "inline SVG"
            if url not in self.pictures:
                self.pictures.append(url)
        else:
            self.messages.append(record.getMessage())


@contextmanager
def capture_warnings():
    """Collect WeasyPrint's warnings so the build shows them instead of losing them, and the
    pictures it could not draw (.pictures), which the caller turns into errors."""
    logger = logging.getLogger("weasyprint")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class NotARegularFile(OSError):
    """The path names a device, a pipe or a socket: never something to replace with a file."""

    def __init__(self, path):
        super().__init__(errno.EINVAL, "it is not a regular file (a device, a pipe or a socket)", str(path))


def existing(path: Path) -> str | None:
    """Return what is at path: None (nothing yet), "file", "folder" or "other" (a device, a pipe).

    Raise OSError when the path cannot be looked at: a folder in it is a file (NotADirectoryError),
    its name is too long, or a folder may not be read.
    """
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(found.st_mode):
        return "file"
    return "folder" if stat.S_ISDIR(found.st_mode) else "other"


def write_atomic(path: Path, data: bytes, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write data to path so that readers see the old file or the whole new one, never half.

    Personalised handouts pass mode 0o600: they carry patient details. With overwrite False an
    existing file is never replaced (FileExistsError), even one that appears while writing: the
    finished file is linked into place, which fails if the name is taken. A folder, a device
    (/dev/full) or a pipe at path is never replaced (IsADirectoryError, NotARegularFile).
    Raise OSError when it cannot be written; nothing is left behind then.
    """
    kind = existing(path)
    if kind == "folder":
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if kind == "other":
        raise NotARegularFile(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_parts(path.parent)
    # Named with our pid and locked while it is written, so that sweep_parts can tell one left
    # by a killed writer from one being written now.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.clearleaf-{os.getpid()}-", suffix=".part")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PART_RE = re.compile(r"^\.(?P<name>.+)\.clearleaf-(?P<pid>\d+)-[A-Za-z0-9_]+\.part$")
# Before the pid was in the name: tempfile.mkstemp's eight characters, after one of our files.
OLD_PART_RE = re.compile(r"^\..+\.(?:pdf|eml|json|txt)\.[a-z0-9_]{8}\.part$")
STALE_SECONDS = 60  # older than any write takes: a temp file or folder this old with no owner is left over
_SWEPT: set = set()


def sweep_parts(folder: Path) -> list[Path]:
    """Delete the .part files a killed write_atomic left in folder (once per folder and process).

    Only our own names, and only orphans: a .part whose writer still holds its lock is being
    written now, and one whose writer's process is alive is kept until it is old (its lock is
    taken just after the file is made). Return what was deleted.
    """
    key = str(folder.resolve())
    if key in _SWEPT:
        return []
    _SWEPT.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        ours = PART_RE.match(entry.name)
        if not (ours or OLD_PART_RE.match(entry.name)) or not entry.is_file(follow_symlinks=False):
            continue
        # A name from before the pid was in it is judged by its age alone.
        if _may_be_left_over(entry, int(ours.group("pid")) if ours else None):
            with _lock_if_free(entry.path) as free:
                if free:  # else its writer is writing it
                    Path(entry.path).unlink(missing_ok=True)
                    removed.append(Path(entry.path))
    return removed


def _may_be_left_over(entry: os.DirEntry, pid: int | None) -> bool:
    """Whether a temp file or folder may be left over: its process (if known) is gone, or it is
    older than any write or run takes to get its lock. Its lock decides (_lock_if_free)."""
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return age >= STALE_SECONDS or (pid is not None and not _pid_alive(pid))


@contextmanager
def _lock_if_free(path: str, missing_is_free: bool = False):
    """Yield True while holding path's lock, if no other process holds it; else False.

    A lock file that cannot be opened counts as held, or, with missing_is_free, as free when it
    does not exist (a run killed before it made its lock).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        yield missing_is_free
        return
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


RUN_RE = re.compile(r"^(?:run|workers|desk)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


class TempRun:
    """A temp folder for one run's own files (WeasyPrint's font copies), locked while it is used.

    Every run's folder is in one place, $TMPDIR/clearleaf-<uid>/. A run killed before it could
    delete its folder leaves it unlocked, and the next TempRun made anywhere deletes it (sweep).
    """

    def __init__(self, kind: str = "run"):
        parent = Path(tempfile.gettempdir()) / f"clearleaf-{os.getuid()}"
        sweep_runs(parent)
        for attempt in range(3):
            try:
                parent.mkdir(mode=0o700, exist_ok=True)
                if parent.is_symlink() or parent.stat().st_uid != os.getuid():
                    raise PermissionError(errno.EPERM, "not our own folder", str(parent))
                self.path = Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=parent))
                break
            except FileNotFoundError:  # another run swept the parent away between the two steps
                if attempt == 2:
                    raise
        lock = os.open(self.path / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Also on garbage collection and at exit, for a TempRun whose owner never closed it.
        self._remove = weakref.finalize(self, _remove_run, self.path, lock)

    def close(self) -> None:
        """Delete the folder and everything in it, and the shared parent when it is left empty."""
        self._remove()


def _remove_run(path: Path, lock: int) -> None:
    shutil.rmtree(path, ignore_errors=True)
    os.close(lock)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # another run's folder is in it


def sweep_runs(parent: Path) -> list[Path]:
    """Delete the folders of runs that were killed: unlocked, and their process gone or the folder old."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    for entry in entries:
        found = RUN_RE.match(entry.name)
        if not found or not entry.is_dir(follow_symlinks=False):
            continue
        # A live run's folder is kept while it is being made; after that its lock says it is in use.
        if _may_be_left_over(entry, int(found.group("pid"))):
            with _lock_if_free(os.path.join(entry.path, ".lock"), missing_is_free=True) as free:
                if free:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed.append(Path(entry.path))
    return removed


# Worker-process state for parallel builds: one Renderer per style, made on first use.
_WORKER: dict = {}


def _init_worker(root: str, tmpdir: str) -> None:
    # WeasyPrint's font copies go to the pool's own temp folder (a TempRun), which the parent
    # deletes after the pool has shut down, or the next run sweeps if the parent was killed.
    tempfile.tempdir = tmpdir
    _WORKER["project"] = Project(Path(root))
    _WORKER["tmpdir"] = tmpdir


def _worker_renderer(style: Style) -> "Renderer":
    """This worker's Renderer for style, made on first use with the worker's one Fonts."""
    renderers = _WORKER.setdefault("renderers", {})
    if style not in renderers:
        if "fonts" not in _WORKER:  # deleted with the run's temp folder (see _init_worker)
            _WORKER["fonts"] = Fonts(_WORKER["project"], _WORKER["tmpdir"])
        renderers[style] = Renderer(_WORKER["project"], style, _WORKER["fonts"])
    return renderers[style]


def _render_in_worker(style: Style, html: str, trim: tuple[int, int] = (0, 0)) -> Rendered:
    return _worker_renderer(style).render(html, trim)


def as_jobs(jobs) -> list[tuple]:
    """Normalise (style, html) or (style, html, trim) jobs to (Style, html, trim)."""
    return [(as_style(job[0]), job[1], tuple(job[2]) if len(job) > 2 else (0, 0)) for job in jobs]


WARM_UP_HTML = ("<!doctype html><html lang='en'><body><h1>Warm up</h1><p>Atkinson <b>bold</b> "
                "Ελληνικά Кириллица Tiếng Việt <span lang='ar' dir='rtl'>العربية</span></p></body></html>")


def _init_warm_worker(root: str, tmpdir: str, styles: tuple, parent: int) -> None:
    """Start a long-lived worker: load the fonts and stylesheets of every style, and lay out once."""
    _die_with_parent(parent)
    _init_worker(root, tmpdir)
    for style in styles:
        _render_in_worker(style, WARM_UP_HTML)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to stop this worker when the process that started it dies, however it dies.

    A parent killed while this worker was still starting (importing, before this runs) is gone
    already and would never send the signal: then stop now.
    """
    import signal

    # Ctrl+C reaches the whole process group; the parent decides what stops (a batch finishes the
    # handout it is writing), and stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the pool still stops its workers on a clean shutdown
    if os.getppid() != parent:
        os._exit(1)


def _ready() -> int:
    return os.getpid()


class WarmPool:
    """Worker processes that keep one Renderer per style warm, for a server.

    A request then pays only for layout: never for imports, fonts or parsing the stylesheets.
    Processes, not threads: WeasyPrint and Pango are not safe to share between threads.
    """

    def __init__(self, project: Project, workers: int = 2, styles=None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        weasy_compat.check_version()  # here, not as a broken pool of workers that each failed on it
        styles = tuple(styles or (Style(p, v) for p in PAPERS for v in VARIANTS))
        self.temp = TempRun("desk")
        self.tmpdir = str(self.temp.path)
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_warm_worker,
                                        initargs=(str(project.root), self.tmpdir, styles, os.getpid()))
        # One task per worker starts them all now, so the first request finds them warm.
        self.pids = sorted({f.result() for f in [self.pool.submit(_ready) for _ in range(workers)]})

    def render_all(self, project: Project, jobs: list[tuple], done=None) -> list[Rendered]:
        """Render (style, html[, trim]) jobs on the warm workers; the same signature as render_all."""
        from concurrent.futures.process import BrokenProcessPool

        jobs = as_jobs(jobs)
        try:
            return _counted(self.pool.map(_render_in_worker, *zip(*jobs)), done)
        except BrokenProcessPool:
            raise RenderError("a render worker stopped unexpectedly (out of memory?); restart the desk") from None

    def close(self) -> None:
        """Stop the workers and delete their font copies."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.temp.close()


def pool_workers(jobs: int) -> int:
    """How many render processes a build of this many PDFs gets (BuildPool); 0 renders in this process.

    One per core this process may use, up to four: the main process only makes the HTML and
    writes the files. A small build stays in this process: a pool costs about half a second
    before its first PDF.
    """
    try:
        cores = len(os.sched_getaffinity(0))  # what this process may use, which a container may limit
    except AttributeError:
        cores = os.cpu_count() or 1
    if jobs < POOL_MIN_JOBS or cores < 2:
        return 0
    return min(jobs, cores, 4)


BROKEN_WORKER = ("a render worker stopped unexpectedly (out of memory?); run the build again, or build fewer "
                 "leaflets at once")


class BuildPool:
    """Render processes for one build: the first started afresh, the others forked from it once warm.

    Start it as early as possible (builder.build does so before it loads the content when it
    expects to render): the first worker imports WeasyPrint and loads the fonts and each style's
    stylesheets while the main process reads the Markdown and makes the HTML. Then it forks the
    others, which start warm and share its memory, so that the import and the fonts are paid for
    once, not once a process. render_all hands the jobs out one at a time, longest first, to
    whichever worker is free.

    Processes, not threads: WeasyPrint and Pango are not safe to share between threads. The
    first worker is spawned, not forked from the main process, which may hold threads and
    locks; it forks only while it has a single thread and no job in hand (WeasyPrint, Pango and
    fontconfig start none), and the PDFs are byte-identical either way (tests/test_pdf.py).
    """

    def __init__(self, project: Project, workers: int, styles=()):
        import subprocess
        from multiprocessing import Pipe

        weasy_compat.check_version()  # here, not as a broken pool of workers that each failed on it
        self.temp = TempRun("workers")
        self.tmpdir = str(self.temp.path)
        pipes = [Pipe() for _ in range(max(1, workers))]
        self.conns = [mine for mine, _ in pipes]
        theirs = [their.fileno() for _, their in pipes]
        # A plain interpreter that imports only clearleaf.pdf: multiprocessing's spawn would also
        # run this program's own script again (build.py: its setup checks and the whole CLI),
        # about 0.12 s before the worker could start on WeasyPrint.
        self.ready: dict = {}  # each worker's pid by its connection, once it has said it is ready
        try:
            self.seed = subprocess.Popen(
                [sys.executable, "-c", SEED_MAIN, str(Path(__file__).resolve().parent.parent), str(project.root),
                 self.tmpdir, str(os.getpid()), *map(str, theirs)], pass_fds=theirs, stdin=subprocess.DEVNULL)
        except OSError:
            self.temp.close()
            raise RenderError(f"cannot start a render worker ({sys.executable}); run the build again") from None
        finally:
            for _, their in pipes:
                their.close()
        try:
            self.conns[0].send(tuple(styles))
        except OSError:  # it stopped as it started
            self.close()
            raise RenderError(BROKEN_WORKER) from None

    def __enter__(self) -> "BuildPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Every worker's pid, once all of them are ready (waiting for them if need be)."""
        from multiprocessing.connection import wait

        while len(self.ready) < len(self.conns):
            for conn in wait([c for c in self.conns if c not in self.ready]):
                self._ready(conn, self._receive(conn))
        return sorted(self.ready.values())

    def render_all(self, jobs, done=None) -> list[Rendered]:
        """Render (style, html[, trim]) jobs on the workers; results in the jobs' order.

        The longest documents go first, so the last to finish are short ones and no worker is
        left with a long one while the others wait. After a job fails, no more are handed out;
        those in hand are let finish, then its error is raised.
        """
        from multiprocessing.connection import wait

        jobs = as_jobs(jobs)
        results: list = [None] * len(jobs)
        pending = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][1]))
        busy: dict = {}  # the job index each worker has in hand, by its connection
        failed = None

        def give(conn) -> None:
            if failed is None and pending:
                i = pending.pop(0)
                try:
                    conn.send(jobs[i])
                except OSError:
                    raise RenderError(BROKEN_WORKER) from None
                busy[conn] = i

        for conn in self.ready:
            give(conn)
        while busy or (failed is None and pending):
            for conn in wait([*busy, *(c for c in self.conns if c not in self.ready)]):
                message = self._receive(conn)
                if conn not in self.ready:
                    self._ready(conn, message)
                else:
                    i = busy.pop(conn)
                    ok, got = message
                    if not ok:
                        failed = failed or got
                        continue
                    results[i] = got
                    if done:
                        done()
                give(conn)
        if failed is not None:
            raise failed
        return results

    @staticmethod
    def _receive(conn):
        try:
            return conn.recv()
        except (EOFError, OSError):
            raise RenderError(BROKEN_WORKER) from None

    def _ready(self, conn, message) -> None:
        kind, pid = message
        if kind != "ready":
            raise RenderError(BROKEN_WORKER)
        self.ready[conn] = pid

    def close(self) -> None:
        """Stop the workers and delete every copy of the fonts.

        A worker finishes the job in hand first. A first worker still warming up (a build that
        found nothing to render) is stopped at once: it has forked nothing yet.
        """
        if not self.ready and not self.conns[0].poll():
            self.seed.kill()
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
        self.seed.wait()
        self.temp.close()


SEED_MAIN = "import sys; sys.path.insert(0, sys.argv[1]); from clearleaf.pdf import _seed_main; _seed_main()"


def _seed_main() -> None:
    """The first worker of a BuildPool (python -c SEED_MAIN code-folder project tmpdir parent fd...)."""
    from multiprocessing.connection import Connection

    root, tmpdir, parent, *fds = sys.argv[2:]
    _die_with_parent(int(parent))
    conns = [Connection(int(fd)) for fd in fds]
    try:
        styles = conns[0].recv()
    except (EOFError, OSError):
        return
    _seed_worker(root, tmpdir, styles, conns)
    sys.stderr.flush()
    os._exit(0)  # its forked workers are gone: nothing is left to clean up but a large heap


def _seed_worker(root: str, tmpdir: str, styles: tuple, conns: list) -> None:
    """Warm up, fork one worker per connection after the first, then serve the first."""
    import gc

    _init_worker(root, tmpdir)
    failed = None
    try:
        weasyprint()
        for style in styles:
            _worker_renderer(style)
    except Exception as exc:  # noqa: BLE001  the answer to every job, raised in the main process
        failed = exc
    # What is loaded by now lives as long as the process: keep the collector off it, so that the
    # forked workers share those pages instead of each copying them as the collector marks them.
    gc.collect()
    gc.freeze()
    children = []
    for conn in conns[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                _die_with_parent(os.getppid())
                for other in conns:
                    if other is not conn:
                        other.close()
                _serve(conn, failed)
            finally:
                os._exit(0)  # never back into the first worker's code, nor its exit handlers
        children.append(pid)
        conn.close()
    _serve(conns[0], failed)
    for pid in children:
        os.waitpid(pid, 0)


def _serve(conn, failed: BaseException | None) -> None:
    """Say this worker is ready, then render each job it is sent until it is sent None."""
    try:
        conn.send(("ready", os.getpid()))
        while (job := conn.recv()) is not None:
            try:
                if failed is not None:
                    raise failed
                answer = (True, _render_in_worker(*job))
            except Exception as exc:  # noqa: BLE001  raised in the main process
                answer = (False, exc)
            try:
                conn.send(answer)
            except (pickle.PicklingError, TypeError, AttributeError, ValueError):  # an error pickle cannot take
                conn.send((False, RenderError(f"{type(answer[1]).__name__}: {answer[1]}")))
    except (EOFError, OSError):
        pass  # the main process has gone, or closed its end: so does this worker
    finally:
        conn.close()


def render_all(project: Project, jobs: list[tuple[str, str]], workers: int | None = None,
               done=None, pool: BuildPool | None = None) -> list[Rendered]:
    """Render (style, html[, trim]) jobs: on pool if given, else in a pool of worker processes
    and this one when there are many, else here.

    trim cuts stand-in pages, as Renderer.render does. done(), if given, is called as each job
    finishes (for a progress bar). workers: how many worker processes (default pool_workers).
    """
    jobs = as_jobs(jobs)
    if not jobs:
        return []
    if pool is not None:
        return pool.render_all(jobs, done)
    workers = pool_workers(len(jobs)) if workers is None else workers
    if workers <= 0 or len(jobs) <= 1:
        with InProcess(project) as here:
            return here.render(jobs, done)
    with BuildPool(project, workers, sorted({style for style, _, _ in jobs}, key=str)) as started:
        return started.render_all(jobs, done)


def _counted(results, done) -> list[Rendered]:
    """Collect results as they arrive, calling done() for each."""
    found = []
    for result in results:
        found.append(result)
        if done:
            done()
    return found


class InProcess:
    """Renders in this process for the length of a `with` block, keeping its fonts and stylesheets.

    Its render_all has render_all's signature, so several calls (the two halves of a
    personalised handout) load the fonts once; a batch of POOL_MIN_JOBS or more still goes to a
    process pool.
    """

    def __init__(self, project: Project):
        self.project = project
        self.fonts: Fonts | None = None
        self.renderers: dict = {}

    def __enter__(self) -> "InProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def render(self, jobs, done=None) -> list[Rendered]:
        """Render (style, html[, trim]) jobs here, one after another; done() after each."""
        results = []
        for style, html, trim in as_jobs(jobs):
            if style not in self.renderers:
                if self.fonts is None:
                    self.fonts = Fonts(self.project)
                self.renderers[style] = Renderer(self.project, style, self.fonts)
            results.append(self.renderers[style].render(html, trim))
            if done:
                done()
        return results

    def render_all(self, project: Project, jobs, done=None) -> list[Rendered]:
        if len(jobs) >= POOL_MIN_JOBS:
            return render_all(project, jobs, done=done)
        return self.render(jobs, done)

    def close(self) -> None:
        """Delete the fonts WeasyPrint copied to a temporary folder."""
        if self.fonts is not None:
            self.fonts.close()
            self.fonts = None
        self.renderers.clear()
