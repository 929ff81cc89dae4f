"""Language rules: long sentences, medical terms without a plain explanation, and which rules a
language other than English goes without."""

from __future__ import annotations

import re
from bisect import bisect_right

from .document import WORD_RE, Block, sentences, word_count
from .model import WARNING, FileCheck


def check_sentence_length(fc: FileCheck) -> None:
    """Flag every sentence longer than max_sentence_words, at its own line."""
    limit = fc.settings.max_sentence_words
    for block in fc.doc.prose():
        for offset, sentence in sentences(block):
            n = word_count(sentence)
            if n > limit:
                start = " ".join(sentence.split()[:6])
                fc.add(WARNING, block.line_at(offset), f"sentence of {n} words ('{start} …')",
                       f"split it into sentences of {limit} words or fewer")


def check_glossary(fc: FileCheck) -> None:
    """Find the first use of each glossary term and check that a plain explanation is near it."""
    glossary = fc.settings.glossary
    if not glossary or not fc.english:
        return  # item 4 is then left to a person
    stream, starts = _stream(fc.doc.blocks)
    lower = stream.lower()
    spans = [m.span() for m in WORD_RE.finditer(stream)]
    word_starts, word_ends = [a for a, _ in spans], [b for _, b in spans]
    matches = []
    for term in glossary:
        for m in _phrase_re(term, suffix=True).finditer(lower):
            matches.append((m.start(), m.end(), term))
    # The longest match wins, so "catheter-directed thrombolysis" is one term, not two.
    matches.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    first, covered_to = {}, -1
    for start, end, term in matches:
        if start < covered_to:
            continue
        covered_to = end
        first.setdefault(term, (start, end))
    within = fc.settings.explain_within_words
    ok = True
    for term, (start, end) in sorted(first.items(), key=lambda kv: kv[1]):
        if _explained(stream, lower, start, end, glossary[term], within, word_starts, word_ends):
            continue
        ok = False
        n = bisect_right(starts, start) - 1
        block, offset = fc.doc.blocks[n], start - starts[n]
        used = stream[start:end]
        words = f" using {' or '.join(repr(e) for e in glossary[term])}" if glossary[term] else ""
        fc.add(WARNING, block.line_at(offset),
               f"medical term '{used}' is not explained where it is first used",
               f"explain it in plain words{words} within {within} words, or in brackets straight after it")
    fc.report.pemat.mark(4, ok)


def _stream(blocks: list[Block]) -> tuple[str, list[int]]:
    """Join every block in reading order; return the text and where each block starts in it."""
    parts, starts, at = [], [], 0
    for block in blocks:
        starts.append(at)
        parts.append(block.text)
        at += len(block.text) + 2
    return "\n\n".join(parts), starts


def _phrase_re(phrase: str, suffix: bool) -> re.Pattern:
    """Match a phrase case-insensitively; spaces and hyphens are interchangeable.

    With suffix, as whole words with an optional plural ('stents', 'arteries'); without, from
    the start of a word, so 'blood thinner' also finds 'blood thinners'.
    """
    words = [re.escape(w) for w in re.split(r"[\s\-–]+", phrase.strip()) if w]
    if suffix and words[-1].endswith("y"):
        words[-1] = words[-1][:-1] + "(?:y|ies)"
    body = r"[\s\-–]+".join(words)
    return re.compile(r"(?<!\w)" + body + (r"(?:s|es)?(?!\w)" if suffix else ""), re.IGNORECASE)


ABBREVIATION_RE = re.compile(r"^\s*\([A-Z][A-Za-z]{1,6}\)")
EXPLAINED_AFTER_RE = re.compile(
    r"^(?:\s*\(|\s+[-–—]\s|\s*,\s*(?:which|a|an)\b|\s+(?:means|is a|is an|is the|are a|are an|is when)\b)",
    re.IGNORECASE)
EXPLAINED_BEFORE_RE = re.compile(r"(?:\bcalled|\bknown as|\bnamed)\s+(?:an?\s+|the\s+)?$", re.IGNORECASE)


def _explained(stream, lower, start, end, explanations, within, word_starts, word_ends) -> bool:
    """Return True when the use of a term at stream[start:end] is explained nearby."""
    after = stream[end:end + 80]
    abbreviation = ABBREVIATION_RE.match(after)
    if abbreviation:
        after = after[abbreviation.end():]  # "pulmonary embolism (PE) is a ..." still explains it
    if EXPLAINED_AFTER_RE.match(after) or EXPLAINED_BEFORE_RE.search(stream[max(0, start - 40):start]):
        return True
    first_word = bisect_right(word_starts, start) - 1
    last_word = bisect_right(word_starts, end - 1) - 1
    lo = word_starts[max(0, first_word - within)] if word_starts else 0
    hi = word_ends[min(len(word_ends) - 1, last_word + within)] if word_ends else len(stream)
    window = lower[lo:start] + " … " + lower[end:hi]
    return any(_phrase_re(e, suffix=False).search(window) for e in explanations)


def check_english_only(fc: FileCheck) -> None:
    """Say which rules were left out: the glossary, actions and insert sections know English only."""
    if not fc.english:
        fc.add(WARNING, fc.doc.body_line, f"glossary, actions and insert sections are not checked for lang "
                                          f"'{fc.leaflet.lang}'",
               "these checks know English only; ask a fluent reader to check them")


RULES = (check_sentence_length, check_glossary, check_english_only)
