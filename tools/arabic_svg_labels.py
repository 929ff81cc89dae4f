#!/usr/bin/env python3
"""Write the pre-shaped Arabic labels of the diagrams in leaflets/images/ (issue 9).

WeasyPrint 70 lays out SVG text one character at a time, without Arabic shaping and without
reordering, so an Arabic label written plainly would print its letters unjoined and left to
right. The `*.ar.svg` diagrams therefore hold each label as presentation forms (the joining form
of every letter, Unicode Arabic Presentation Forms-A and -B) in reading order, each character
with its own x: the left edge of its glyph, found by adding up the glyph advances of the
packaged IBM Plex Sans Arabic at the label's size. The text element says direction="rtl" and
text-anchor="end", so a browser puts each character's left edge at its x too.

The labels are listed, in plain Arabic, in tools/arabic_svg_labels.yaml. A translator changes
the words there and runs

    .venv/bin/python tools/arabic_svg_labels.py update

Other commands: `check` (exit 1 when an SVG differs from the table) and `label` (print the
markup of one label, for a new diagram).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import click
import fontpkg
import yaml
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
TABLE = Path(__file__).resolve().with_suffix(".yaml")
IMAGES = ROOT / "leaflets" / "images"

# The families the labels name, in fallback order: WeasyPrint takes each character from the
# first one that has it, so its advance must come from that one too.
FAMILIES = ("IBM Plex Sans Arabic", "Atkinson Hyperlegible")
FONT_FAMILY = "IBM Plex Sans Arabic, Atkinson Hyperlegible, sans-serif"
# pdf.font_face_css offers the renderer only the regular and bold faces.
WEIGHTS = {"normal": 400, "400": 400, "bold": 700, "700": 700}
# Which edge of the label its x names. SVG's own words for right-to-left text are accepted too.
ANCHORS = {"right": "right", "start": "right", "middle": "middle", "left": "left", "end": "left"}
DEFAULTS = {"size": 27, "weight": "bold", "fill": "#111111", "anchor": "right"}


class LabelError(click.ClickException):
    """A label or the table is wrong: says where and how to fix it."""


# --- Shaping: each letter to its joining form -------------------------------------------------

LAM = "\u0644"
ALEFS = "\u0622\u0623\u0625\u0627"  # alef with madda, hamza above, hamza below; plain alef
JOIN_CAUSING = {"\u0640", "\u200d"}  # tatweel, zero width joiner
FORMS = ("isolated", "final", "initial", "medial")


@lru_cache(maxsize=1)
def _forms() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Return {letter: {form: presentation form}} and {alef: {form: lam-alef ligature}}.

    Read from the Unicode data's compatibility decompositions ("<final> 0628"), so the table
    cannot drift from the standard.
    """
    letters: dict[str, dict[str, str]] = {}
    lam_alef: dict[str, dict[str, str]] = {}
    for block in (range(0xFB50, 0xFE00), range(0xFE70, 0xFF00)):
        for cp in block:
            tag, _, rest = unicodedata.decomposition(chr(cp)).partition(" ")
            form = tag.strip("<>")
            if form not in FORMS:
                continue
            base = "".join(chr(int(h, 16)) for h in rest.split())
            if len(base) == 1:
                letters.setdefault(base, {}).setdefault(form, chr(cp))
            elif len(base) == 2 and base[0] == LAM and base[1] in ALEFS:
                lam_alef.setdefault(base[1], {})[form] = chr(cp)
    return letters, lam_alef


def joining_type(char: str) -> str:
    """Return the character's Unicode joining type: D, R, C, T or U (only what shaping needs)."""
    if char in JOIN_CAUSING:
        return "C"
    if char != "\u200c" and unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return "T"
    forms = _forms()[0].get(char, {})
    if "initial" in forms or "medial" in forms:
        return "D"
    if "final" in forms:
        return "R"
    return "U"


def shape(text: str) -> str:
    """Return the text with each Arabic letter as its joining form, in logical order.

    Lam followed by alef becomes one lam-alef ligature. Letters with no presentation form (and
    everything that is not Arabic) are left as they are.
    """
    letters, lam_alef = _forms()
    types = [joining_type(c) for c in text]

    def neighbour(i: int, step: int) -> str:
        j = i + step
        while 0 <= j < len(text) and types[j] == "T":
            j += step
        return types[j] if 0 <= j < len(text) else "U"

    out = []
    i = 0
    while i < len(text):
        char = text[i]
        joins_before = types[i] in "DRC" and neighbour(i, -1) in "DC"
        if char == LAM and i + 1 < len(text) and text[i + 1] in lam_alef:
            out.append(lam_alef[text[i + 1]]["final" if joins_before else "isolated"])
            i += 2
            continue
        joins_after = types[i] in "DC" and neighbour(i, +1) in "DRC"
        form = {(False, False): "isolated", (True, False): "final",
                (False, True): "initial", (True, True): "medial"}[joins_before, joins_after]
        out.append(letters.get(char, {}).get(form, char))
        i += 1
    return "".join(out)


# --- Order: where each character goes, right to left ------------------------------------------

def visual_order(text: str) -> list[int]:
    """Return the indices of text from left to right as a right-to-left line shows them.

    The Unicode bidi algorithm for one line of right-to-left text with no embeddings: Arabic
    and neutrals run right to left; Latin words and numbers (with their separators) keep their
    own left-to-right order.
    """
    types = [unicodedata.bidirectional(c) for c in text]
    # W1-W3: marks take the type before them; European digits after Arabic letters are Arabic
    # numbers; Arabic letters are right to left.
    strong = "R"
    for i, t in enumerate(types):
        if t == "NSM":
            types[i] = types[i - 1] if i else "R"
        if types[i] == "EN" and strong == "AL":
            types[i] = "AN"
        if types[i] in ("L", "R", "AL"):
            strong = types[i]
    types = ["R" if t == "AL" else t for t in types]
    # W4-W6: one separator between two numbers of a kind joins them; terminators next to
    # European numbers join them; what is left over is neutral.
    for i in range(1, len(types) - 1):
        if types[i] == "ES" and types[i - 1] == types[i + 1] == "EN":
            types[i] = "EN"
        elif types[i] == "CS" and types[i - 1] == types[i + 1] and types[i - 1] in ("EN", "AN"):
            types[i] = types[i - 1]
    i = 0
    while i < len(types):
        j = i
        while j < len(types) and types[j] == "ET":
            j += 1
        if j > i and ((i and types[i - 1] == "EN") or (j < len(types) and types[j] == "EN")):
            types[i:j] = ["EN"] * (j - i)
        i = max(j, i + 1)
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]
    # W7: European numbers after a Latin word go with it.
    strong = "R"
    for i, t in enumerate(types):
        if t == "EN" and strong == "L":
            types[i] = "L"
        elif t in ("L", "R"):
            strong = t
    # N1-N2: neutrals between two runs of one direction take it, others are right to left.
    direction = ["L" if t == "L" else "R" if t in ("R", "EN", "AN") else None for t in types]
    i = 0
    while i < len(direction):
        if direction[i] is not None:
            i += 1
            continue
        j = i
        while j < len(direction) and direction[j] is None:
            j += 1
        before = direction[i - 1] if i else "R"
        after = direction[j] if j < len(direction) else "R"
        direction[i:j] = [before if before == after else "R"] * (j - i)
        i = j
    # I1-I2, L2: Arabic at level 1, Latin and numbers at 2; reverse from the highest level down.
    levels = [1 if d == "R" and types[k] not in ("EN", "AN") else 2 for k, d in enumerate(direction)]
    order = list(range(len(text)))
    for level in (2, 1):
        k = 0
        while k < len(order):
            if levels[order[k]] < level:
                k += 1
                continue
            m = k
            while m < len(order) and levels[order[m]] >= level:
                m += 1
            order[k:m] = order[k:m][::-1]
            k = m
    return order


# --- Measuring and writing ---------------------------------------------------------------------

@lru_cache(maxsize=None)
def _font(family: str, weight: int) -> tuple[dict[int, str], object, int]:
    font = TTFont(fontpkg.path(family, weight))
    return font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm


def advance(char: str, size: float, weight: int) -> float:
    """Return the advance width of char at size, from the first family that has it."""
    for family in FAMILIES:
        cmap, hmtx, upm = _font(family, weight)
        if ord(char) in cmap:
            return hmtx[cmap[ord(char)]][0] * size / upm
    raise LabelError(f"no packaged font has {char!r} (U+{ord(char):04X}); use another character")


def number(value: float) -> str:
    """Format a coordinate as the SVGs do: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def positions(text: str, x: float, anchor: str, size: float, weight: int) -> list[float]:
    """Return the left edge of each character of a shaped line, in logical order."""
    widths = [advance(c, size, weight) for c in text]
    total = sum(widths)
    pen = {"left": x + total, "middle": x + total / 2, "right": x}[anchor]
    xs = [0.0] * len(text)
    # The pen moves from the right edge leftwards, as the committed labels were made: rounding
    # the same float sums keeps them byte-identical (exact sums differ by 0.01 in two places).
    for i in reversed(visual_order(text)):
        pen -= widths[i]
        xs[i] = pen
    return xs


@dataclass
class Label:
    """One Arabic label: its plain text (one string per line) and where and how it is set."""

    lines: list[str]
    x: float
    y: float
    size: float = DEFAULTS["size"]
    weight: str = DEFAULTS["weight"]
    anchor: str = DEFAULTS["anchor"]
    line_height: float | None = None
    fill: str = DEFAULTS["fill"]
    en: str = ""  # which label this is in the English diagram; never printed

    def check(self) -> list[str]:
        """Return what is wrong with the label, if anything."""
        problems = []
        if not self.lines or not all(isinstance(s, str) and s.strip() for s in self.lines):
            problems.append("ar is empty; write the Arabic text")
        for line in self.lines:
            if isinstance(line, str) and any(unicodedata.category(c) == "Mn" for c in line):
                problems.append(f"{line!r} has vowel marks (harakat), which cannot be placed letter by "
                                "letter; write the label without them")
            if isinstance(line, str) and re.search("[\ufb50-\ufdff\ufe70-\ufefc]", line):
                problems.append(f"{line!r} is already shaped; write ordinary Arabic letters")
            if isinstance(line, str) and re.search(r"[<>&]|--", line):
                problems.append(f"{line!r} has <, >, & or --, which the SVG cannot hold as they are; "
                                "leave them out")
        for name in ("x", "y", "size", "line_height"):
            value = getattr(self, name)
            if (value is not None or name != "line_height") and (
                    isinstance(value, bool) or not isinstance(value, (int, float))):
                problems.append(f"{name} {value!r} is not a number")
        if str(self.weight) not in WEIGHTS:
            problems.append(f"weight {self.weight!r} is not one of normal, bold (the packaged faces)")
        if self.anchor not in ANCHORS:
            problems.append(f"anchor {self.anchor!r} is not one of right, middle, left")
        if len(self.lines) > 1 and not self.line_height:
            problems.append("a label of several lines needs line_height (the distance between baselines)")
        return problems

    def extent(self) -> tuple[float, float]:
        """Return the left and right edges of the label's widest reach."""
        weight, anchor = WEIGHTS[str(self.weight)], ANCHORS[self.anchor]
        edges = []
        for line in self.lines:
            shaped = shape(line)
            xs = positions(shaped, self.x, anchor, self.size, weight)
            edges += [min(xs), max(x + advance(c, self.size, weight) for x, c in zip(xs, shaped))]
        return min(edges), max(edges)

    def markup(self, indent: str = "  ") -> str:
        """Return the label's comment and <text> element, as the *.ar.svg files hold them."""
        weight = WEIGHTS[str(self.weight)]
        anchor = ANCHORS[self.anchor]
        style = (f'font-family="{FONT_FAMILY}" font-size="{number(self.size)}" '
                 f'font-weight="{self.weight}" fill="{self.fill}" direction="rtl" '
                 f'unicode-bidi="embed" text-anchor="end"')
        comment = f"{indent}<!-- {' / '.join(self.lines)} -->\n"
        runs = []
        for n, line in enumerate(self.lines):
            shaped = shape(line)
            xs = " ".join(number(v) for v in positions(shaped, self.x, anchor, self.size, weight))
            y = number(self.y + n * (self.line_height or 0))
            runs.append((xs, y, shaped))
        if len(runs) == 1:
            xs, y, shaped = runs[0]
            return f'{comment}{indent}<text x="{xs}" y="{y}" {style}>{shaped}</text>'
        tspans = "".join(f'<tspan x="{xs}" y="{y}">{shaped}</tspan>' for xs, y, shaped in runs)
        return f"{comment}{indent}<text {style}>{tspans}</text>"


# An Arabic label in an SVG: the comment with its plain text, then the right-to-left <text>.
LABEL_RE = re.compile(
    r'(?P<indent>[ \t]*)<!-- [^\n]*? -->\n[ \t]*<text\b[^>\n]*\bdirection="rtl"[^>\n]*>.*?</text>')
KEYS = {"en", "ar", "x", "y", "size", "weight", "anchor", "line_height", "fill"}


def load_table(path: Path = TABLE) -> dict[str, list[Label]]:
    """Read the label table: {svg file name: [Label, ...]} in the order the SVG holds them."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark else ""
        raise LabelError(f"{path}:{line} is not valid YAML ({getattr(exc, 'problem', exc)}); "
                         "check the quotes and the indentation") from None
    if not isinstance(data, dict):
        raise LabelError(f"{path}: expected SVG file names, each with a list of labels")
    table, problems = {}, []
    for svg, entries in data.items():
        labels = []
        for n, entry in enumerate(entries or [], start=1):
            where = f"{path.name}: {svg}, label {n}"
            if isinstance(entry, dict) and entry.get("en"):
                where += f" ({entry['en']})"
            if not isinstance(entry, dict):
                problems.append(f"{where}: expected keys such as ar, x, y")
                continue
            unknown = set(entry) - KEYS
            missing = {"ar", "x", "y"} - set(entry)
            if unknown:
                problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"use {', '.join(sorted(KEYS))}")
            if missing:
                problems.append(f"{where}: missing {', '.join(sorted(missing))}")
                continue
            ar = entry["ar"]
            label = Label(lines=ar if isinstance(ar, list) else [ar], x=entry["x"], y=entry["y"],
                          **{k: entry[k] for k in ("size", "weight", "anchor", "line_height", "fill", "en")
                             if k in entry})
            problems += [f"{where}: {p}" for p in label.check()]
            labels.append(label)
        table[svg] = labels
    if problems:
        raise LabelError("\n".join(problems))
    return table


def rewrite(svg_text: str, labels: list[Label], name: str = "the SVG") -> str:
    """Return svg_text with its Arabic labels, in order, replaced by the table's."""
    found = list(LABEL_RE.finditer(svg_text))
    if len(found) != len(labels):
        raise LabelError(f"{name} has {len(found)} Arabic labels but the table lists {len(labels)}; "
                         "list one entry per label, in the order the SVG holds them")
    pieces, end = [], 0
    for match, label in zip(found, labels):
        pieces += [svg_text[end:match.start()], label.markup(match["indent"])]
        end = match.end()
    return "".join(pieces) + svg_text[end:]


VIEWBOX_RE = re.compile(r'<svg\b[^>]*\bviewBox="\s*([-\d.]+)[\s,]+[-\d.]+[\s,]+([-\d.]+)')


def off_the_drawing(svg_text: str, labels: list[Label], name: str = "the SVG") -> list[str]:
    """Return a warning for each label that reaches past the left or right of the viewBox."""
    box = VIEWBOX_RE.search(svg_text)
    if not box:
        return []
    low, high = float(box[1]), float(box[1]) + float(box[2])
    warnings = []
    for n, label in enumerate(labels, start=1):
        left, right = label.extent()
        if left < low or right > high:
            warnings.append(f"{name}: label {n} ({' / '.join(label.lines)}) spans x {number(left)} to "
                            f"{number(right)}, past the drawing's {number(low)} to {number(high)}; "
                            "shorten it, split it into lines or move its x")
    return warnings


def _updates(names: tuple[str, ...], images: Path, table_path: Path) -> list[tuple[Path, str, str]]:
    table = load_table(table_path)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise LabelError(f"{', '.join(unknown)} not in {table_path.name}; it lists {', '.join(table)}")
    results = []
    for name in names or table:
        path = images / name
        if not path.is_file():
            raise LabelError(f"{path} does not exist; fix the file name in {table_path.name}")
        old = path.read_text("utf-8")
        results.append((path, old, rewrite(old, table[name], name)))
        for warning in off_the_drawing(old, table[name], name):
            click.echo(f"warning: {warning}", err=True)
    return results


# --- Commands ----------------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Write the pre-shaped Arabic labels of the diagrams (see tools/arabic_svg_labels.yaml)."""


table_option = click.option("--table", type=click.Path(path_type=Path, dir_okay=False), default=TABLE,
                            show_default=True, help="The label table.")
images_option = click.option("--images", type=click.Path(path_type=Path, file_okay=False), default=IMAGES,
                             show_default=True, help="The folder holding the SVGs.")


@cli.command()
@click.argument("svgs", nargs=-1)
@table_option
@images_option
def update(svgs, table, images):
    """Rewrite the Arabic labels of the SVGs (default: every SVG in the table).

    \b
    Example:
        .venv/bin/python tools/arabic_svg_labels.py update dvt-leg-clot.ar.svg
    """
    for path, old, new in _updates(svgs, images, table):
        if new != old:
            path.write_text(new, "utf-8")
        click.echo(f"{'updated' if new != old else 'unchanged'}: {path}")


@cli.command()
@click.argument("svgs", nargs=-1)
@table_option
@images_option
def check(svgs, table, images):
    """Show how the SVGs differ from the table; exit 1 if any does.

    \b
    Example:
        .venv/bin/python tools/arabic_svg_labels.py check
    """
    stale = 0
    for path, old, new in _updates(svgs, images, table):
        if new != old:
            stale += 1
            click.echo("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                    str(path), f"{path} (from the table)")), nl=False)
    if stale:
        raise LabelError(f"{stale} SVG(s) differ from the table; run the update command")
    click.echo("every Arabic label matches the table")


@cli.command()
@click.argument("lines", nargs=-1, required=True)
@click.option("--x", "x", type=float, required=True, help="Where the anchor edge goes.")
@click.option("--y", "y", type=float, required=True, help="The baseline of the first line.")
@click.option("--anchor", type=click.Choice(sorted(ANCHORS)), default=DEFAULTS["anchor"], show_default=True,
              help="Which edge of the label is at x (start = right, end = left, as in SVG for Arabic).")
@click.option("--size", type=float, default=DEFAULTS["size"], show_default=True)
@click.option("--weight", type=click.Choice(sorted(WEIGHTS)), default=DEFAULTS["weight"], show_default=True)
@click.option("--line-height", type=float, help="The distance between baselines, for several lines.")
@click.option("--fill", default=DEFAULTS["fill"], show_default=True)
def label(lines, x, y, anchor, size, weight, line_height, fill):
    """Print the SVG markup of one label; each argument is one line of plain Arabic.

    \b
    Example:
        .venv/bin/python tools/arabic_svg_labels.py label "وريد عميق" --x 162 --y 120
    """
    one = Label(list(lines), x, y, size, weight, anchor, line_height, fill)
    problems = one.check()
    if problems:
        raise LabelError("; ".join(problems))
    click.echo(one.markup())


if __name__ == "__main__":
    cli()
