"""A leaflet's text as the reader meets it: blocks in reading order with their source lines, and its
pictures; and the sentence and word counting the rules share."""

from __future__ import annotations

import re
from dataclasses import dataclass

import textstat
from jinja2.exceptions import TemplateError

from .. import content
from ..config import public_org
from ..content import Leaflet


@dataclass
class Block:
    """One run of text: the title, the summary, a heading, a callout title, a paragraph or a list item."""

    kind: str  # title | summary | heading | callout-title | paragraph | item
    text: str  # plain text, with "\n" where the source line breaks
    line: int  # the source line of its first character
    level: int = 0  # heading level
    callout: str = ""  # the callout type when it is inside one

    def line_at(self, offset: int) -> int:
        """Return the source line of a character of text."""
        return self.line + self.text.count("\n", 0, offset)


@dataclass
class Picture:
    alt: str
    src: str
    line: int


@dataclass
class Document:
    """A leaflet's text in reading order, with source lines, and its pictures."""

    blocks: list[Block]
    pictures: list[Picture]
    body_line: int  # the body's first line of text
    close_line: int  # the front matter's closing '---'

    def prose(self) -> list[Block]:
        """The blocks read as sentences: the summary, paragraphs and list items (also in callouts)."""
        return [b for b in self.blocks if b.kind in ("summary", "paragraph", "item")]


def read_document(leaflet: Leaflet, org: dict) -> Document:
    """Return the text of a loaded leaflet with placeholders filled in, block by block.

    The body and its first line come from content.load_file, which split off the front matter.
    """
    body, first = leaflet.body, leaflet.body_line
    try:
        # Org values are single lines, so filling them in keeps every line where it was.
        body = content.CONTENT_ENV.from_string(body).render(org=public_org(org, leaflet.lang))
    except TemplateError:
        pass  # content.load has already reported it
    blocks = [Block("title", leaflet.title, leaflet.lines.get("title", 2)),
              Block("summary", leaflet.meta.get("summary", ""), leaflet.lines.get("summary", 2))]
    pictures: list[Picture] = []
    callout, in_item, pending = "", 0, None
    for tok in content.MARKDOWN.parse(body):
        if tok.type == "admonition_open":
            callout = tok.meta.get("tag", "")
        elif tok.type == "admonition_close":
            callout = ""
        elif tok.type == "list_item_open":
            in_item += 1
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type == "heading_open":
            pending = ("heading", int(tok.tag[1:]))
        elif tok.type == "admonition_title_open":
            pending = ("callout-title", 0)
        elif tok.type == "inline":
            kind, level = pending or ("item" if in_item else "paragraph", 0)
            pending = None
            line = first + (tok.map[0] if tok.map else 0)
            text = _inline_text(tok, line, pictures)
            if text.strip():
                blocks.append(Block(kind, text, line, level, callout))
    # Findings about the body as a whole point at its first line of text (with none, the closing '---').
    text_at = next((n for n, line in enumerate(leaflet.body.split("\n")) if line.strip()), -1)
    return Document(blocks, pictures, first + text_at, first - 1)


def _inline_text(tok, line: int, pictures: list[Picture]) -> str:
    """Return an inline token's plain text; record its pictures (alt text is not prose)."""
    parts = []
    for child in tok.children or []:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            at = line + "".join(parts).count("\n")
            pictures.append(Picture(child.content, child.attrGet("src") or "", at))
    return "".join(parts)


SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
ENDS_SENTENCE_RE = re.compile(r"[.!?][\"'”’)\]]*$")
WORD_RE = re.compile(r"\w[\w'’]*")
ADDRESS_RE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)


def sentences(block: Block) -> list[tuple[int, str]]:
    """Split a block into (offset, sentence); a sentence ends with . ! or ? before a space."""
    found, start = [], 0
    for m in [*SENTENCE_END_RE.finditer(block.text), None]:
        stop = m.end() if m else len(block.text)
        piece = block.text[start:stop]
        if piece.strip():
            found.append((start + len(piece) - len(piece.lstrip()), piece.strip()))
        start = stop
    return found


def word_count(text: str) -> int:
    """Count words as textstat does: punctuation removed, so 'catheter-directed' is one word."""
    return textstat.lexicon_count(text)


def prose_text(blocks: list[Block]) -> str:
    """Join blocks into the text the grade formulas read: each block ends as a sentence."""
    units = []
    for block in blocks:
        # Web and e-mail addresses are copied, not read as words; they would count as long words.
        # Citations such as [2] are not read either.
        text = " ".join(content.CITATION_RE.sub("", ADDRESS_RE.sub("", block.text)).split())
        if not text:
            continue
        if not ENDS_SENTENCE_RE.search(text):
            # A list item or a lead-in such as "Symptoms include:" is read as one sentence.
            text = text.rstrip(":;,–—- ") + "."
        units.append(text)
    return " ".join(units)
