"""Incremental builds: a manifest of what shaped each catalogue PDF, so an unchanged one is not rendered again.

`<out>/.clearleaf-manifest.json` holds, for each PDF a build wrote (by its path under out):

- `key`: a SHA-256 of everything that shapes it: the rendered HTML, the style's stylesheets, the
  fonts (their files), the project files the HTML refers to (pictures), the WeasyPrint version,
  Clearleaf's own code and the style options (paper, variant, bleed, crop marks);
- `sha256` of the PDF written, so a PDF changed or damaged since is made again;
- `pages`, for the report; and `sources`, the leaflet files it was made from, so a PDF whose
  source has been deleted can be reported (and removed with --prune).

A missing, unreadable or foreign manifest means a full build, never a wrong one. It is written
atomically, after the PDFs.

It also remembers the last few whole runs (`runs`, by their options): a fingerprint of every
input file (`inputs`), the PDFs the run left and its warnings. A rebuild with the same options,
on the same day, with no input changed, nothing else written since and every PDF still the one
written, is answered from that record (`replay`) without loading the content, making any HTML
or importing the renderer: a no-op build costs the file hashing, not the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import pdf
from .config import Project

NAME = ".clearleaf-manifest.json"
FORMAT = 1
# Where the HTML names a project file: src="images/x.svg", url(images/x.png).
REFERENCE_RE = re.compile(r"""(?:src|href)="([^"#?]+)"|url\(['"]?([^'")]+)['"]?\)""")


@dataclass
class Entry:
    key: str
    sha256: str
    pages: int
    sources: list[str] = field(default_factory=list)


RUNS_KEPT = 8  # whole runs remembered: every paper, a paper alone, a combined handout, ...
# What a build reads besides the Python packages (whose versions are in `_environment`).
INPUT_FOLDERS = ("leaflets", "templates", "styles", "locales")


def read(out: Path) -> dict[str, Entry]:
    """The manifest's entries, or {} when there is none or it cannot be trusted."""
    return _read(out)[0]


def _read(out: Path) -> tuple[dict[str, Entry], dict]:
    """The entries and the remembered runs, or ({}, {}) when the manifest cannot be trusted."""
    try:
        data = json.loads((out / NAME).read_text("utf-8"))
        if data.get("format") != FORMAT:
            return {}, {}
        entries = {path: Entry(e["key"], e["sha256"], int(e["pages"]), list(e.get("sources", [])))
                   for path, e in data["pdfs"].items()}
        runs = data.get("runs", {})
        return entries, runs if isinstance(runs, dict) else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}, {}


def write(out: Path, entries: dict[str, Entry], run: Run | None = None) -> None:
    """Write the manifest; run, if given, is the build that made it, remembered for `replay`."""
    # A run can only be replayed while the entries are as it left them: forget the others.
    now = _entries_hash(entries)
    runs = {options: r for options, r in _read(out)[1].items() if isinstance(r, dict) and r.get("entries") == now}
    if run is not None:
        runs.pop(run.options, None)
        runs[run.options] = {"inputs": run.inputs, "entries": now,
                             "outputs": [[relative, entries[relative].pages] for relative in run.outputs],
                             "warnings": run.warnings}
        runs = dict(list(runs.items())[-RUNS_KEPT:])  # oldest first: json keeps the order
    data = {"format": FORMAT, "pdfs": {path: vars(entries[path]) for path in sorted(entries)}, "runs": runs}
    pdf.write_atomic(out / NAME, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def _entries_hash(entries: dict[str, Entry]) -> str:
    plain = {path: vars(entries[path]) for path in sorted(entries)}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass
class Run:
    """A whole build, as `replay` needs to recognise and report it again."""

    options: str  # run_options(...)
    inputs: str  # inputs(project), taken before the build read anything
    outputs: list[str] = field(default_factory=list)  # the PDFs it made or kept, under out
    warnings: list[str] = field(default_factory=list)


@dataclass
class Output:
    """A PDF of a replayed build: what the report says about it (as builder.Job does)."""

    path: Path
    pages: int
    reused: bool = True


@dataclass
class Replayed:
    """A build answered from the manifest: the same report, nothing rendered or written."""

    jobs: list[Output]
    warnings: list[str]
    removed: list[Path] = field(default_factory=list)


def run_options(ids, papers, inserts, allow_overdue: bool, today: date, variants, bleed, crop_marks: bool,
                langs, prune: bool) -> str:
    """The options that decide what a build makes, as one string. The day is one: it decides
    which leaflets are overdue and what the pages say."""
    return json.dumps([list(ids or []), list(papers), list(inserts), bool(allow_overdue), today.isoformat(),
                       list(variants), bleed, bool(crop_marks), list(langs) if langs else None, bool(prune)])


def inputs(project: Project) -> str:
    """A SHA-256 of every file a build reads: the project's leaflets, pictures, org.yaml,
    templates, stylesheets and catalogues, Clearleaf's own code, and the versions of Python and of
    every installed package (WeasyPrint, the fonts, the Markdown parser, ...)."""
    digest = hashlib.sha256()
    digest.update(_environment().encode("utf-8"))
    for label, root in [*((name, project.root / name) for name in INPUT_FOLDERS),
                        ("code", Path(__file__).resolve().parent)]:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = Path(folder, name)
                try:
                    data = path.read_bytes()
                except OSError:
                    data = b"(unreadable)"
                relative = path.relative_to(root).as_posix()
                digest.update(f"{label}/{relative}:{len(data)}:".encode("utf-8", "surrogateescape"))
                digest.update(data)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _environment() -> str:
    """Python's version and every installed distribution with its version (from the names of
    their metadata folders: listing a folder, not importing anything)."""
    found = [sys.version]
    for entry in sys.path:
        try:
            found += sorted(name for name in os.listdir(entry or ".") if name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return "\n".join(found)


def replay(project: Project, out: Path, options: str, fingerprint: str | None = None) -> Replayed | None:
    """The report of the last build with these options, when running it again would change
    nothing: no input changed, the manifest is as that build left it, and every PDF it made is
    still the one it wrote. None otherwise (then build normally). fingerprint is inputs(project),
    when the caller has taken it already."""
    out = Path(out)
    entries, runs = _read(out)
    run = runs.get(options)
    try:
        if (not isinstance(run, dict) or run["entries"] != _entries_hash(entries)
                or run["inputs"] != (fingerprint or inputs(project))):
            return None
        jobs = []
        for relative, pages in run["outputs"]:
            entry = entries.get(relative)
            if entry is None or file_hash(out / relative) != entry.sha256:
                return None
            jobs.append(Output(out / relative, int(pages)))
        return Replayed(jobs, [str(w) for w in run["warnings"]])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unchanged(out: Path, relative: str, entry: Entry | None, key: str) -> bool:
    """Whether the PDF on disk is the one this key made."""
    if entry is None or entry.key != key:
        return False
    try:
        return file_hash(out / relative) == entry.sha256
    except OSError:
        return False


def key(project: Project, style: pdf.Style, html: str) -> str:
    """The SHA-256 of everything that shapes the PDF of html in style."""
    digest = hashlib.sha256()

    def add(label: str, value: bytes | str) -> None:
        data = value.encode("utf-8") if isinstance(value, str) else value
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    add("format", str(FORMAT))
    add("weasyprint", _weasyprint_version())
    add("code", _code())
    add("style", repr((style.paper, style.variant, style.bleed, style.crop_marks)))
    for name in pdf.stylesheet_names(style):
        add(f"css {name}", (project.styles / name).read_bytes())
    add("print shop", style.print_shop_css() or "")
    add("fonts", _fonts())
    add("html", html)
    for path in _referenced(project, html):
        add(f"file {project.rel(path)}", path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def _referenced(project: Project, html: str) -> list[Path]:
    """The project files the HTML refers to by a relative address (data: and web addresses aside)."""
    found = set()
    for match in REFERENCE_RE.finditer(html):
        ref = match.group(1) or match.group(2)
        parts = urlsplit(ref)
        if parts.scheme or ref.startswith(("#", "//")):
            continue
        found.add((project.leaflets / unquote(parts.path)).resolve())
    return sorted(found)


@lru_cache(maxsize=1)
def _code() -> str:
    """A hash of Clearleaf's own code: a new version may lay pages out differently."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _weasyprint_version() -> str:
    from importlib.metadata import version  # not an import of WeasyPrint: a no-op rebuild stays fast

    return version("weasyprint")


@lru_cache(maxsize=1)
def _fonts() -> str:
    """The @font-face rules and a hash of every font file they name."""
    lines = [pdf.font_face_css()]
    for root in pdf.font_roots():
        for path in sorted(root.glob("*.[ot]tf")):
            lines.append(f"{path.name} {file_hash(path)}")
    return "\n".join(lines)
