"""Load and check leaflets and inserts: front matter, placeholders, Markdown, images."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from mdit_py_plugins.admon import admon_plugin

from . import i18n
from .config import ORG_FILE, Org, Project, check_org, compose, mapping_items, node_value, public_org, read_text
from .errors import Problem, Problems
from .schema import BY_NAME, FIELDS, ID_RE, LANG_RE, parse_value, suggest

CALLOUT_TYPES = ("danger", "warning", "note", "tip")
IMAGE_TYPES = (".svg", ".png", ".jpg", ".jpeg")
RAW_HTML_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--")
# Every ASCII punctuation mark may be backslash-escaped in CommonMark, so an org value such as
# "Smith & *Sons*" or "1. Ward" always prints as typed and never turns into Markdown.
MD_PUNCT_RE = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
REMOTE_IMAGE_RE = re.compile(r"!\[[^\]]*\]\(\s*<?((?:[a-zA-Z][a-zA-Z0-9+.-]*:)[^)\s>]*)")
LEAFLET, INSERT = "leaflet", "insert"
# Far more than any leaflet needs (the longest is about 10 KB), and little enough that a file
# given by mistake is refused before it is read.
MAX_CONTENT_BYTES = 256_000
MAX_PICTURE_BYTES = 5_000_000


@dataclass
class Leaflet:
    """A checked leaflet or insert, with its metadata and its body as HTML."""

    id: str
    kind: str
    path: Path
    shown: str
    meta: dict
    lines: dict
    html: str  # the body after `lead`
    callouts: list = field(default_factory=list)  # (type, title, line)
    lead: str = ""  # danger callouts that open the body: the template keeps them first on page 1
    translated: bool = False  # loaded from <id>.<lang>.md
    body: str = ""  # the Markdown after the front matter, as written (build.py check reads it)
    body_line: int = 0  # the file's line number of the body's first line

    @property
    def title(self) -> str:
        return self.meta["title"]

    @property
    def lang(self) -> str:
        return self.meta.get("lang", "en")

    def is_overdue(self, today: date) -> bool:
        return self.meta["review_by"] < today


@dataclass
class Library:
    """Everything loaded for one run: the org config, leaflets, inserts and warnings."""

    project: Project
    org: Org  # leaflets/org.yaml, read once: a Mapping of its values, with typed attributes
    leaflets: dict = field(default_factory=dict)  # id -> the source-language leaflet
    inserts: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    translations: dict = field(default_factory=dict)  # (kind, id, lang) -> Leaflet

    def get(self, kind: str, id_: str, lang: str | None = None) -> Leaflet | None:
        """Return a leaflet or insert in a language (its source language when lang is None)."""
        source = (self.leaflets if kind == LEAFLET else self.inserts).get(id_)
        if lang is None or (source is not None and source.lang == lang):
            return source
        return self.translations.get((kind, id_, lang))

    def languages(self, kind: str, id_: str) -> list[str]:
        """Return the languages a leaflet or insert was loaded in: its source language first."""
        return self._source_first(kind, id_, (lang for (k, i, lang) in self.translations if k == kind and i == id_))

    def on_disk(self, kind: str, id_: str) -> list[str]:
        """Return the languages a leaflet or insert has a file in, loaded or not: its source language first."""
        return self._source_first(kind, id_, (lang for i, lang in translation_files(self.project, kind) if i == id_))

    def _source_first(self, kind: str, id_: str, translated) -> list[str]:
        source = (self.leaflets if kind == LEAFLET else self.inserts).get(id_)
        return ([source.lang] if source else []) + [lang for lang in sorted(translated)
                                                    if not source or lang != source.lang]


def available_ids(project: Project, kind: str) -> list[str]:
    """Return the ids of every source leaflet (or insert) file, sorted; translations are not ids."""
    folder = project.leaflets if kind == LEAFLET else project.inserts
    return sorted(p.stem for p in folder.glob("*.md") if "." not in p.stem) if folder.is_dir() else []


def translation_files(project: Project, kind: str) -> list[tuple[str, str]]:
    """Return (id, lang) for every translation file, <id>.<lang>.md, sorted."""
    folder = project.leaflets if kind == LEAFLET else project.inserts
    found = []
    for path in sorted(folder.glob("*.*.md")) if folder.is_dir() else []:
        id_, _, lang = path.name.removesuffix(".md").partition(".")
        found.append((id_, lang))
    return found


def load(project: Project, leaflet_ids=None, insert_ids=(), problems: Problems | None = None,
         drawable: frozenset | None = None, langs=None) -> Library:
    """Load and check leaflets; with no ids, every leaflet and insert.

    Problems go to `problems` when given, so the caller can add its own checks and stop once;
    otherwise they are raised here. `drawable` is the set of characters the fonts have.
    `langs` chooses translations to load too: None for none, "all", or a list of languages.
    """
    raise_here = problems is None
    problems = Problems() if problems is None else problems
    org = check_org(project, problems)
    if drawable is not None and org.text:
        # The text check_org read: org.yaml is read once per run.
        check_characters(project.rel(project.leaflets / ORG_FILE), org.text, drawable, problems)
    library = Library(project, org)
    known_leaflets = available_ids(project, LEAFLET)
    known_inserts = available_ids(project, INSERT)
    if leaflet_ids is None:
        wanted = [(LEAFLET, i) for i in known_leaflets] + [(INSERT, i) for i in known_inserts]
    else:
        wanted = [(LEAFLET, i) for i in leaflet_ids] + [(INSERT, i) for i in insert_ids]
    for kind, id_ in dict.fromkeys(wanted):
        known = known_leaflets if kind == LEAFLET else known_inserts
        if not _check_id(project, kind, id_, known, problems):
            continue
        leaflet = load_file(project, kind, id_, org, problems, library.warnings, drawable)
        if leaflet is None:
            continue
        if kind == LEAFLET:
            for listed in leaflet.meta.get("inserts", []):
                if listed not in known_inserts:
                    problems.add(leaflet.shown, leaflet.lines["inserts"], f"unknown insert '{listed}'",
                                 _choose_from("inserts", known_inserts))
            library.leaflets[id_] = leaflet
        else:
            library.inserts[id_] = leaflet
    if langs is not None:
        load_translations(project, library, {id_ for _, id_ in wanted}, langs, problems, drawable)
    if raise_here:
        problems.raise_if_any()
    return library


def load_translations(project: Project, library: Library, ids: set, langs, problems: Problems,
                      drawable: frozenset | None) -> None:
    """Load the wanted <id>.<lang>.md files ("all", or a list of languages) into library, and check
    them against their source, which library already holds."""
    for kind in (LEAFLET, INSERT):
        known = available_ids(project, kind)
        for id_, lang in translation_files(project, kind):
            folder = "leaflets/" if kind == LEAFLET else "leaflets/inserts/"
            shown = f"{folder}{id_}.{lang}.md"
            if not ID_RE.match(id_) or not LANG_RE.match(lang) or id_ not in known:
                problems.add(shown, None, f"'{id_}.{lang}.md' is not a translation of a {kind}",
                             f"name it <id>.<lang>.md after an existing {kind}, e.g. {(known or ['dvt'])[0]}.es.md")
                continue
            if id_ not in ids or (langs != "all" and lang not in langs):
                continue
            item = load_file(project, kind, id_, library.org, problems, library.warnings, drawable, lang)
            if item is None:
                continue
            source = library.get(kind, id_)
            if source is not None and lang == source.lang:
                problems.add(item.shown, item.lines["lang"], f"this translation is in {lang}, the source's own language",
                             "delete it, or rename it for the language it is in")
                continue
            library.translations[(kind, id_, lang)] = item


def out_of_date(source: Leaflet | None, translation: Leaflet) -> bool:
    """Return True when the source leaflet's version has moved on since the translation."""
    return source is not None and translation.meta.get("translation_of") != source.meta["version"]


def check_characters(shown: str, text: str, drawable: frozenset, problems: Problems) -> None:
    """Report characters the fonts cannot draw; WeasyPrint would silently use a system font."""
    seen = set()
    for n, line in enumerate(text.split("\n"), start=1):
        for ch in line:
            if ord(ch) not in drawable and ch not in seen and ch not in "\t\r":
                seen.add(ch)
                problems.add(shown, n, f"the character '{ch}' (U+{ord(ch):04X}) is not in the leaflet fonts",
                             "replace it with words or a plain character (e.g. '->' becomes 'then')")


def _choose_from(what: str, ids: list[str]) -> str:
    return f"available {what}: {', '.join(ids)}" if ids else f"there are no {what} yet"


def _check_id(project: Project, kind: str, id_: str, known: list[str], problems: Problems) -> bool:
    folder = "leaflets/" if kind == LEAFLET else "leaflets/inserts/"
    if not ID_RE.match(id_):
        # Also what stops an id such as ../../etc/passwd from leaving leaflets/.
        problems.add(folder, None, f"'{id_}' is not a valid {kind} id",
                     "ids are lowercase words joined by hyphens; run 'build.py list' to see them")
        return False
    if id_ not in known:
        problems.add(f"{folder}{id_}.md", None, f"no such {kind} '{id_}'", _choose_from(f"{kind}s", known))
        return False
    return True


def load_file(project: Project, kind: str, id_: str, org: dict, problems: Problems,
              warnings: list | None = None, drawable: frozenset | None = None,
              lang: str | None = None) -> Leaflet | None:
    """Load one leaflet or insert (or, with lang, its translation), adding every problem found."""
    name = f"{id_}.{lang}.md" if lang else f"{id_}.md"
    path = (project.leaflets if kind == LEAFLET else project.inserts) / name
    shown = project.rel(path)
    local = Problems()
    if path.is_symlink() and not path.resolve().is_relative_to(project.leaflets.resolve()):
        # As with pictures: the renderer reads only the project's own files.
        problems.add(shown, None, "the file is a link to a file outside leaflets/",
                     "copy the file into leaflets/ instead of linking to it")
        return None
    text = read_text(path, shown, local, MAX_CONTENT_BYTES)
    if text is None:
        problems.extend(local)
        return None
    if drawable is not None:
        check_characters(shown, text, drawable, local)
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        local.add(shown, 1, "the file does not start with front matter",
                  "start it with a line '---', then the keys (title, code, ...), then another '---'")
        problems.extend(local)
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        local.add(shown, 1, "the front matter is never closed", "add a line '---' after the last key")
        problems.extend(local)
        return None
    meta, meta_lines = _check_front_matter(kind, "\n".join(lines[1:end]), shown, end + 1, local, lang)
    body = "\n".join(lines[end + 1:])
    body_first = end + 2
    if "sources" not in meta or meta["sources"]:  # a bad sources list is reported already
        check_citations(body, body_first, len(meta.get("sources") or ()), shown, meta_lines, local)
    rtl = i18n.is_rtl(meta.get("lang", "en")) if meta.get("lang") else False
    rendered = _render_placeholders(body, public_org(org, meta.get("lang")), shown, body_first, local,
                                    RTL_CONTENT_ENV if rtl else CONTENT_ENV)
    # Even when a placeholder is wrong, check the Markdown too, so every problem shows in one run.
    (lead, html), callouts = _markdown(project, body if rendered is None else rendered, shown, body_first, local,
                                       warnings)
    if rtl:
        lead, html = _ltr_spans(lead), _ltr_spans(html)
    problems.extend(local)
    if local:
        return None
    return Leaflet(id_, kind, path, shown, meta, meta_lines, html, callouts, lead, translated=bool(lang),
                   body=body, body_line=body_first)


CITATION_RE = re.compile(r"\[(\d{1,3})\](?!\()")  # [2], but not a Markdown link [2](...)


def check_citations(body: str, first_line: int, count: int, shown: str, meta_lines: dict,
                    problems: Problems) -> None:
    """Every [n] in the text must name one of the numbered sources."""
    for n, line in enumerate(body.split("\n")):
        for found in CITATION_RE.finditer(line):
            number = int(found.group(1))
            if count == 0:
                problems.add(shown, first_line + n, f"[{number}] cites a source, but 'sources' lists none",
                             "add the source to 'sources:' in the front matter (they are numbered from 1)")
            elif not 1 <= number <= count:
                problems.add(shown, first_line + n, f"[{number}] cites source {number}, but 'sources' lists {count}",
                             f"cite a number from 1 to {count}, or add the source to 'sources:' "
                             f"(line {meta_lines.get('sources', 2)})")


def _check_front_matter(kind: str, text: str, shown: str, close_line: int, problems: Problems,
                        lang: str | None = None):
    meta: dict = {}
    lines: dict = {}
    root = compose(text, shown, 2, problems)
    if root is None:
        if not problems:
            problems.add(shown, 2, "the front matter is empty", "add the required keys (see docs/authoring.md)")
        return meta, lines
    bad = set()
    for key, node, line in mapping_items(root, shown, 2, problems, "the front matter"):
        lines[key] = line
        spec = BY_NAME.get(key)
        if spec is None:
            problems.add(shown, line, f"unknown key '{key}'", suggest(key))
            continue
        if spec.leaflet_only and kind == INSERT:
            problems.add(shown, line, f"'{key}' is only for leaflets, not inserts", f"remove '{key}' from this insert")
            continue
        value, problem, fix = parse_value(spec, node_value(node))
        if problem:
            bad.add(key)
            problems.add(shown, line, problem, fix)
        else:
            meta[key] = value
    for spec in FIELDS:
        if spec.required and spec.name not in lines:
            problems.add(shown, close_line, f"required key '{spec.name}' is missing",
                         f"add a line '{spec.name}: {spec.example}' to the front matter")
    if lang is None and "translation_of" in lines:
        problems.add(shown, lines["translation_of"], "'translation_of' is only for translations",
                     "remove it; a translation is a file named <id>.<lang>.md")
    if lang is not None:
        if "translation_of" not in lines:
            problems.add(shown, close_line, "a translation needs 'translation_of'",
                         'add the version of the source it translates, e.g. translation_of: "1.0"')
        if meta.get("lang", lang) != lang or "lang" not in lines:
            problems.add(shown, lines.get("lang", close_line), f"lang must be '{lang}', as in the file name",
                         f"set lang: {lang}")
    if "published" in meta and "review_by" in meta and meta["review_by"] <= meta["published"]:
        problems.add(shown, lines["review_by"],
                     f"review_by {meta['review_by']} is not after published {meta['published']}",
                     "set review_by to a later date (at most 3 years after published)")
    meta.setdefault("lang", "en")
    return meta, lines


def _content_env(isolate: bool = False) -> SandboxedEnvironment:
    # Sandboxed and strict like the HTML templates; instead of HTML-escaping (Markdown runs next
    # and would show "&amp;"), every value is Markdown-escaped, so it always prints as plain text.
    # In right-to-left text each value is also isolated: one with no letters of its own (a phone
    # number such as "(555) 010-0142", the emergency number) between LRI and PDI, which
    # _ltr_spans turns into <span dir="ltr"> after Markdown (Pango does not honour the bare
    # isolates: "(555)" would print after "010-0142"); any other value between FSI and PDI.
    def finalize(value):
        text = MD_PUNCT_RE.sub(r"\\\1", str(value))
        if not isolate:
            return text
        return (LRI if LETTER_RE.search(text) is None else FSI) + text + PDI

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                finalize=finalize)


FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"
LETTER_RE = re.compile(r"[^\W\d_]")  # any letter, in any script
LTR_RUN_RE = re.compile(f"{LRI}([^{LRI}{FSI}{PDI}<>]*){PDI}")


def _ltr_spans(html: str) -> str:
    """Turn each LRI ... PDI run left by a right-to-left placeholder into a left-to-right span."""
    return LTR_RUN_RE.sub(r'<span dir="ltr" class="ltr nowrap">\1</span>', html)


CONTENT_ENV = _content_env()
RTL_CONTENT_ENV = _content_env(isolate=True)


def _render_placeholders(body: str, org: dict, shown: str, first: int, problems: Problems,
                         env: SandboxedEnvironment = CONTENT_ENV) -> str | None:
    """Fill {{ org.key }} placeholders (org: the printable details); report each unknown one with its line."""
    context = {"org": org}
    try:
        tree = CONTENT_ENV.parse(body)
    except TemplateSyntaxError as exc:
        problems.add(shown, first + (exc.lineno or 1) - 1, f"broken placeholder: {exc.message}",
                     "write placeholders as {{ org.name }}, with two braces on each side")
        return None
    count = len(problems.items)
    report = lambda line, msg, fix: problems.add(shown, first + line - 1, msg, fix)  # noqa: E731
    # Refused before anything is rendered: {{ "lol" * 300000000 }} took 4.3 GB, and hung `list`.
    _check_only_placeholders(tree, report)
    if len(problems.items) > count:
        return None
    _check_names(tree, context, set(), report)
    if len(problems.items) > count:
        return None
    try:
        return env.from_string(tree).render(context)
    except TemplateError as exc:
        problems.add(shown, first, f"placeholder failed: {exc}", "use only {{ org.<key> }} placeholders")
        return None


PLACEHOLDER_FIX = "write the text out, or name one organisation detail from leaflets/org.yaml, e.g. {{ org.name }}"
# What a placeholder is, when it is more than a name: said in the error, never run.
EXPRESSION_KINDS = ((nodes.BinExpr, "a calculation"), (nodes.UnaryExpr, "a calculation"),
                    (nodes.Filter, "a filter"), (nodes.Test, "a test"), (nodes.Call, "a call"),
                    (nodes.CondExpr, "a condition"), (nodes.Compare, "a comparison"),
                    (nodes.Literal, "a fixed value"), (nodes.Slice, "a slice"), (nodes.Concat, "a calculation"))


def _check_only_placeholders(tree, report) -> None:
    """Report, with its line, anything in content but text and {{ org.<key> }} placeholders.

    Leaflets need nothing else, and Jinja's sandbox does not bound the time or memory an
    expression or a loop may take, so nothing else is ever run.
    """
    for node in tree.body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData) and not _is_path(child):
                    kind = next((k for cls, k in EXPRESSION_KINDS if isinstance(child, cls)), "an expression")
                    report(child.lineno, f"only {{{{ org.<key> }}}} placeholders are allowed, not {kind}",
                           PLACEHOLDER_FIX)
        else:
            tag = _STATEMENT_TAGS.get(type(node).__name__, type(node).__name__.lower())
            report(node.lineno, f"only {{{{ org.<key> }}}} placeholders are allowed, not {{% {tag} %}}",
                   PLACEHOLDER_FIX)


_STATEMENT_TAGS = {"Assign": "set", "AssignBlock": "set", "FilterBlock": "filter", "CallBlock": "call",
                   "FromImport": "from", "Scope": "with", "ScopedEvalContextModifier": "autoescape",
                   "EvalContextModifier": "autoescape", "ExprStmt": "do", "Continue": "continue",
                   "Break": "break"}


def _is_path(node) -> bool:
    """Return True for a name, or a name followed by .key and ['key'] steps: org.phones.team.number."""
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getitem) and not (isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
            return False
        node = node.node
    return isinstance(node, nodes.Name) and node.ctx == "load"


_MISSING = object()


def _check_names(node, context, stored, report):
    """Walk the template tree and report every name or key that the context does not have."""
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name in stored:
            return None
        if node.name not in context:
            report(node.lineno, f"unknown placeholder '{node.name}'", "use {{ org.<key> }}; org keys are listed in leaflets/org.yaml")
            return _MISSING
        return context[node.name]
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        base = _check_names(node.node, context, stored, report)
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if base is _MISSING or not isinstance(base, Mapping):
            return _MISSING if base is _MISSING else None
        if key not in base:
            dotted = _dotted(node)
            choices = ", ".join(sorted(base)) or "none"
            report(node.lineno, f"unknown placeholder '{dotted}'", f"choose one of: {choices} (set in leaflets/org.yaml)")
            return _MISSING
        value = base[key]
        return value
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            value = _check_names(child, context, stored, report)
            if isinstance(value, (Mapping, list)):
                report(child.lineno, f"placeholder '{_dotted(child)}' is a group, not a value",
                       f"name one of its keys: {', '.join(sorted(value)) if isinstance(value, Mapping) else 'an item'}")
        return None
    for child in node.iter_child_nodes():
        _check_names(child, context, stored, report)
    return None


def _dotted(node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_dotted(node.node)}[{getattr(node.arg, 'value', '?')!r}]"
    return "expression"


LINK_SCHEMES = ("https", "http", "mailto", "tel")  # what a patient's PDF reader may open
LINK_SCHEME_RE = re.compile(r"(?:(?<!!)\[[^\]]*\]\(\s*<?|<)([A-Za-z][A-Za-z0-9+.-]*):")


def _scheme(url: str) -> str | None:
    """Return the lower-case scheme of an address ('https'), or None when it has none."""
    found = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*):", url)
    return found.group(1).lower() if found else None


def _safe_link(url: str) -> bool:
    """markdown-it's check of link and picture addresses: a scheme must be one of LINK_SCHEMES.

    An address with no scheme passes here, as pictures need (images/x.svg; _check_image checks
    them); a link with no scheme is refused in _markdown, as it would open a local file.
    """
    return _scheme(url) in (None, *LINK_SCHEMES)


def _markdown_parser() -> MarkdownIt:
    # CommonMark with raw HTML off, so "<b>" in content prints as text and is never rendered.
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).use(admon_plugin)
    md.validateLink = _safe_link
    md.add_render_rule("admonition_open", _render_callout_open)
    md.add_render_rule("admonition_title_open", lambda *a: '<p class="callout-title">')
    return md


def _render_callout_open(self, tokens, idx, options, env):
    kind = tokens[idx].meta.get("tag", "note")
    return f'<div class="callout callout-{kind}">\n'


MARKDOWN = _markdown_parser()


def _markdown(project: Project, body: str, shown: str, first: int, problems: Problems, warnings):
    """Convert the body to HTML, checking headings, callouts and images on the way."""
    tokens = MARKDOWN.parse(body)
    source = body.split("\n")
    callouts = []
    for i, tok in enumerate(tokens):
        line = first + (tok.map[0] if tok.map else 0)
        if tok.type == "heading_open" and tok.tag == "h1":
            problems.add(shown, line, "a '#' heading is not allowed in the body",
                         "the title comes from the front matter; use '##' for section headings")
        elif tok.type == "admonition_open":
            kind = tok.meta.get("tag", "")
            title = tokens[i + 2].content if tokens[i + 1].type == "admonition_title_open" else ""
            if kind not in CALLOUT_TYPES:
                problems.add(shown, line, f"unknown callout type '{kind}'",
                             f"use one of {', '.join(CALLOUT_TYPES)}, e.g. !!! danger \"Call 911\"")
            callouts.append((kind, title, line))
        elif tok.type == "inline" and tok.children:
            for child in tok.children:
                if child.type == "image":
                    _check_image(project, child, tok, source, shown, first, problems)
                elif child.type == "link_open":
                    href = child.attrs.get("href", "")
                    if not href.startswith("#") and _scheme(href) not in LINK_SCHEMES:
                        problems.add(shown, line, f"the link '{href}' would open a file on this computer",
                                     "link to a web page (https://...), an e-mail address (mailto:) or a phone "
                                     "number (tel:)")
    _check_nesting(tokens, shown, first, problems)
    for n, text in enumerate(source):
        for scheme in LINK_SCHEME_RE.findall(text):
            if scheme.lower() not in LINK_SCHEMES:
                problems.add(shown, first + n, f"a '{scheme}:' link would open a program or a file share from the PDF",
                             f"link only to {', '.join(s + ':' for s in LINK_SCHEMES)} addresses")
    for n, text in enumerate(source):
        # markdown-it drops images whose URL has an unsafe scheme, so they would vanish silently.
        for src in REMOTE_IMAGE_RE.findall(text):
            problems.add(shown, first + n, f"image '{src}' is outside leaflets/",
                         "put the image in leaflets/images/ and write its path as images/<name>.svg")
    if warnings is not None:
        for n, text in enumerate(source):
            if RAW_HTML_RE.search(text):
                warnings.append(Problem(shown, first + n, "raw HTML is not rendered and will print as text",
                                        "use Markdown instead (blank line for a new paragraph, ** for bold)"))
    split = _lead_end(tokens)
    render = MARKDOWN.renderer.render
    return (render(tokens[:split], MARKDOWN.options, {}), render(tokens[split:], MARKDOWN.options, {})), callouts


MAX_LIST_DEPTH = 4  # a leaflet never needs more, and a reader cannot follow more


def _check_nesting(tokens, shown: str, first: int, problems: Problems) -> None:
    """Refuse lists nested too deep: past markdown-it's limit (ten lists) the rest of the leaflet,
    emergency advice included, silently vanished from the PDF."""
    depth = 0
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
            if depth > MAX_LIST_DEPTH:
                problems.add(shown, first + (tok.map[0] if tok.map else 0),
                             f"a list nested {depth} levels deep; at most {MAX_LIST_DEPTH} print reliably",
                             "use fewer levels: split the list, or turn the inner items into sentences")
                return
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
    limit = MARKDOWN.options.get("maxNesting", 20)
    deepest = max(tokens, key=lambda t: t.level, default=None)
    if deepest is not None and deepest.level >= limit - 1:
        problems.add(shown, first + (deepest.map[0] if deepest.map else 0),
                     "the text nests too deeply (quotes, lists or callouts inside each other): what follows would "
                     "not print", "nest less: most leaflets need no more than a list inside a callout")


def _lead_end(tokens) -> int:
    """Return where the danger callouts that open the body end (0 if it opens with anything else)."""
    end = 0
    while end < len(tokens) and tokens[end].type == "admonition_open" and tokens[end].meta.get("tag") == "danger":
        depth = 0
        for n in range(end, len(tokens)):
            depth += tokens[n].nesting if tokens[n].type.startswith("admonition") else 0
            if depth == 0 and tokens[n].type == "admonition_close":
                end = n + 1
                break
    return end


def _check_image(project: Project, image, block, source, shown, first, problems):
    src = image.attrGet("src") or ""
    line = first + (block.map[0] if block.map else 0)
    if block.map:
        for n in range(block.map[0], block.map[1]):
            if src and f"]({src}" in source[n].replace("\\", ""):
                line = first + n
                break
    if not image.content.strip():
        problems.add(shown, line, f"image '{src}' has no alt text",
                     "describe the picture in the brackets: ![A leg with a swollen calf](images/leg.svg)")
    parts = urlsplit(src)
    root = project.leaflets.resolve()
    target = (project.leaflets / unquote(parts.path)).resolve()
    if parts.scheme or parts.netloc or src.startswith("/") or not target.is_relative_to(root):
        problems.add(shown, line, f"image '{src}' is outside leaflets/",
                     "put the image in leaflets/images/ and write its path as images/<name>.svg")
    elif target.suffix.lower() not in IMAGE_TYPES:
        problems.add(shown, line, f"image '{src}' is not an SVG, PNG or JPEG", "convert it to SVG or PNG")
    elif not target.is_file():
        problems.add(shown, line, f"image '{src}' does not exist",
                     "check the spelling, or add the file to leaflets/images/")
    elif target.stat().st_size > MAX_PICTURE_BYTES:
        problems.add(shown, line, f"image '{src}' is {target.stat().st_size / 1e6:.1f} MB; the most is "
                     f"{MAX_PICTURE_BYTES // 1_000_000} MB", "save it smaller: an SVG, or a PNG at 300 dpi for its "
                     "printed size")
