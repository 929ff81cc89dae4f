"""Interface text in the reader's language: gettext catalogues, dates and writing direction.

The templates are written in English, the source language, with every word a patient reads
wrapped for translation ({% trans %}…{% endtrans %} or _("…")). Each other language has a
catalogue, locales/<lang>/LC_MESSAGES/messages.po, read at run time (no compiled .mo files are
kept). A language without a catalogue is an error, never English text in a translated handout,
and so is an entry the templates use that the catalogue does not translate. docs/translating.md
explains how to extract, update and translate the catalogues.
"""

from __future__ import annotations

import io
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import NullTranslations, Translations

from .config import Project
from .errors import Problem, RenderError

SOURCE_LANGUAGE = "en"
DOMAIN = "messages"
LOCALES = "locales"
# English keeps the day-month-year long date it always had: '26 November 2029', never 'November 26'.
ENGLISH_DATE = "d MMMM y"
PLACEHOLDER_RE = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([a-zA-Z%])")
# Catalogue text is printed as plain text (the templates escape it), so these may not appear in it:
# a translator writes “quotes” and never markup.
FORBIDDEN_IN_TEXT = "<>"

# The commands docs/translating.md gives, quoted in error messages.
EXTRACT_COMMAND = (".venv/bin/pybabel extract -F babel.cfg -c Translators: --project=Clearleaf --version=0.1.0 "
                   '--copyright-holder="the Clearleaf authors" -o locales/messages.pot templates/')
UPDATE_COMMAND = ".venv/bin/pybabel update -i locales/messages.pot -d locales"


def locales_dir(project: Project) -> Path:
    """Return the project's folder of catalogues."""
    return project.root / LOCALES


def primary(lang: str) -> str:
    """Return the primary language subtag: 'es' for 'es-MX', 'ar' for 'ar_EG'."""
    return re.split(r"[-_]", lang or "", maxsplit=1)[0].lower()


def is_source(lang: str) -> bool:
    """Return whether lang is English, the language the templates are written in (no catalogue)."""
    return primary(lang) == SOURCE_LANGUAGE


def _catalogue_names(lang: str) -> list[str]:
    # BCP 47 'es-MX' is 'es_MX' in gettext folders; a regional variant without its own
    # catalogue uses the language's ('es').
    names = [lang.replace("-", "_"), lang]
    if primary(lang) not in names:
        names.append(primary(lang))
    return list(dict.fromkeys(names))


def catalogue_path(project: Project, lang: str) -> Path | None:
    """Return the catalogue file used for lang, or None if there is none."""
    for name in _catalogue_names(lang):
        path = locales_dir(project) / name / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            return path
    return None


def has_catalogue(project: Project, lang: str) -> bool:
    """Return whether handouts can be rendered in lang: English, or a language with a catalogue."""
    return is_source(lang) or catalogue_path(project, lang) is not None


def missing_catalogue(project: Project, lang: str) -> Problem | None:
    """Return the problem to report when lang has no catalogue (None when it can be rendered)."""
    if has_catalogue(project, lang):
        return None
    name = lang.replace("-", "_")
    shown = project.rel(locales_dir(project) / name / "LC_MESSAGES" / f"{DOMAIN}.po")
    return Problem(shown, None, f"there is no catalogue of the interface text in '{lang}', so the headings, "
                   "labels and footer cannot be printed in that language",
                   f"create it with `.venv/bin/pybabel init -i locales/messages.pot -d locales -l {name}` and "
                   "translate every entry (see docs/translating.md), or build another language")


def placeholders(text: str) -> list[str]:
    """Return the %-placeholders in text, sorted: '%(name)s' gives 'name', a bare '%s' gives '%s'."""
    found = []
    for match in PLACEHOLDER_RE.finditer(text):
        name, kind = match.groups()
        if kind == "%":
            continue
        found.append(name if name is not None else f"%{kind}")
    return sorted(found)


def catalogue_problems(catalog, shown: str) -> list[Problem]:
    """Return what is wrong with the translated entries of a catalogue: placeholders and markup.

    Untranslated and fuzzy entries are not reported here; rendering refuses them when used.
    """
    problems = []
    for message in list(catalog)[1:]:
        if not message.id or not message.string or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        wanted = placeholders(ids[0])
        for text in strings:
            if placeholders(text) != wanted:
                problems.append(Problem(
                    shown, message.lineno, f"the translation of '{ids[0]}' has the placeholders "
                    f"{_names(placeholders(text))} but the English has {_names(wanted)}",
                    "keep every %(name)s exactly as in the msgid (translate the words around it)"))
            if any(ch in text for ch in FORBIDDEN_IN_TEXT):
                problems.append(Problem(shown, message.lineno, f"the translation of '{ids[0]}' contains < or >",
                                        "write plain text: the templates add any markup"))
    return problems


def _names(found: list[str]) -> str:
    return ", ".join(f"%({n})s" if not n.startswith("%") else n for n in found) or "none"


class Catalogue(Translations):
    """A gettext catalogue read from a .po file, knowing which language and file it came from."""

    lang: str = SOURCE_LANGUAGE
    path: Path | None = None
    shown: str = ""

    def translates(self, message: str) -> bool:
        """Return whether message has a (non-empty, non-fuzzy) translation."""
        return bool(self._catalog.get(message))


class Source(NullTranslations):
    """English, the source language: every message is its own translation."""

    lang = SOURCE_LANGUAGE
    path = None
    shown = ""

    def translates(self, message: str) -> bool:
        return True


def translations(project: Project, lang: str) -> Catalogue | Source:
    """Return the gettext translations for lang (cached until the .po file changes).

    English needs none. Raise RenderError when lang has no catalogue, or the catalogue cannot be
    read, or a translation's placeholders differ from the English.
    """
    if is_source(lang):
        return Source()
    path = catalogue_path(project, lang)
    if path is None:
        raise RenderError([missing_catalogue(project, lang)])
    stat = path.stat()
    return _load(path.resolve(), stat.st_mtime_ns, stat.st_size, lang, project.rel(path))


@lru_cache(maxsize=32)
def _load(path: Path, mtime_ns: int, size: int, lang: str, shown: str) -> Catalogue:
    fix = "fix the .po file (docs/translating.md), or restore it from the project"
    try:
        with path.open("rb") as f:
            catalog = read_po(f, abort_invalid=True)
    except PoFileError as exc:
        raise RenderError([Problem(shown, getattr(exc, "lineno", None), f"the catalogue cannot be read: {exc}",
                                   fix)]) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RenderError([Problem(shown, None, f"the catalogue cannot be read: {exc}", fix)]) from None
    problems = catalogue_problems(catalog, shown)
    if problems:
        raise RenderError(problems)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    catalogue = Catalogue(fp=buffer, domain=DOMAIN)
    catalogue.lang, catalogue.path, catalogue.shown = lang, path, shown
    return catalogue


def strict_gettext(t: Catalogue | Source, escape_html: bool = False):
    """Return gettext and ngettext callables for Jinja that refuse a message with no translation.

    A Spanish handout with one English heading is a defect, so an entry the catalogue lacks (or
    marks fuzzy) stops the render, naming the entry and the command that brings the catalogue
    up to date. With escape_html the translated text is escaped, so a catalogue can never add
    markup to an HTML template.
    """
    from markupsafe import escape

    def check(key: str, message: str) -> None:
        if not t.translates(key):
            raise RenderError([Problem(
                t.shown, None, f"'{message}' is not translated (or is marked fuzzy) in the '{t.lang}' catalogue",
                f"run `{EXTRACT_COMMAND}` then `{UPDATE_COMMAND}`, and translate the entry "
                "(see docs/translating.md)")])

    def finish(text: str):
        return escape(text) if escape_html else text

    def gettext(message: str):
        check(message, message)
        return finish(t.gettext(message))

    def ngettext(singular: str, plural: str, n: int):
        check(singular, singular)
        return finish(t.ngettext(singular, plural, n))

    def pgettext(context: str, message: str):
        check(f"{context}\x04{message}", f"{message}' (context '{context}")
        return finish(t.pgettext(context, message))

    def npgettext(context: str, singular: str, plural: str, n: int):
        check(f"{context}\x04{singular}", f"{singular}' (context '{context}")
        return finish(t.npgettext(context, singular, plural, n))

    return gettext, ngettext, pgettext, npgettext


def install(env, t: Catalogue | Source, escape_html: bool) -> None:
    """Install strict gettext for t into a Jinja environment that has the i18n extension."""
    gettext, ngettext, pgettext, npgettext = strict_gettext(t, escape_html)
    env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext)
    env.policies["ext.i18n.trimmed"] = True


@lru_cache(maxsize=64)
def locale(lang: str) -> Locale:
    """Return Babel's locale for a BCP 47 tag ('es-MX'), or for its language ('es') if Babel lacks it."""
    for tag in (lang, primary(lang)):
        try:
            return Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    raise RenderError([Problem("lang", None, f"'{lang}' is not a language Clearleaf can format dates for",
                               "use a BCP 47 language tag such as en, es or ar")])


def is_rtl(lang: str) -> bool:
    """Return whether lang is written right to left (Arabic, Hebrew, Persian, Urdu...)."""
    try:
        return locale(lang).character_order == "right-to-left"
    except RenderError:
        return False


def direction(lang: str) -> str:
    """Return the HTML dir value for lang: 'rtl' or 'ltr'."""
    return "rtl" if is_rtl(lang) else "ltr"


def format_date(value, lang: str) -> str:
    """Return a long date in lang: '26 November 2029', '26 de noviembre de 2029', '26 نوفمبر 2029'."""
    if is_source(lang):
        return _babel_format_date(value, ENGLISH_DATE, locale="en")
    return _babel_format_date(value, "long", locale=locale(lang))


def text_direction(text) -> str:
    """Return 'rtl' if text's first strong character is right-to-left, else 'ltr'.

    For values typed by people (a patient's name, a dose): '5 mg' and '(555) 010-0142' stay
    left to right inside an Arabic page, and an Arabic name reads right to left in any page.
    """
    for ch in str(text or ""):
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"
