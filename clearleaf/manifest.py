"""Incremental builds: a manifest of what shaped each catalogue PDF, so an unchanged one is not rendered again.

`<out>/.clearleaf-manifest.json` holds, for each PDF a build wrote (by its path under out):

- `key`: a SHA-256 of everything that shapes it: the rendered HTML, the style's stylesheets, the
  fonts (their files), the project files the HTML refers to (pictures), the WeasyPrint version
  and the style options (paper, variant, bleed, crop marks);
- `sha256` of the PDF written, so a PDF changed or damaged since is made again;
- `pages`, for the report; and `sources`, the leaflet files it was made from, so a PDF whose
  source has been deleted can be reported (and removed with --prune).

A missing, unreadable or foreign manifest means a full build, never a wrong one. It is written
atomically, after the PDFs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
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


def read(out: Path) -> dict[str, Entry]:
    """The manifest's entries, or {} when there is none or it cannot be trusted."""
    try:
        data = json.loads((out / NAME).read_text("utf-8"))
        if data.get("format") != FORMAT:
            return {}
        return {path: Entry(e["key"], e["sha256"], int(e["pages"]), list(e.get("sources", [])))
                for path, e in data["pdfs"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write(out: Path, entries: dict[str, Entry]) -> None:
    data = {"format": FORMAT, "pdfs": {path: vars(entries[path]) for path in sorted(entries)}}
    pdf.write_atomic(out / NAME, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


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
