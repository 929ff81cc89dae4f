"""Structure rules: the PEMAT-P items a machine can judge (short sections, informative headings, a
summary, clear numbers, an action for the reader), the danger callout, the sections of an insert,
and a frequency and a source for every figure."""

from __future__ import annotations

import re

from .. import content
from ..content import INSERT, LEAFLET
from .document import Block, sentences, word_count
from .model import ERROR, WARNING, FileCheck

# What every procedure insert covers (research digest: preparation, what happens, risks,
# aftercare, when to get help). A "##" heading belongs to the section whose keyword starts a
# word EARLIEST in it, so "After the procedure" is aftercare, not "what happens".
INSERT_SECTIONS = (
    ("preparation", "How to prepare", ("prepar", "before")),
    ("what happens", "What happens during the procedure", ("happen", "during", "procedure")),
    # Consent (Montgomery; NICE IPG651): benefits, material risks and reasonable alternatives.
    ("benefits", "Benefits", ("benefit",)),
    ("risks", "Risks", ("risk", "complication", "side effect")),
    ("alternatives", "Alternatives", ("alternative", "other option", "other treatment")),
    ("aftercare", "After the procedure", ("after", "recover", "home")),
    ("when to get help", "When to get help", ("help", "emergenc", "call", "worr")),
)


def check_headings(fc: FileCheck) -> None:
    """Check that headings come often enough (item 8) and say what their section is about (item 9)."""
    limit = fc.settings.words_per_heading
    run, run_line, chunked = 0, None, True
    for block in fc.doc.blocks:
        if block.kind in ("title", "summary"):
            continue
        if block.kind in ("heading", "callout-title"):
            run, run_line = 0, None
            continue
        run_line = run_line or block.line
        before = run
        run += word_count(block.text)
        if before <= limit < run:
            chunked = False
            fc.add(WARNING, run_line, f"more than {limit} words without a heading from here",
                   "break the text up with '##' or '###' headings that say what each part is about")
    fc.report.pemat.mark(8, chunked)
    if not fc.english:
        return  # the generic headings are English; item 9 is left to a person
    generic = set(fc.settings.generic_headings)
    informative = True
    for heading in (b for b in fc.doc.blocks if b.kind == "heading"):
        plain = " ".join(re.sub(r"[^\w\s]", " ", heading.text.lower()).split())
        if plain in generic:
            informative = False
            fc.add(WARNING, heading.line, f"heading '{heading.text}' does not say what the section is about",
                   "name the topic, e.g. 'How to prepare' or 'When to get help'")
    fc.report.pemat.mark(9, informative)


def check_summary(fc: FileCheck) -> None:
    """A summary comes first (item 11): the front matter's summary, printed under the title."""
    fc.report.pemat.mark(11, bool(fc.leaflet.meta.get("summary", "").strip()))


NUMBER_PROBLEMS = (
    (re.compile(r"\d\s*%|\bper\s?cent\b", re.IGNORECASE), "a percentage",
     "use whole numbers, e.g. 'about 3 in 10 people'"),
    (re.compile(r"[½¼¾⅓⅔⅛]|(?<![\d/])(?!24/7\b)\d+/\d+(?![\d/])"), "a fraction",
     "use words or whole numbers, e.g. 'half' or '1 in 2'"),
    (re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])(?!\s*[ap]\.?m\b)", re.IGNORECASE), "a decimal number",
     "round it to a whole number, or use words"),
)


def check_numbers(fc: FileCheck) -> None:
    """Numbers are whole numbers, not percentages, fractions or decimals (item 6)."""
    blocks = [b for b in fc.doc.blocks if b.kind != "title"]
    if not any(re.search(r"\d", b.text) for b in blocks):
        fc.report.pemat.not_applicable.append(6)
        return
    clear = True
    for block in blocks:
        for pattern, what, fix in NUMBER_PROBLEMS:
            for m in pattern.finditer(block.text):
                clear = False
                fc.add(WARNING, block.line_at(m.start()),
                       f"'{m.group().strip()}' is {what}, which many readers find hard", fix)
    fc.report.pemat.mark(6, clear)


def check_actions(fc: FileCheck) -> None:
    """At least one instruction to the reader (item 20): a sentence that starts with an action verb."""
    if not fc.english:
        return
    verbs = "|".join(re.escape(v) for v in sorted(fc.settings.action_verbs, key=len, reverse=True))
    starts_with_verb = re.compile(rf"^[\"'“‘(]*(?:{verbs})\b", re.IGNORECASE)
    clause = re.compile(r"^(?:if|when|at|before|after|once|while|during|on|for)\b[^,.]{0,80},\s*",
                        re.IGNORECASE)
    found = False
    for block in fc.doc.blocks:
        if block.kind not in ("paragraph", "item", "callout-title"):
            continue
        for _, sentence in sentences(block):
            if sentence.rstrip("\"'”’)").endswith("?"):
                continue
            rest = clause.sub("", sentence, count=1)
            if starts_with_verb.match(sentence) or starts_with_verb.match(rest):
                found = True
                break
        if found:
            break
    if not found:
        fc.add(ERROR, fc.doc.body_line, "no action for the reader",
               "say what to do, starting with a verb: 'Call the team if…', 'Take your medicine…', "
               "'Keep moving.'")
    fc.report.pemat.mark(20, found)


def check_danger(fc: FileCheck) -> None:
    """Every leaflet has a danger callout with the emergency signs."""
    if fc.leaflet.kind == LEAFLET and not any(kind == "danger" for kind, _, _ in fc.leaflet.callouts):
        fc.add(ERROR, fc.doc.body_line, "the leaflet has no danger callout",
               "start the body with the emergency signs: "
               '!!! danger "Call {{ org.emergency_number }} now if you have"')


def check_insert_sections(fc: FileCheck) -> None:
    """Every insert has '##' sections on preparation, what happens, risks, aftercare and getting help."""
    if fc.leaflet.kind != INSERT or not fc.english:
        return
    covered = set()
    for heading in (b for b in fc.doc.blocks if b.kind == "heading" and b.level == 2):
        text = heading.text.lower()
        hits = []
        for name, _, keywords in INSERT_SECTIONS:
            for keyword in keywords:
                m = re.search(r"(?<!\w)" + re.escape(keyword), text)
                if m:
                    hits.append((m.start(), name))
        if hits:
            covered.add(min(hits)[1])
    for name, example, keywords in INSERT_SECTIONS:
        if name not in covered:
            fc.add(ERROR, fc.doc.body_line, f"the insert has no section on {name}",
                   f"add a '## {example}' section (its heading must contain a word starting with "
                   f"{' or '.join(repr(k) for k in keywords)})")


# How often something happens, as a reader is told it: "1 in 100", "10 out of 100", "about 2%".
# "Call 999 in 10 minutes" is not one: a time or a dose after the second number rules it out.
FREQUENCY_RE = re.compile(r"\b\d[\d,]*\s+(?:in|out\s+of)\s+(?:every\s+)?\d[\d,]*\b"
                          r"(?!\s*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|mg|ml)\b)"
                          r"|\b\d+(?:\.\d+)?\s?%")


def _sections(fc: FileCheck) -> list[tuple[Block, list[Block]]]:
    """Each '##' heading with the blocks under it, up to the next '##'."""
    found: list[tuple[Block, list[Block]]] = []
    for block in fc.doc.blocks:
        if block.kind == "heading" and block.level <= 2:
            found.append((block, []))
        elif found:
            found[-1][1].append(block)
    return found


def check_risk_frequencies(fc: FileCheck) -> None:
    """An insert's Risks section says how often each risk happens."""
    if fc.leaflet.kind != INSERT or not fc.english:
        return
    for heading, blocks in _sections(fc):
        if heading.level == 2 and re.search(r"(?<!\w)(?:risk|complication)", heading.text.lower()):
            if not any(FREQUENCY_RE.search(b.text) for b in blocks):
                fc.add(ERROR, heading.line, f"the '{heading.text}' section gives no frequency",
                       "say how often each risk happens, as 'about 1 in 100' (or 'about 2%'), "
                       "with its source, e.g. [1]")


def check_figures_cited(fc: FileCheck) -> None:
    """Every frequency in the text cites one of the sources, as [n], in the same sentence."""
    if not fc.english:
        return
    for block in fc.doc.blocks:
        if block.kind in ("title", "heading"):
            continue
        for offset, sentence in sentences(block):
            figure = FREQUENCY_RE.search(sentence)
            if figure and not content.CITATION_RE.search(sentence):
                fc.add(ERROR, block.line_at(offset + figure.start()),
                       f"the figure '{figure.group()}' cites no source",
                       "add the number of its source from 'sources:' in the same sentence, e.g. "
                       "'about 1 in 100 [2].'")


RULES = (check_headings, check_summary, check_numbers, check_actions, check_danger, check_insert_sections,
         check_risk_frequencies, check_figures_cited)
