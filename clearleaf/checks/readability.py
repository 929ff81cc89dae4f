"""Reading level: a formula for each language, and the rule that holds a leaflet's prose to it.

A language with no formula here is not graded, with a warning that says so: a formula fitted to
one language misleads in another. A new language's formula is one function in FORMULAS.
"""

from __future__ import annotations

import math
import re

import textstat

from .document import prose_text
from .model import ERROR, WARNING, FileCheck, Readability


def flesch_kincaid(words: int, sentences: int, syllables: int) -> float:
    """Return the Flesch-Kincaid grade level (Kincaid et al., 1975) of a text with these counts."""
    return 0.39 * words / sentences + 11.8 * syllables / words - 15.59


def smog(polysyllables: int, sentences: int) -> float:
    """Return the SMOG grade (McLaughlin, 1969) of a text with this many words of 3+ syllables."""
    return 1.0430 * math.sqrt(polysyllables * 30 / sentences) + 3.1291


def measure(text: str) -> Readability:
    """Return the Flesch-Kincaid grade and SMOG grade of English text, to one decimal.

    textstat 0.7.3 counts the words, sentences and syllables; the formulas are applied here as
    published, because textstat's own flesch_kincaid_grade rounds words per sentence and syllables
    per word to one decimal first, which moves the grade by up to 0.6 (tests/test_check.py).
    Below 3 sentences SMOG is not defined, so it is None here.
    """
    count = textstat.sentence_count(text)
    words = textstat.lexicon_count(text)
    if not words:
        return Readability(None, None, 0, 0)
    fk = _one_decimal(flesch_kincaid(words, count, textstat.syllable_count(text)))
    grade = _one_decimal(smog(textstat.polysyllabcount(text), count)) if count >= 3 else None
    return Readability(fk, grade, words, count)


def _one_decimal(value: float) -> float:
    # Half away from zero, as textstat rounds, so a SMOG grade reads as it did before.
    return math.floor(value * 10 + math.copysign(0.5, value)) / 10


def check_readability(fc: FileCheck) -> None:
    """Measure the prose with its language's formula; say so when the language has none."""
    text = prose_text(fc.doc.prose())
    formula = FORMULAS.get(fc.language)
    if formula is None:
        reading = measure(text)
        fc.report.readability = Readability(None, None, reading.words, reading.sentences)
        fc.add(WARNING, fc.doc.body_line, f"no readability formula is known for lang '{fc.leaflet.lang}', "
                                          "so its reading level is not graded",
               "ask a fluent reader to check the wording is plain")
        return
    formula(fc, text)


def grade_english(fc: FileCheck, text: str) -> None:
    """Grade English with Flesch-Kincaid and SMOG and hold the higher grade to the thresholds."""
    s = fc.settings
    reading = measure(text)
    fc.report.readability = reading
    grade = reading.grade
    if reading.sentences < s.min_sentences or grade is None:
        fc.add(WARNING, fc.doc.body_line, f"only {reading.sentences} sentences: too short to grade reliably",
               f"FK and SMOG need at least {s.min_sentences} sentences (SMOG was designed for 30); "
               "check the wording by hand")
        return
    which = "SMOG" if reading.smog is not None and reading.smog >= (reading.fk or 0) else "Flesch-Kincaid"
    if grade > s.grade_error:
        level, limit = ERROR, s.grade_error
    elif grade > s.grade_warning:
        level, limit = WARNING, s.grade_warning
    else:
        return
    long_words = ", ".join(f"{w} ({n})" for w, n in hard_words(text)[:6])
    fix = "use shorter sentences and fewer long words"
    if long_words:
        fix += f"; words of 3 or more syllables used most: {long_words}"
    fc.add(level, fc.doc.body_line, f"reading grade {grade:.1f} ({which}) is above {limit:g}", fix)


# Spanish reading ease, 0-100 (higher is easier). Fernández-Huerta and Szigriszt-Pazos (INFLESZ)
# put 70+ at "easy" (about US grade 6) and below 60 at "somewhat hard" (past grade 8), matching
# the English thresholds of grade 6 and 8.
SPANISH_EASE = {"warning": 70, "error": 60}


def ease_spanish(fc: FileCheck, text: str) -> None:
    """Score Spanish with Fernández-Huerta and Szigriszt-Pazos and hold the lower score to the limits."""
    # FK and SMOG are fitted to English, so they are left out; the counts are still reported.
    reading = measure(text)
    textstat.set_lang("es")  # Spanish syllable counting (pyphen)
    try:
        scores = {"Fernández-Huerta": float(textstat.fernandez_huerta(text)),
                  "Szigriszt-Pazos": float(textstat.szigriszt_pazos(text))}
    finally:
        textstat.set_lang("en_US")
    fc.report.readability = Readability(None, None, reading.words, reading.sentences, scores)
    name, worst = min(scores.items(), key=lambda kv: kv[1])
    if worst < SPANISH_EASE["error"]:
        level, limit = ERROR, SPANISH_EASE["error"]
    elif worst < SPANISH_EASE["warning"]:
        level, limit = WARNING, SPANISH_EASE["warning"]
    else:
        return
    fc.add(level, fc.doc.body_line, f"reading ease {worst:.1f} ({name}) is below {limit}",
           "use shorter sentences and shorter, everyday words")


# Base language (the part of lang before any '-') -> the function that measures and judges it.
FORMULAS = {"en": grade_english, "es": ease_spanish}


def hard_words(text: str) -> list[tuple[str, int]]:
    """Return the words of 3 or more syllables (those SMOG counts), most used first."""
    counts: dict[str, int] = {}
    for word in re.findall(r"\w[\w'’-]*", text.lower()):
        if textstat.syllable_count(word) >= 3:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


RULES = (check_readability,)
