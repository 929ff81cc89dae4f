"""Turn rendered HTML into PDFs with WeasyPrint, reading only the project's own files."""

from __future__ import annotations

import logging
import mimetypes
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import fontpkg
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from .config import Project
from .errors import RenderError

PAPERS = ("a4", "letter")
# Fonts come from Python packages, never from the system, so every machine prints the same.
# Atkinson Hyperlegible was designed with the Braille Institute for low-vision readers.
FONT_FAMILIES = ("Atkinson Hyperlegible",)
POOL_MIN_JOBS = 10
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1", "attachments": None, "presentational_hints": False}


def font_roots() -> list[Path]:
    """Return the package folders holding the fonts the stylesheets may use."""
    return sorted({f.path.resolve().parent for name in FONT_FAMILIES for f in fontpkg.family(name).files})


def font_face_css() -> str:
    """Return @font-face rules pointing at the packaged font files."""
    rules = []
    for name in FONT_FAMILIES:
        for f in fontpkg.family(name).files:
            rules.append(
                f'@font-face {{ font-family: "{name}"; src: url("{f.path.resolve().as_uri()}"); '
                f"font-weight: {f.weight}; font-style: {f.style}; }}")
    return "\n".join(rules)


@lru_cache(maxsize=1)
def font_characters() -> frozenset[int]:
    """Return every character the packaged fonts can draw (the regular face of each family)."""
    from fontTools.ttLib import TTFont

    chars: set[int] = set()
    for name in FONT_FAMILIES:
        for f in fontpkg.family(name).files:
            if f.weight == 400 and f.style == "normal":
                chars.update(TTFont(f.path, lazy=True).getBestCmap())
    return frozenset(chars)


def check_glyphs(shown: str, text: str, problems, first_line: int = 1) -> None:
    """Report characters the fonts cannot draw; WeasyPrint would silently use a system font."""
    have = font_characters()
    seen = set()
    for n, line in enumerate(text.split("\n")):
        for ch in line:
            if ord(ch) not in have and ch not in seen and ch not in "\t\r":
                seen.add(ch)
                problems.add(shown, first_line + n, f"the character '{ch}' (U+{ord(ch):04X}) is not in the leaflet font",
                             "replace it with words or a plain character (e.g. '->' becomes 'then')")


def asset_roots(project: Project) -> list[Path]:
    """Return every folder the renderer may read: leaflets, templates, styles and fonts."""
    return [project.leaflets.resolve(), project.templates.resolve(), project.styles.resolve(), *font_roots()]


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
        raise FatalURLFetchingError(f"refused to read {url}: only the project's own files are allowed")


@dataclass
class Renderer:
    """A FontConfiguration and the stylesheets parsed with it, for one paper size."""

    project: Project
    paper: str
    fetcher: ProjectFetcher = field(init=False)

    def __post_init__(self):
        self.fetcher = ProjectFetcher(asset_roots(self.project))
        self.font_config = FontConfiguration()
        styles = self.project.styles
        base = styles.resolve().as_uri() + "/"
        self.stylesheets = [
            CSS(string=font_face_css(), base_url=base, url_fetcher=self.fetcher, font_config=self.font_config),
            *(CSS(filename=styles / name, base_url=base, url_fetcher=self.fetcher, font_config=self.font_config)
              for name in stylesheet_names(self.paper)),
        ]

    def render(self, html: str) -> "Rendered":
        """Lay out one HTML document and return its PDF bytes, page facts and warnings."""
        base_url = self.project.leaflets.resolve().as_uri() + "/"
        with capture_warnings() as warnings:
            try:
                document = HTML(string=html, base_url=base_url, url_fetcher=self.fetcher).render(
                    font_config=self.font_config, stylesheets=self.stylesheets, **PDF_OPTIONS)
                data = document.write_pdf(**PDF_OPTIONS)
            except FatalURLFetchingError as exc:
                raise RenderError(str(exc)) from None
        return Rendered(data, len(document.pages), first_page_classes(document), warnings)

    def close(self):
        """Delete the fonts WeasyPrint copied to a temporary folder; it only does so when collected."""
        folder = getattr(self.font_config, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            self.font_config._folder = None


def stylesheet_names(paper: str) -> list[str]:
    """Return the stylesheets for a paper size: the shared one, then the paper's own."""
    return ["common.css", f"paper-{paper}.css"]


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    first_page: set  # the HTML classes of every box laid out on page 1
    warnings: list


def first_page_classes(document) -> set:
    """Return the classes of the elements that landed on page 1."""
    classes = set()
    for box in document.pages[0]._page_box.descendants():
        element = getattr(box, "element", None)
        if element is not None and element.get("class"):
            classes.update(element.get("class").split())
    return classes


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def capture_warnings():
    """Collect WeasyPrint's warnings so the build shows them instead of losing them."""
    logger = logging.getLogger("weasyprint")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path so that readers see the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Worker-process state for parallel builds: one Renderer per paper, made on first use.
_WORKER: dict = {}


def _init_worker(root: str, tmpdir: str) -> None:
    # WeasyPrint's font copies go to the run's own temp folder, which the parent deletes
    # after the pool has shut down, even if a worker dies without cleaning up.
    tempfile.tempdir = tmpdir
    _WORKER["project"] = Project(Path(root))


def _render_in_worker(paper: str, html: str) -> Rendered:
    renderers = _WORKER.setdefault("renderers", {})
    if paper not in renderers:
        renderers[paper] = Renderer(_WORKER["project"], paper)
    return renderers[paper].render(html)


def render_all(project: Project, jobs: list[tuple[str, str]], workers: int | None = None) -> list[Rendered]:
    """Render (paper, html) jobs, in parallel processes when there are several."""
    if workers is None:
        # Each worker pays for its own WeasyPrint import and fonts (about 0.5 s). Measured on
        # 2 cores: 8 PDFs took 1.07 s in one process and 1.20 s in two; 20 PDFs took 3.25 s
        # and 2.6 s. So small builds stay in-process.
        workers = 1 if len(jobs) < POOL_MIN_JOBS else min(len(jobs), os.cpu_count() or 1, 4)
    if workers <= 1 or len(jobs) <= 1:
        renderers: dict = {}
        try:
            results = []
            for paper, html in jobs:
                if paper not in renderers:
                    renderers[paper] = Renderer(project, paper)
                results.append(renderers[paper].render(html))
            return results
        finally:
            for r in renderers.values():
                r.close()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    tmpdir = tempfile.mkdtemp(prefix="clearleaf-")
    try:
        # spawn, not fork: a forked Pango/fontconfig state is not safe to share.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker, initargs=(str(project.root), tmpdir)) as pool:
            return list(pool.map(_render_in_worker, *zip(*jobs)))
    except BrokenProcessPool:
        raise RenderError("a render worker stopped unexpectedly (out of memory?); "
                          "run the build again, or build fewer leaflets at once") from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


