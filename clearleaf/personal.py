"""Render personalised handouts in two halves: the patient's page, and the rest, which is cached.

Only page 1 of a personalised handout differs between patients: the masthead, the emergency
signs and the "Your details" box. Everything after the box starts on page 2 and is the same for
every patient given the same leaflet, inserts, language, style and day. So a handout is
rendered as two documents (templates/handout.html, `section`):

- "personal": the first part up to the patient's details, whose footer is told the whole
  handout's page count ("Page 1 of Y");
- "rest": a blank stand-in page for page 1, then everything after the details. The stand-in
  makes its pages count on from 2 and keeps right-hand (recto) inserts on the right side;
  pdf.Renderer cuts it out.

pdfjoin.join then puts the halves together as one tagged PDF. The rest never holds patient details (render.render_html drops the patient for it),
so a RestCache may keep it between patients: in memory (the desk then lays out one page per
request instead of the whole handout), and in the project's `.clearleaf-cache/rest/` folder, so a
handout made from the shell lays out one page too once any handout of the same leaflet, inserts,
language, style and day has been made. Both front ends render the same halves and give the same
bytes. A patient's part longer than a page is rendered whole instead (see render).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Callable

from . import manifest, pdf, pdfjoin
from .config import Project

DISK_KEPT = 64  # rests on disk, newest kept: about 150 KB each


class RestCache:
    """The rendered "rest" halves, newest kept: in memory, and on disk when given a folder.

    Keyed by manifest.key: the HTML, the stylesheets, fonts, pictures and WeasyPrint version, so
    an edited stylesheet is never answered with an old rest. Safe to share between threads. A
    file on disk holds one JSON line (every field of pdf.Rendered but the PDF, and the PDF's
    SHA-256), then the PDF; one that does not match its hash is ignored. A folder that
    cannot be written only means rendering again next time.
    """

    def __init__(self, size: int = 32, folder: Path | None = None):
        self.size, self.folder = size, folder
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(project: Project, style: pdf.Style, html: str) -> str:
        return manifest.key(project, style, html)

    def get(self, key: str) -> pdf.Rendered | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = self._read(key)
                if found is not None:
                    self._remember(key, found)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return found

    def put(self, key: str, rendered: pdf.Rendered) -> None:
        with self._lock:
            self._remember(key, rendered)
            self._write(key, rendered)

    def _remember(self, key: str, rendered: pdf.Rendered) -> None:
        self._items[key] = rendered
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def _read(self, key: str) -> pdf.Rendered | None:
        if self.folder is None:
            return None
        try:
            head, _, data = (self.folder / f"{key}.rest").read_bytes().partition(b"\n")
            facts = json.loads(head)
            if hashlib.sha256(data).hexdigest() != facts["sha256"]:
                return None
            return pdf.Rendered(data, int(facts["pages"]), set(facts["first_page"]), list(facts["warnings"]),
                                tuple(facts["bookmarks"]), tuple(facts["pictures"]),
                                tuple(pdf.Overflow(**o) for o in facts["overflows"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, key: str, rendered: pdf.Rendered) -> None:
        if self.folder is None:
            return
        facts = {"pages": rendered.pages, "first_page": sorted(rendered.first_page), "warnings": rendered.warnings,
                 "bookmarks": list(rendered.bookmarks), "pictures": list(rendered.pictures),
                 "overflows": [vars(o) for o in rendered.overflows], "sha256": hashlib.sha256(rendered.pdf).hexdigest()}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            pdf.write_atomic(self.folder / f"{key}.rest", json.dumps(facts).encode("utf-8") + b"\n" + rendered.pdf)
            kept = sorted(self.folder.glob("*.rest"), key=lambda p: p.stat().st_mtime_ns)
            for old in kept[:-DISK_KEPT]:
                old.unlink(missing_ok=True)
        except OSError:
            pass


def disk_cache(project: Project) -> RestCache:
    """A RestCache kept in the project's .clearleaf-cache/rest/ as well as in memory."""
    return RestCache(folder=project.cache / "rest")


def render(project: Project, style: pdf.Style, html: Callable[..., str], count: int,
           render_all=None, cache: RestCache | None = None, done=None) -> list[pdf.Rendered]:
    """Render count personalised handouts, each as one PDF.

    html(i, section, **numbers) is patient i's handout HTML (render.render_html): section
    "personal" with total_pages, "rest" (i is None: it has no patient) with stand_ins, or None
    for the whole handout. render_all renders (style, html, trim) jobs (pdf.render_all, or a
    desk's warm pool). done(), if given, is called as each patient's page is rendered.

    When the patient's part takes more than one page (a long note, or large print), the rest
    would start on a new page after a mostly empty one, so that handout is rendered whole instead,
    as one document: slower, and laid out as it always was.
    """
    render_all = render_all or pdf.render_all
    cache = cache if cache is not None else RestCache()
    rest_html = html(None, "rest", stand_ins=1)
    key = cache.key(project, style, rest_html)
    rest = cache.get(key)
    if rest is None:
        (rest,) = render_all(project, [(style, rest_html, (1, 0))])
        cache.put(key, rest)
    firsts = render_all(project, [(style, html(i, "personal", total_pages=1 + rest.pages)) for i in range(count)],
                        done=done)
    longer = [i for i, first in enumerate(firsts) if first.pages != 1]
    wholes = dict(zip(longer, render_all(project, [(style, html(i, None)) for i in longer]), strict=True))
    return [wholes[i] if i in wholes else joined(first, rest) for i, first in enumerate(firsts)]


def joined(first: pdf.Rendered, rest: pdf.Rendered) -> pdf.Rendered:
    """One Rendered from the two halves: pages and outline joined, page 1 facts from the first."""
    data = pdfjoin.join(first.pdf, first.bookmarks, rest.pdf, rest.bookmarks)
    warnings = first.warnings + [w for w in rest.warnings if w not in first.warnings]
    pictures = first.pictures + tuple(url for url in rest.pictures if url not in first.pictures)
    # The rest's pages follow the patient's: its page 1 is the handout's page first.pages + 1.
    overflows = first.overflows + tuple(replace(o, page=o.page + first.pages) for o in rest.overflows)
    return pdf.Rendered(data, first.pages + rest.pages, first.first_page, warnings,
                        first.bookmarks + rest.bookmarks, pictures, overflows)
