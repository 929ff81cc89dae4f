"""Reading a built website (clearleaf/site.py) as files: its pages, and every address they use.

Shared by tests/test_site.py (the fixture set) and tests/test_site_browser.py (the real leaflets).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html

# An <a href> may leave the site only to call, to mail, or for a link the leaflet's own text makes.
LEAVING = ("tel:", "mailto:", "https:")


def parse(path: Path):
    return lxml.html.fromstring(path.read_bytes())


def html_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def addresses(doc) -> list[tuple[str, str, str]]:
    """Every (tag, attribute, address) in a page that a browser follows or loads."""
    return [(element.tag, attr, element.get(attr)) for element in doc.iter() for attr in ("href", "src")
            if element.get(attr) is not None]


def local_target(page: Path, address: str) -> Path | None:
    """The file a relative address names from page (both relative to the site folder), or None
    when the address leaves the site."""
    parts = urlsplit(address)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return Path(posixpath.normpath(posixpath.join(page.parent.as_posix(), unquote(parts.path))))


def broken_links(out: Path) -> tuple[list[str], int]:
    """Check every address of every page: relative, inside the site, and naming a file (or an
    element, for #fragment). Return (what is wrong, how many local addresses were checked)."""
    wrong, checked = [], 0
    root = out.resolve()
    for page in html_files(out):
        relative = page.relative_to(out)
        doc = parse(page)
        ids = {e.get("id") for e in doc.iter() if e.get("id")}
        for tag, attr, address in addresses(doc):
            if address.startswith("#"):
                if address[1:] not in ids:
                    wrong.append(f"{relative}: {address} names no element")
                continue
            if tag == "a" and address.startswith(LEAVING):
                continue
            target = local_target(relative, address)
            if target is None or address.startswith("/"):
                wrong.append(f"{relative}: <{tag} {attr}={address!r}> is not a relative link")
                continue
            checked += 1
            if not (out / target).is_file() or root not in (out / target).resolve().parents:
                wrong.append(f"{relative}: <{tag} {attr}={address!r}> is missing")
    return wrong, checked
