"""A small PDF/UA-1 checker for the PDFs Clearleaf makes.

It is not veraPDF: it checks the rules a tagged leaflet most often breaks, by walking the
structure tree with pikepdf and mapping every marked-content id (MCID) back to the text the page
shows. From the command line:

    python tests/pdfua.py dist/a4/dvt.pdf ...

prints each problem as `file: rule: page N: what is wrong` and exits 1 if there are any. From
tests: `check(path)` returns a list of `Problem`s (`check_pdf(pdf)` for an open pikepdf.Pdf), and
`analyse(pdf)` gives the structure tree, each element's text, what a screen reader would read
(`structure_text()`, figures as their /Alt) and each page's marked content.

Rules (the rule name starts every problem; numbers are clauses of ISO 14289-1, PDF/UA-1):
  metadata        catalog /Lang, /MarkInfo /Marked, /ViewerPreferences /DisplayDocTitle, docinfo
                  /Title, XMP dc:title (matching the /Title) and pdfuaid:part=1 (5, 7.1, 7.2)
  lang            a /Lang on a structure element is empty or malformed (7.2)
  structure       the tree itself: unknown types without a /RoleMap, a kid whose /P is not its
                  parent, an element reached twice (7.1)
  headings        the first heading is not H1, a level is skipped (H2 then H4), an empty heading (7.4)
  lists           /LI outside /L, /L without /LI, /LI holding something other than /Lbl and /LBody,
                  a bullet shown as content outside /Lbl (7.6)
  tables          /TR outside a table, /TH or /TD outside /TR (7.5)
  figures         a /Figure without /Alt, or whose /Alt is a file name (7.3)
  untagged        something painted outside both /Artifact and MCID-marked content (7.1)
  mcid            an MCID used twice on a page, an MCID no element of the tree references, one that
                  several elements reference, an element that references an MCID the page does not
                  have, a /ParentTree entry that does not point back at the element (7.1; ISO
                  32000-1 14.7.4.4)
  furniture       page furniture (the footer, "Page N of M", the DRAFT mark) that is real content
                  instead of an /Artifact (7.1, 7.8)
  reading-order   the structure tree reads its text in another order than the pages show it
                  (bullets and figures aside: WeasyPrint draws them after the text around them)
  fonts           a font not embedded, without /ToUnicode, a CIDFontType2 without /CIDToGIDMap, or a
                  glyph with no Unicode value (7.21)
  annotations     an annotation without /StructParent or not in the tree, a link without
                  /Contents, a page with annotations and no /Tabs /S (7.18)
  attachments     embedded files (Clearleaf never embeds any)
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

# Page furniture Clearleaf draws in the page margin boxes (styles/common.css, templates/part.html,
# clearleaf/render.py): "Page N of M", the footer line "Org · CODE · Version V · Review by DATE",
# and the marks at the top of the page. None of it may be real content.
FURNITURE = (
    re.compile(r"\bPage \d+ of \d+\b"),
    re.compile(r"· Version \S+ · Review by "),
    re.compile(r"DRAFT – not for patient use"),
    re.compile(r"^Review overdue$"),
)

# PDF 1.7 (ISO 32000-1, 14.8.4) standard structure types; anything else needs a /RoleMap.
STANDARD_TYPES = frozenset(
    {
        "Document",
        "Part",
        "Art",
        "Sect",
        "Div",
        "BlockQuote",
        "Caption",
        "TOC",
        "TOCI",
        "Index",
        "NonStruct",
        "Private",
        "P",
        "H",
        "H1",
        "H2",
        "H3",
        "H4",
        "H5",
        "H6",
        "L",
        "LI",
        "Lbl",
        "LBody",
        "Table",
        "TR",
        "TH",
        "TD",
        "THead",
        "TBody",
        "TFoot",
        "Span",
        "Quote",
        "Note",
        "Reference",
        "BibEntry",
        "Code",
        "Link",
        "Annot",
        "Ruby",
        "RB",
        "RT",
        "RP",
        "Warichu",
        "WT",
        "WP",
        "Figure",
        "Formula",
        "Form",
    }
)
LIST_ITEM_KIDS = frozenset({"Lbl", "LBody"})
TABLE_ROW_PARENTS = frozenset({"Table", "THead", "TBody", "TFoot"})
BULLETS = frozenset("•◦▪▫■□●○‣⁃–—-*·")
IMAGE_FILE = re.compile(r"^\S*\.(svg|png|jpe?g|gif|webp|bmp|tiff?)$", re.IGNORECASE)
NO_ALT = frozenset({"image", "img", "picture", "figure", "graphic", "photo", "unknown", "alt", "untitled"})
LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
PAINT_OPS = frozenset(
    {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "Tj", "TJ", "'", '"', "INLINE IMAGE", "BI"}
)
TEXT_OPS = frozenset({"Tj", "TJ", "'", '"'})
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdfuaid": "http://www.aiim.org/pdfua/ns/id/",
}


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    page: int | None = None  # 1-based
    mcid: int | None = None
    text: str = ""  # the text concerned, if any (heading, footer line...)

    def __str__(self) -> str:
        where = f"page {self.page}: " if self.page else ""
        return f"{self.rule}: {where}{self.message}"


def norm(text: str) -> str:
    """Collapse whitespace, so text that wrapped across lines still matches."""
    return " ".join(text.split())


def _short(text: str, n: int = 60) -> str:
    text = norm(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _key(obj) -> tuple:
    """A stable identity for a PDF object: its object number if indirect."""
    return obj.objgen if obj.is_indirect else ("direct", id(obj))


# --- Fonts: turning shown strings back into Unicode --------------------------------------------


class Font:
    """Decode the strings a font shows through its /ToUnicode CMap."""

    def __init__(self, font: pikepdf.Dictionary):
        self.name = str(font.get("/BaseFont", "?"))
        self.widths = [2] if font.get("/Subtype") == "/Type0" else [1]
        self.map: dict[bytes, str] = {}
        self.has_tounicode = "/ToUnicode" in font and isinstance(font.ToUnicode, pikepdf.Stream)
        self.missing: set[bytes] = set()
        if self.has_tounicode:
            self._parse(font.ToUnicode.read_bytes().decode("latin-1"))
        self.fallback = None if self.has_tounicode or self.widths == [2] else "latin-1"

    def _parse(self, cmap: str) -> None:
        widths = set()
        for block in re.findall(r"begincodespacerange(.*?)endcodespacerange", cmap, re.DOTALL):
            for lo, _hi in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                widths.add(len(lo) // 2)
        if widths:
            self.widths = sorted(widths, reverse=True)
        for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
            for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
                self.map[bytes.fromhex(src)] = _utf16(dst)
        for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
            for lo, hi, dst in re.findall(
                r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])", block
            ):
                size, start, end = len(lo) // 2, int(lo, 16), int(hi, 16)
                if dst.startswith("["):
                    for n, item in enumerate(re.findall(r"<([0-9A-Fa-f]*)>", dst)):
                        self.map[(start + n).to_bytes(size, "big")] = _utf16(item)
                else:
                    first = bytes.fromhex(dst[1:-1])
                    for n in range(end - start + 1):
                        # The last byte counts up through the range.
                        value = first[:-1] + bytes([(first[-1] + n) & 0xFF]) if first else b""
                        self.map[(start + n).to_bytes(size, "big")] = _utf16(value.hex())

    def decode(self, data: bytes) -> str:
        if self.fallback:
            return data.decode(self.fallback)
        out, i = [], 0
        while i < len(data):
            for w in self.widths:
                code = data[i : i + w]
                if code in self.map:
                    out.append(self.map[code])
                    break
            else:
                w = self.widths[-1] if len(self.widths) == 1 else self.widths[0]
                self.missing.add(data[i : i + w])
            i += w
        return "".join(out)


def _utf16(hexdigits: str) -> str:
    try:
        return bytes.fromhex(hexdigits).decode("utf-16-be")
    except (ValueError, UnicodeDecodeError):
        return "\ufffd"


# --- Page content: marked content, MCIDs and the text they show --------------------------------


@dataclass
class Marked:
    """One MCID-marked sequence of content on a page (or in a form XObject with /StructParents)."""

    key: tuple  # (owner objgen, mcid)
    page: int  # 1-based
    mcid: int
    tag: str
    text: str = ""
    actual: bool = False  # the text came from the sequence's /ActualText (what a screen reader says)


@dataclass
class PageContent:
    number: int  # 1-based
    marked: list[Marked] = field(default_factory=list)
    artifact_text: list[str] = field(default_factory=list)
    untagged: list[str] = field(default_factory=list)  # what was painted outside marked content
    duplicates: list[int] = field(default_factory=list)


class _ContentReader:
    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.fonts: dict[tuple, Font] = {}
        # What MCIDs belong to: each page, and each form XObject with its own /StructParents.
        self.owners: dict[tuple, pikepdf.Object] = {_key(p.obj): p.obj for p in pdf.pages}

    def font(self, resources, name) -> Font | None:
        fonts = resources.get("/Font") if resources is not None else None
        obj = fonts.get(name) if isinstance(fonts, pikepdf.Dictionary) else None
        if obj is None:
            return None
        k = _key(obj)
        if k not in self.fonts:
            self.fonts[k] = Font(obj)
        return self.fonts[k]

    def read_page(self, number: int, page: pikepdf.Page) -> tuple[PageContent, dict]:
        content = PageContent(number)
        by_key: dict[tuple, Marked] = {}
        self._read(
            page.obj, page.obj.get("/Resources"), _key(page.obj), number, [], content, by_key, set(), None
        )
        return content, by_key

    def _read(self, stream, resources, owner, number, stack, content, by_key, active, font):
        """Walk one content stream. stack holds, per open marked-content sequence, None for
        plain marked content, "artifact", or the Marked it opened. font is the current font (a
        form XObject starts with its caller's graphics state)."""
        saved: list = []  # the font is part of the graphics state: q saves it, Q restores it
        seen_here: set[int] = set()
        for operands, op in pikepdf.parse_content_stream(stream):
            op = str(op)
            if op == "q":
                saved.append(font)
            elif op == "Q":
                font = saved.pop() if saved else font
            elif op in ("BDC", "BMC"):
                tag = str(operands[0])
                props = operands[1] if op == "BDC" and len(operands) > 1 else None
                if isinstance(props, pikepdf.Name):  # a named property list in /Properties
                    named = resources.get("/Properties", {}) if resources is not None else {}
                    props = named.get(props)
                if tag == "/Artifact":
                    stack.append("artifact")
                elif isinstance(props, pikepdf.Dictionary) and "/MCID" in props:
                    mcid = int(props.MCID)
                    if mcid in seen_here:
                        content.duplicates.append(mcid)
                    seen_here.add(mcid)
                    item = Marked((owner, mcid), number, mcid, tag[1:])
                    if "/ActualText" in props:
                        # PDF/UA-1 7.2: /ActualText replaces the glyphs' text for assistive technology.
                        item.text, item.actual = str(props.ActualText), True
                    content.marked.append(item)
                    by_key.setdefault(item.key, item)
                    stack.append(item)
                else:
                    stack.append(None)
            elif op == "EMC":
                if stack:
                    stack.pop()
            elif op == "Tf":
                font = self.font(resources, operands[0])
            elif op in PAINT_OPS or op == "Do":
                artifact = "artifact" in stack
                marked = next((m for m in reversed(stack) if isinstance(m, Marked)), None)
                text = ""
                if op in TEXT_OPS:
                    text = self._text(font, operands)
                elif op == "Do":
                    xobj = resources.get("/XObject", {}).get(operands[0]) if resources is not None else None
                    if xobj is None:
                        continue
                    if xobj.get("/Subtype") == "/Form":
                        if _key(xobj) in active:
                            continue
                        inner_owner = owner
                        if "/StructParents" in xobj:
                            inner_owner = _key(xobj)
                            self.owners[inner_owner] = xobj
                        self._read(
                            xobj,
                            xobj.get("/Resources", resources),
                            inner_owner,
                            number,
                            stack,
                            content,
                            by_key,
                            active | {_key(xobj)},
                            font,
                        )
                        continue
                if artifact:
                    if text:
                        content.artifact_text.append(text)
                elif marked is not None:
                    if not marked.actual:
                        marked.text += text
                else:
                    content.untagged.append(text or {"Do": "an image", "sh": "a shading"}.get(op, "a path"))

    @staticmethod
    def _text(font: Font | None, operands) -> str:
        last = operands[-1] if len(operands) else b""
        strings = last if isinstance(last, pikepdf.Array) else [last]
        parts = []
        for s in strings:
            if isinstance(s, pikepdf.String):
                data = bytes(s)
                parts.append(font.decode(data) if font else data.decode("latin-1"))
        return "".join(parts)


# --- The structure tree ------------------------------------------------------------------------


@dataclass
class Element:
    """One structure element, in depth-first (logical) order."""

    obj: pikepdf.Dictionary
    type: str  # role-mapped to a standard type when the /RoleMap says so
    raw_type: str
    depth: int
    parent: int | None  # index into Tagged.elements
    order: list = field(default_factory=list)  # ("mcid", key) / ("elem", index) / ("objr", annot key)
    page: int | None = None  # 1-based page of its /Pg

    @property
    def kids(self) -> list[int]:
        return [v for k, v in self.order if k == "elem"]

    @property
    def mcids(self) -> list[tuple]:
        return [v for k, v in self.order if k == "mcid"]


@dataclass
class Tagged:
    """What analyse() finds: the structure tree, and each page's marked content."""

    pdf: pikepdf.Pdf
    elements: list[Element]
    pages: list[PageContent]
    marked: dict[tuple, Marked]  # every MCID-marked sequence, by (owner, mcid)
    owners: dict[tuple, pikepdf.Object]  # the pages and forms those owners are
    refs: dict[tuple, list[int]]  # which elements reference each (owner, mcid)
    annots: dict[tuple, list[int]]  # which elements reference each annotation (OBJR)
    fonts: dict[tuple, Font]
    problems: list[Problem]  # found while walking (structure rule)

    def text(self, index: int, replacements: tuple = ()) -> str:
        """The text of an element and everything under it, in logical order; an element with
        one of the replacement entries (e.g. /Alt) reads as that entry instead."""
        obj = self.elements[index].obj
        for replacement in replacements:
            if replacement in obj:
                return norm(str(obj[replacement]))
        parts = []
        for kind, value in self.elements[index].order:
            if kind == "mcid":
                m = self.marked.get(value)
                if m is not None:
                    parts.append(m.text)
            elif kind == "elem":
                parts.append(self.text(value, replacements))
        return norm(" ".join(parts))

    def spoken(self, index: int) -> str:
        """What a screen reader says for an element: its /ActualText or /Alt if it has one, else
        its content, with the same rule applied to everything under it."""
        return self.text(index, ("/ActualText", "/Alt"))

    def logical_keys(self, skip=("Lbl", "Figure", "Formula")) -> list[tuple]:
        """Every MCID the tree references, in depth-first order, leaving out skipped types."""
        keys: list[tuple] = []

        def walk(i):
            if self.elements[i].type in skip:
                return
            for kind, value in self.elements[i].order:
                if kind == "mcid":
                    keys.append(value)
                elif kind == "elem":
                    walk(value)

        for i, e in enumerate(self.elements):
            if e.parent is None:
                walk(i)
        return keys

    def structure_text(self) -> str:
        """The text a screen reader walking the tree would read: bullets included, and each
        figure's /Alt instead of whatever it draws."""
        return norm(" ".join(self.spoken(i) for i, e in enumerate(self.elements) if e.parent is None))

    def headings(self) -> list[tuple[str, str]]:
        return [(e.type, self.text(i)) for i, e in enumerate(self.elements) if _heading_level(e.type)]

    def of_type(self, type_: str) -> list[int]:
        return [i for i, e in enumerate(self.elements) if e.type == type_]


def _heading_level(type_: str) -> int | None:
    m = re.fullmatch(r"H([1-6])", type_)
    return int(m.group(1)) if m else None


def _kids(k) -> list:
    if k is None:
        return []
    return list(k) if isinstance(k, pikepdf.Array) else [k]


def _number_tree(node, out: dict, depth: int = 0) -> dict:
    if depth > 32 or not isinstance(node, pikepdf.Dictionary):
        return out
    nums = node.get("/Nums")
    if isinstance(nums, pikepdf.Array):
        for i in range(0, len(nums) - 1, 2):
            out[int(nums[i])] = nums[i + 1]
    for kid in _kids(node.get("/Kids")):
        _number_tree(kid, out, depth + 1)
    return out


def analyse(pdf: pikepdf.Pdf) -> Tagged:
    """Read every page's marked content and walk the structure tree."""
    reader = _ContentReader(pdf)
    page_numbers = {_key(p.obj): n for n, p in enumerate(pdf.pages, 1)}
    pages, marked = [], {}
    for n, page in enumerate(pdf.pages, 1):
        content, by_key = reader.read_page(n, page)
        pages.append(content)
        for k, v in by_key.items():
            marked.setdefault(k, v)

    problems: list[Problem] = []
    elements: list[Element] = []
    refs: dict[tuple, list[int]] = {}
    annots: dict[tuple, list[int]] = {}
    root = pdf.Root.get("/StructTreeRoot")
    rolemap = root.get("/RoleMap", {}) if isinstance(root, pikepdf.Dictionary) else {}
    seen: set = set()

    def role(raw: str) -> str:
        name, hops = raw, 0
        while name not in STANDARD_TYPES and f"/{name}" in rolemap and hops < 10:
            name, hops = str(rolemap[f"/{name}"])[1:], hops + 1
        return name

    def visit(obj, parent: int | None, parent_obj, depth: int, pg):
        k = _key(obj)
        if k in seen:
            problems.append(
                Problem("structure", f"element /{obj.get('/S', '?')} is reached twice in the tree")
            )
            return
        seen.add(k)
        raw = str(obj.get("/S", "/?"))[1:]
        pg = obj.get("/Pg", pg)
        index = len(elements)
        page = page_numbers.get(_key(pg)) if pg is not None else None
        element = Element(obj, role(raw), raw, depth, parent, page=page)
        elements.append(element)
        if parent_obj is not None:
            p = obj.get("/P")
            if p is None or _key(p) != _key(parent_obj):
                problems.append(
                    Problem(
                        "structure",
                        f"/{raw} is a kid of /{str(parent_obj.get('/S'))[1:]} but its /P points elsewhere",
                        element.page,
                    )
                )
        for kid in _kids(obj.get("/K")):
            if isinstance(kid, (int, pikepdf.Object)) and not isinstance(kid, pikepdf.Dictionary):
                try:
                    mcid = int(kid)
                except (TypeError, ValueError):
                    continue
                if pg is None:
                    problems.append(Problem("structure", f"/{raw} has MCID {mcid} but no /Pg"))
                    continue
                key = (_key(pg), mcid)
                element.order.append(("mcid", key))
                refs.setdefault(key, []).append(index)
            elif kid.get("/Type") == "/MCR":
                owner = kid.get("/Stm") or kid.get("/Pg", pg)
                if owner is None:
                    problems.append(
                        Problem("structure", f"/{raw} has a marked-content reference with no /Pg")
                    )
                    continue
                key = (_key(owner), int(kid.MCID))
                element.order.append(("mcid", key))
                refs.setdefault(key, []).append(index)
            elif kid.get("/Type") == "/OBJR":
                if "/Obj" in kid:
                    akey = _key(kid.Obj)
                    element.order.append(("objr", akey))
                    annots.setdefault(akey, []).append(index)
            elif "/S" in kid:
                element.order.append(("elem", len(elements)))
                visit(kid, index, obj, depth + 1, pg)

    if isinstance(root, pikepdf.Dictionary):
        for top in _kids(root.get("/K")):
            if isinstance(top, pikepdf.Dictionary) and "/S" in top:
                p = top.get("/P")
                if p is None or _key(p) != _key(root):
                    problems.append(
                        Problem(
                            "structure",
                            f"/{str(top.S)[1:]} is a kid of the StructTreeRoot but its /P points elsewhere",
                        )
                    )
                visit(top, None, None, 0, None)
    return Tagged(pdf, elements, pages, marked, reader.owners, refs, annots, reader.fonts, problems)


# --- The rules ---------------------------------------------------------------------------------


def check(source) -> list[Problem]:
    """Check one PDF (a path, bytes or an open pikepdf.Pdf) and return its problems."""
    if isinstance(source, pikepdf.Pdf):
        return check_pdf(source)
    if isinstance(source, (bytes, bytearray)):
        import io

        source = io.BytesIO(source)
    with pikepdf.open(source) as pdf:
        return check_pdf(pdf)


def check_pdf(pdf: pikepdf.Pdf, tagged: Tagged | None = None) -> list[Problem]:
    """Check an open PDF; pass analyse(pdf) as tagged if you already have it."""
    problems = check_metadata(pdf)
    if "/StructTreeRoot" not in pdf.Root:
        problems.append(Problem("structure", "the PDF is not tagged: the catalog has no /StructTreeRoot"))
        return problems + check_fonts(pdf, {}) + check_attachments(pdf)
    tagged = tagged or analyse(pdf)
    problems += tagged.problems
    for rule in (
        check_types,
        check_lang,
        check_headings,
        check_lists,
        check_tables,
        check_figures,
        check_untagged,
        check_mcids,
        check_furniture,
        check_reading_order,
        check_annotations,
    ):
        problems += rule(tagged)
    problems += check_fonts(pdf, tagged.fonts)
    problems += check_attachments(pdf)
    return problems


def check_metadata(pdf: pikepdf.Pdf) -> list[Problem]:
    out = []
    root = pdf.Root
    lang = str(root.get("/Lang", "")).strip()
    if not lang:
        out.append(Problem("metadata", "the catalog has no /Lang (the document's language)"))
    elif not LANG.match(lang):
        out.append(Problem("metadata", f"the catalog /Lang {lang!r} is not a language tag"))
    mark = root.get("/MarkInfo")
    if not isinstance(mark, pikepdf.Dictionary) or mark.get("/Marked") is not True:
        out.append(Problem("metadata", "the catalog has no /MarkInfo << /Marked true >>"))
    elif mark.get("/Suspects") is True:
        out.append(Problem("metadata", "/MarkInfo /Suspects is true"))
    prefs = root.get("/ViewerPreferences")
    if not isinstance(prefs, pikepdf.Dictionary) or prefs.get("/DisplayDocTitle") is not True:
        out.append(
            Problem(
                "metadata",
                "/ViewerPreferences /DisplayDocTitle is not true "
                "(viewers would show the file name, not the title)",
            )
        )
    title = str(pdf.docinfo.get("/Title", "")).strip() if pdf.trailer.get("/Info") is not None else ""
    if not title:
        out.append(Problem("metadata", "the document information has no /Title"))
    xmp = root.get("/Metadata")
    if not isinstance(xmp, pikepdf.Stream):
        out.append(Problem("metadata", "the catalog has no XMP /Metadata stream"))
        return out
    try:
        tree = ET.fromstring(xmp.read_bytes())
    except ET.ParseError as exc:
        out.append(Problem("metadata", f"the XMP metadata is not well-formed XML: {exc}"))
        return out
    titles = [li.text for li in tree.iterfind(".//dc:title//rdf:li", NS) if (li.text or "").strip()]
    if not titles:
        out.append(Problem("metadata", "the XMP metadata has no dc:title"))
    elif title and norm(titles[0]) != norm(title):
        out.append(Problem("metadata", f"XMP dc:title {titles[0]!r} differs from the /Title {title!r}"))
    part_attr = f"{{{NS['pdfuaid']}}}part"
    parts = [d.get(part_attr) for d in tree.iter() if d.get(part_attr) is not None]
    parts += [e.text for e in tree.iterfind(".//pdfuaid:part", NS)]
    if not any((p or "").strip() == "1" for p in parts):
        out.append(Problem("metadata", "the XMP metadata has no pdfuaid:part=1 (PDF/UA identification)"))
    return out


def check_types(t: Tagged) -> list[Problem]:
    return [
        Problem(
            "structure", f"/{e.raw_type} is not a standard structure type and has no /RoleMap entry", e.page
        )
        for e in t.elements
        if e.type not in STANDARD_TYPES
    ]


def check_lang(t: Tagged) -> list[Problem]:
    out = []
    for e in t.elements:
        if "/Lang" in e.obj:
            lang = str(e.obj.Lang).strip()
            if not lang or not LANG.match(lang):
                out.append(Problem("lang", f"/{e.type} has /Lang {lang!r}, not a language tag", e.page))
    return out


def check_headings(t: Tagged) -> list[Problem]:
    out = []
    previous = None  # (level, text)
    for i, e in enumerate(t.elements):
        level = _heading_level(e.type)
        if level is None:
            continue
        text = t.text(i)
        if not text:
            out.append(Problem("headings", f"an empty /{e.type}", e.page))
        if previous is None and level != 1:
            out.append(
                Problem("headings", f"the first heading {text!r} is H{level}, not H1", e.page, text=text)
            )
        elif previous is not None and level > previous[0] + 1:
            out.append(
                Problem(
                    "headings",
                    f"{text!r} (H{level}) follows {previous[1]!r} (H{previous[0]}): skips H{previous[0] + 1}",
                    e.page,
                    text=text,
                )
            )
        previous = (level, text)
    return out


def check_lists(t: Tagged) -> list[Problem]:
    out = []
    for i, e in enumerate(t.elements):
        parent = t.elements[e.parent].type if e.parent is not None else None
        if e.type == "LI" and parent != "L":
            out.append(Problem("lists", f"/LI {_short(t.text(i))!r} is inside /{parent}, not /L", e.page))
        if e.type in LIST_ITEM_KIDS and parent != "LI":
            out.append(
                Problem("lists", f"/{e.type} {_short(t.text(i))!r} is inside /{parent}, not /LI", e.page)
            )
        if e.type == "L":
            kinds = {t.elements[k].type for k in e.kids}
            if "LI" not in kinds:
                out.append(Problem("lists", f"/L {_short(t.text(i))!r} holds no /LI", e.page))
            for other in sorted(kinds - {"LI", "L", "Caption"}):
                out.append(
                    Problem("lists", f"/L holds /{other}; a list holds only /LI (and /Caption)", e.page)
                )
        if e.type == "LI":
            kinds = [t.elements[k].type for k in e.kids]
            if e.mcids or not kinds:
                out.append(
                    Problem(
                        "lists",
                        f"/LI {_short(t.text(i))!r} holds content directly, not in /Lbl and /LBody",
                        e.page,
                    )
                )
            for other in sorted(set(kinds) - LIST_ITEM_KIDS):
                out.append(
                    Problem("lists", f"/LI {_short(t.text(i))!r} holds /{other}, not /Lbl or /LBody", e.page)
                )
    # A bullet shown as content must be a label: read out as "bullet" inside the item, not as text.
    in_lbl = set()
    for i, e in enumerate(t.elements):
        if e.type == "Lbl" or (e.parent is not None and e.parent in in_lbl):
            in_lbl.add(i)
    for key, holders in t.refs.items():
        m = t.marked.get(key)
        if m is None or not m.text.strip() or not set(m.text.strip()) <= BULLETS:
            continue
        if not any(h in in_lbl for h in holders):
            out.append(
                Problem(
                    "lists",
                    f"the bullet {m.text.strip()!r} (MCID {m.mcid}) is tagged as "
                    f"/{t.elements[holders[0]].type}, not /Lbl or an artifact",
                    m.page,
                    m.mcid,
                    m.text,
                )
            )
    return out


def check_tables(t: Tagged) -> list[Problem]:
    out = []
    for e in t.elements:
        parent = t.elements[e.parent].type if e.parent is not None else None
        if e.type == "TR" and parent not in TABLE_ROW_PARENTS:
            out.append(Problem("tables", f"/TR is inside /{parent}, not a table", e.page))
        if e.type in ("TH", "TD") and parent != "TR":
            out.append(Problem("tables", f"/{e.type} is inside /{parent}, not /TR", e.page))
    return out


def check_figures(t: Tagged) -> list[Problem]:
    out = []
    for e in t.elements:
        if e.type != "Figure":
            continue
        alt = norm(str(e.obj.get("/Alt", "")))
        if not alt:
            out.append(Problem("figures", "a /Figure has no /Alt text", e.page))
        elif (
            IMAGE_FILE.match(alt)
            or alt.lower() in NO_ALT
            or alt.startswith(("data:", "http:", "https:", "file:"))
        ):
            out.append(
                Problem("figures", f"a /Figure's /Alt is {alt!r}, not a description", e.page, text=alt)
            )
    return out


def check_untagged(t: Tagged) -> list[Problem]:
    out = []
    for page in t.pages:
        if page.untagged:
            texts = [
                norm(x) for x in page.untagged if x not in ("a path", "an image", "a shading") and norm(x)
            ]
            what = f"text {_short(' '.join(texts))!r}" if texts else page.untagged[0]
            out.append(
                Problem(
                    "untagged",
                    f"{len(page.untagged)} painting operation(s) outside both /Artifact "
                    f"and tagged content, e.g. {what}",
                    page.number,
                )
            )
    return out


def check_mcids(t: Tagged) -> list[Problem]:
    out = []
    pdf = t.pdf
    elements_by_key = {_key(e.obj): i for i, e in enumerate(t.elements)}
    parent_tree = _number_tree(pdf.Root.StructTreeRoot.get("/ParentTree"), {})
    for page in t.pages:
        for mcid in sorted(set(page.duplicates)):
            out.append(
                Problem("mcid", f"MCID {mcid} is used more than once in the content", page.number, mcid)
            )
    # Every marked sequence belongs to exactly one element of the tree.
    for key, m in t.marked.items():
        holders = t.refs.get(key, [])
        if not holders:
            why = ""
            sp = _struct_parents(t.owners.get(key[0]))
            entry = _parent_tree_entry(parent_tree, sp, m.mcid)
            if isinstance(entry, pikepdf.Dictionary) and _key(entry) not in elements_by_key:
                chain = _chain(entry)
                why = f" (its /ParentTree entry is {chain}, which is not in the tree)"
            out.append(
                Problem(
                    "mcid",
                    f"MCID {m.mcid} /{m.tag} {_short(m.text)!r} is neither an artifact nor "
                    f"referenced by any element of the structure tree{why}",
                    m.page,
                    m.mcid,
                    norm(m.text),
                )
            )
        elif len(holders) > 1:
            out.append(
                Problem(
                    "mcid",
                    f"MCID {m.mcid} {_short(m.text)!r} is referenced by {len(holders)} elements",
                    m.page,
                    m.mcid,
                    norm(m.text),
                )
            )
    for key, holders in t.refs.items():
        e = t.elements[holders[0]]
        if key not in t.marked:
            out.append(
                Problem(
                    "mcid",
                    f"/{e.type} references MCID {key[1]}, which the page content does not have",
                    e.page,
                    key[1],
                )
            )
            continue
        sp = _struct_parents(t.owners.get(key[0]))
        if sp is None:
            out.append(
                Problem(
                    "mcid",
                    f"content with MCID {key[1]} is on a page or form without /StructParents",
                    e.page,
                    key[1],
                )
            )
            continue
        entry = _parent_tree_entry(parent_tree, sp, key[1])
        if not isinstance(entry, pikepdf.Dictionary) or _key(entry) not in {
            _key(t.elements[h].obj) for h in holders
        }:
            out.append(
                Problem(
                    "mcid",
                    f"the /ParentTree entry for MCID {key[1]} does not point at the /{e.type} "
                    f"that references it",
                    t.marked[key].page,
                    key[1],
                )
            )
    return out


def _struct_parents(obj) -> int | None:
    if obj is None or "/StructParents" not in obj:
        return None
    return int(obj.StructParents)


def _parent_tree_entry(parent_tree: dict, sp: int | None, mcid: int):
    if sp is None:
        return None
    arr = parent_tree.get(sp)
    if isinstance(arr, pikepdf.Array) and 0 <= mcid < len(arr):
        return arr[mcid]
    return None


def _chain(obj) -> str:
    names = []
    while isinstance(obj, pikepdf.Dictionary) and "/S" in obj and len(names) < 20:
        names.append(str(obj.S))
        obj = obj.get("/P")
    return " in ".join(names) or "?"


def check_furniture(t: Tagged) -> list[Problem]:
    out = []
    for m in t.marked.values():
        text = norm(m.text)
        if any(p.search(text) for p in FURNITURE):
            out.append(
                Problem(
                    "furniture",
                    f"page furniture {_short(text)!r} is tagged content (MCID {m.mcid} "
                    f"/{m.tag}), not an /Artifact",
                    m.page,
                    m.mcid,
                    text,
                )
            )
    for i, e in enumerate(t.elements):
        if e.kids:
            continue
        text = t.text(i)
        if any(p.search(text) for p in FURNITURE):
            out.append(
                Problem(
                    "furniture",
                    f"the structure tree reads out page furniture {_short(text)!r} "
                    f"(/{e.type} in {_chain(e.obj.get('/P'))})",
                    e.page,
                    text=text,
                )
            )
    return out


def check_reading_order(t: Tagged) -> list[Problem]:
    # Only text counts, and not a figure's (it is read as its /Alt) nor a bullet's: WeasyPrint draws
    # images and list markers after the text around them, which no one hears.
    logical = list(dict.fromkeys(k for k in t.logical_keys() if k in t.marked and t.marked[k].text.strip()))
    wanted = set(logical)
    # The same marked content as the pages show it: page by page, in content-stream order.
    ordered = list(dict.fromkeys(m.key for page in t.pages for m in page.marked if m.key in wanted))
    if logical == ordered:
        return []
    n = next((i for i, (a, b) in enumerate(zip(logical, ordered)) if a != b), min(len(logical), len(ordered)))
    read = " ".join(t.marked[k].text for k in logical[n : n + 4])
    page = " ".join(t.marked[k].text for k in ordered[n : n + 4])
    before = " ".join(t.marked[k].text for k in logical[max(0, n - 2) : n])
    where = t.marked[logical[n]].page if n < len(logical) else None
    return [
        Problem(
            "reading-order",
            f"after {_short(before, 40)!r} the structure tree reads {_short(read, 50)!r} "
            f"but the page shows {_short(page, 50)!r} next",
            where,
        )
    ]


def check_fonts(pdf: pikepdf.Pdf, decoders: dict) -> list[Problem]:
    out = []
    seen = set()
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Font":
            continue
        sub = obj.get("/Subtype")
        if sub == "/CIDFontType0" or sub == "/CIDFontType2":
            continue  # checked through their Type0 parent
        name = str(obj.get("/BaseFont", "(Type3)"))
        if _key(obj) in seen:
            continue
        seen.add(_key(obj))
        if "/ToUnicode" not in obj and not (
            sub in ("/Type1", "/TrueType")
            and obj.get("/Encoding") in ("/WinAnsiEncoding", "/MacRomanEncoding", "/StandardEncoding")
        ):
            out.append(Problem("fonts", f"font {name} has no /ToUnicode map"))
        if sub == "/Type3":
            continue
        descriptors = []
        if sub == "/Type0":
            for d in _kids(obj.get("/DescendantFonts")):
                descriptors.append(d.get("/FontDescriptor"))
                if d.get("/Subtype") == "/CIDFontType2" and "/CIDToGIDMap" not in d:
                    out.append(Problem("fonts", f"font {name} is a CIDFontType2 without /CIDToGIDMap"))
        else:
            descriptors.append(obj.get("/FontDescriptor"))
        for d in descriptors:
            if not isinstance(d, pikepdf.Dictionary) or not any(
                f in d for f in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                out.append(Problem("fonts", f"font {name} is not embedded"))
    for font in decoders.values():
        if font.missing:
            codes = ", ".join(c.hex() for c in sorted(font.missing)[:5])
            out.append(Problem("fonts", f"font {font.name} shows glyph codes with no Unicode value: {codes}"))
    return out


def check_annotations(t: Tagged) -> list[Problem]:
    out = []
    pdf = t.pdf
    parent_tree = _number_tree(pdf.Root.StructTreeRoot.get("/ParentTree"), {})
    for n, page in enumerate(pdf.pages, 1):
        annots = [a for a in _kids(page.obj.get("/Annots")) if isinstance(a, pikepdf.Dictionary)]
        if not annots:
            continue
        if page.obj.get("/Tabs") != "/S":
            out.append(Problem("annotations", "a page with annotations has no /Tabs /S", n))
        for a in annots:
            sub = str(a.get("/Subtype", "/?"))[1:]
            if sub in ("Popup", "PrinterMark"):
                continue
            if sub == "FileAttachment":
                out.append(Problem("attachments", "a file attachment annotation", n))
            if "/StructParent" not in a:
                out.append(Problem("annotations", f"a /{sub} annotation has no /StructParent", n))
            else:
                entry = parent_tree.get(int(a.StructParent))
                holders = t.annots.get(_key(a), [])
                if not holders:
                    out.append(Problem("annotations", f"a /{sub} annotation is not in the structure tree", n))
                elif not isinstance(entry, pikepdf.Dictionary) or _key(entry) != _key(
                    t.elements[holders[0]].obj
                ):
                    out.append(
                        Problem(
                            "annotations",
                            f"the /ParentTree entry of a /{sub} annotation does not point at its element",
                            n,
                        )
                    )
                elif sub == "Link" and t.elements[holders[0]].type != "Link":
                    out.append(
                        Problem(
                            "annotations",
                            f"a link annotation is inside /{t.elements[holders[0]].type}, not /Link",
                            n,
                        )
                    )
            if sub not in ("Widget",) and not norm(str(a.get("/Contents", ""))):
                out.append(
                    Problem("annotations", f"a /{sub} annotation has no /Contents (alternate description)", n)
                )
    return out


def check_attachments(pdf: pikepdf.Pdf) -> list[Problem]:
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/EmbeddedFiles" in names:
        return [Problem("attachments", "the PDF has /EmbeddedFiles")]
    return []


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python tests/pdfua.py FILE.pdf ...\n\nCheck tagged PDFs against the PDF/UA-1 rules "
            "listed in this file's docstring;\nprint every problem and exit 1 if there are any."
        )
        return 0 if argv else 2
    bad = 0
    for name in argv:
        try:
            problems = check(Path(name))
        except (OSError, pikepdf.PdfError) as exc:
            print(f"{name}: cannot read: {exc}")
            bad += 1
            continue
        for p in problems:
            print(f"{name}: {p}")
        bad += bool(problems)
    if not bad:
        print(f"{len(argv)} PDF(s): no problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
