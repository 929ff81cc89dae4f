"""The build pipeline: load and check content, plan the handouts, render them, write them."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from markupsafe import Markup

from . import lazy, manifest, pdf
from .config import Project
from .errors import ContentError, Problem, Problems, RenderError, cannot, os_reason

if TYPE_CHECKING:
    from .content import Leaflet, Library

# Imported on first use: a build starts its render workers first (build), so that they import
# WeasyPrint while this process imports these and reads the content.
content, i18n, personal, records, render = lazy.modules("content", "i18n", "personal", "records", "render")

DUE_SOON = timedelta(days=90)
OUT_FIX = "choose another --out folder, or check its permissions and free space"
# The rows of "Your details" a patient must find on page 1 (templates/your-details.html).
PERSONAL_FIRST_PAGE = ("your-details", "row-name", "row-medicine", "row-dose", "row-how-often", "row-until")


@dataclass
class Job:
    """One PDF to make: which parts, in which style (paper, variant), written where."""

    style: pdf.Style
    parts: list[Leaflet]
    path: Path
    html: str = ""
    pages: int = 0
    reused: bool = False  # unchanged since the last build (clearleaf/manifest.py): not rendered again

    @property
    def paper(self) -> str:
        return self.style.paper

    @property
    def lang(self) -> str:
        """The handout's language: one language throughout, so the leaflet's."""
        return self.parts[0].lang


@dataclass
class Result:
    """What a build wrote and what it warned about."""

    jobs: list[Job]
    warnings: list[str]
    removed: list[Path] = field(default_factory=list)  # PDFs of deleted sources, removed by prune


def build(project: Project, ids=None, papers=pdf.PAPERS, inserts=(), out: Path = Path("dist"),
          allow_overdue: bool = False, today: date | None = None, variant: str = "standard",
          bleed: str | None = None, crop_marks: bool = False, langs=None, progress=None, force: bool = False,
          prune: bool = False, variants: tuple[str, ...] | None = None) -> Result | manifest.Replayed:
    """Build PDFs: every leaflet and insert, or the given leaflets combined with the given inserts.

    variants, when given, builds each of them (standard and large print) in one run instead of
    variant alone. langs: the languages to build; None builds every language present. progress(done, total),
    if given, is called as each PDF is rendered. A PDF whose inputs are unchanged since the last
    build into out is not rendered again (clearleaf/manifest.py) unless force; a whole build with
    nothing changed is answered from the manifest (manifest.replay). PDFs whose source file is
    gone are reported, and with prune deleted.
    """
    today = today or date.today()
    out = Path(out)
    variants = tuple(variants or (variant,))
    options = manifest.run_options(ids, papers, inserts, allow_overdue, today, variants, bleed, crop_marks, langs,
                                   prune)
    # Taken before anything is read: an edit made during this build is seen by the next one.
    run = manifest.Run(options, manifest.inputs(project))
    if not force and (replayed := manifest.replay(project, out, options, run.inputs)):
        return replayed
    styles = [pdf.Style(paper, v, bleed, crop_marks) for v in variants for paper in papers]
    with contextlib.ExitStack() as stack:
        pool = None
        # --force still reads the manifest: it renders everything, but keeps the other PDFs' entries.
        known = manifest.read(out)
        if not ids:
            # Start the workers now, so they import WeasyPrint and load the fonts while this
            # process reads the content and makes the HTML. Something changed (the manifest could
            # not answer), so there is something to render, if only an edited leaflet's few PDFs.
            workers = pdf.pool_workers(_expected_pdfs(project, styles))
            if workers:
                pool = stack.enter_context(pdf.BuildPool(project, workers, styles))
        return _build(project, ids, styles, inserts, out, allow_overdue, today, langs, progress, force,
                      prune, known, pool, run)


def _expected_pdfs(project: Project, styles) -> int:
    """About how many PDFs a full build makes: one per leaflet, insert and translation, per style."""
    files = [*project.leaflets.glob("*.md"), *project.inserts.glob("*.md")]
    return len(files) * len(styles)


def _build(project: Project, ids, styles, inserts, out: Path, allow_overdue: bool, today: date, langs, progress,
           force: bool, prune: bool, known: dict, pool, run: manifest.Run) -> Result:
    problems = Problems()
    # Every translation is loaded, so a missing language can be answered with the ones there are.
    library = content.load(project, list(ids) if ids else None, list(inserts), problems, pdf.font_characters(),
                           langs="all")
    jobs = plan(library, ids, styles, inserts, out, allow_overdue, today, problems, langs)
    _check_writable(out, problems)
    # Every content problem in every file is known by now: report them all at once.
    problems.raise_if_any(ContentError)
    warnings = [f"warning: {w}" for w in library.warnings]
    keys = {}  # the manifest key of each job, by its path under out
    for job in jobs:
        job.html = render.render_html(project, library.org, job.parts, job.paper, today, lang=job.lang)
        relative = _relative(job.path, out)
        keys[relative] = manifest.key(project, job.style, job.html)
        if not force and manifest.unchanged(out, relative, known.get(relative), keys[relative]):
            job.reused, job.pages = True, known[relative].pages
    todo = [job for job in jobs if not job.reused]
    results = pdf.render_all(project, [(job.style, job.html) for job in todo], done=counter(progress, len(todo)),
                             pool=pool)
    for job, rendered in zip(todo, results):
        job.pages = rendered.pages
        warnings += [f"warning: {job.path.name} ({job.style.folder}): {w}" for w in rendered.warnings]
        _check_first_page(job, rendered, problems)
        check_pictures(project, job.parts, rendered, problems)
    problems.raise_if_any(RenderError)
    # Nothing is written until every PDF has rendered and passed its checks.
    entries = dict(known)
    for job, rendered in zip(todo, results):
        try:
            pdf.write_atomic(job.path, rendered.pdf)
        except OSError as exc:
            raise cannot(job.path, "write the PDF", exc, OUT_FIX, RenderError) from None
        relative = _relative(job.path, out)
        entries[relative] = manifest.Entry(keys[relative], hashlib.sha256(rendered.pdf).hexdigest(), rendered.pages,
                                           [p.shown for p in job.parts])
    removed = []
    for relative, entry in sorted(entries.items()):
        gone = [source for source in entry.sources if not (project.root / source).exists()]
        if gone and (out / relative).exists():
            if prune:
                (out / relative).unlink()
                removed.append(out / relative)
                del entries[relative]
            else:
                warnings.append(f"warning: {out / relative}: its source {gone[0]} is gone — "
                                "delete the PDF, or build with --prune to remove every such PDF")
        elif gone:
            del entries[relative]
    run.outputs, run.warnings = [_relative(job.path, out) for job in jobs], warnings
    try:
        manifest.write(out, entries, run)
    except OSError as exc:
        raise cannot(out / manifest.NAME, "write the build manifest", exc,
                     OUT_FIX + "; the PDFs are written, and the next build renders them again") from None
    return Result(jobs, warnings, removed)


def _relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def _check_writable(out: Path, problems: Problems) -> None:
    """Report an output folder that cannot be made, before any rendering starts."""
    try:
        kind = pdf.existing(out)
        if kind is None:
            out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.add(str(out), None, f"cannot create the output folder: {os_reason(exc)}", "choose another --out folder")
        return
    if kind not in (None, "folder"):
        problems.add(str(out), None, "cannot create the output folder: it is a file, not a folder",
                     "choose another --out folder")
    elif not os.access(out, os.W_OK):
        problems.add(str(out), None, "the output folder is not writable", "choose another --out folder")


def plan(library: Library, ids, styles, inserts, out: Path, allow_overdue: bool, today: date,
         problems: Problems, langs=None) -> list[Job]:
    """Decide which PDFs to make; refuse overdue leaflets and inserts a leaflet does not list.

    langs is None for every language present, or the languages asked for; a combined handout
    uses one language throughout, so each language needs the leaflet and all its inserts.
    """
    chosen = [i for i in ids if i in library.leaflets] if ids else list(library.leaflets)
    extra = [i for i in inserts if i in library.inserts]
    for leaflet in (library.leaflets[i] for i in chosen):
        listed = leaflet.meta.get("inserts", [])
        for insert in extra:
            if insert not in listed:
                problems.add(leaflet.shown, leaflet.lines.get("inserts", 1),
                             f"insert '{insert}' is not listed for this leaflet",
                             f"this leaflet lists: {', '.join(listed)}" if listed
                             else "this leaflet lists no inserts; add them under 'inserts:' if they belong")
    groups = []  # (parts, file name without .pdf, subfolder)
    for leaflet_id in chosen:
        names = [(content.LEAFLET, leaflet_id), *((content.INSERT, i) for i in extra)]
        for lang in _languages(library, names, langs, problems):
            parts = [library.get(kind, id_, lang) for kind, id_ in names]
            groups.append((parts, "+".join(id_ for _, id_ in names), ""))
    for insert_id in ([] if ids else list(library.inserts)):
        for lang in _languages(library, [(content.INSERT, insert_id)], langs, problems):
            groups.append(([library.get(content.INSERT, insert_id, lang)], insert_id, "inserts"))
    for parts, _, _ in groups:
        for item in parts:
            if item.is_overdue(today) and not allow_overdue:
                problems.add(item.shown, item.lines["review_by"],
                             f"review date {item.meta['review_by']:%Y-%m-%d} has passed",
                             "review the leaflet and update review_by, or build with --allow-overdue to print it "
                             "stamped 'Review overdue'")
            source = library.get(item.kind, item.id)
            if item.translated and content.out_of_date(source, item):
                warning = Problem(item.shown, item.lines.get("translation_of"),
                                  f"out of date: translates version {item.meta['translation_of']}, "
                                  f"but {source.shown} is version {source.meta['version']}",
                                  "update the translation and its translation_of")
                if warning not in library.warnings:  # the desk plans with one library again and again
                    library.warnings.append(warning)
    for lang in sorted({parts[0].lang for parts, _, _ in groups}):
        missing = i18n.missing_catalogue(library.project, lang)
        if missing:
            problems.items.append(missing)
    jobs = []
    for style in map(pdf.as_style, styles):
        folder = out / style.folder
        for parts, name, sub in groups:
            source_lang = library.get(parts[0].kind, parts[0].id).lang
            suffix = "" if parts[0].lang == source_lang else f".{parts[0].lang}"
            path = (folder / sub if sub else folder) / f"{name}{suffix}.pdf"
            jobs.append(Job(style, parts, path))
    return jobs


def _languages(library: Library, names: list, langs, problems: Problems) -> list[str]:
    """Return the languages to build a group of parts in: those every part has, or those asked for."""
    def common(languages_of) -> list[str]:
        found = languages_of(*names[0])
        for name in names[1:]:
            found = [lang for lang in found if lang in languages_of(*name)]
        return found

    have = common(library.languages)
    if langs is None:
        return have
    for lang in langs:
        if lang not in have:
            kind, id_ = names[0]
            what = id_ if len(names) == 1 else "+".join(i for _, i in names)
            folder = "leaflets/" if kind == content.LEAFLET else "leaflets/inserts/"
            # From the files, as a handout loads only the language it is made in (handout_library).
            available = common(library.on_disk)
            problems.add(f"{folder}{id_}.md", None, f"there is no '{lang}' version of {what}",
                         f"it is available in: {', '.join(available) or 'no language'}; "
                         f"add {folder}{id_}.{lang}.md to translate it")
    return [lang for lang in langs if lang in have]


def _check_first_page(job: Job, rendered: pdf.Rendered, problems: Problems, personalised: bool = False) -> None:
    # Text cut off at the page edge, or printed over its neighbour, is lost to the reader, on
    # page 1 (the emergency signs, the patient's details) or any other.
    for overflow in rendered.overflows:
        part = next((p for p in job.parts if p.meta["code"] in overflow.part), job.parts[0])
        problems.add(part.shown, None, f"on page {overflow.page} ({job.style.folder}), text runs "
                     f"{overflow.points / pdf.POINTS_PER_MM:.1f} mm past the {overflow.side} edge of "
                     f"{overflow.edge} (in '{overflow.where}')",
                     "break the long word or address with spaces or hyphens, or shorten it")
    # Patient safety: a leaflet's emergency signs must be seen without turning the page.
    first = job.parts[0]
    if first.kind != content.LEAFLET:
        return
    dangers = [c for c in first.callouts if c[0] == "danger"]
    if dangers and "callout-danger" not in rendered.first_page:
        _, title, line = dangers[0]
        problems.add(first.shown, line, f"the danger callout '{title}' does not fit on page 1 ({job.style.folder})",
                     "move it nearer the top, or shorten the summary and the text before it")
    for need in ("masthead", "summary"):
        if need not in rendered.first_page:
            problems.add(first.shown, 1, f"the {need} does not fit on page 1 ({job.style.folder})",
                         "shorten the title and summary")
    # Large print cannot hold the emergency signs and the details box on one page; there the
    # box follows straight after the emergency signs, on page 2 if need be.
    if personalised and job.style.variant == "standard":
        missing = [row.removeprefix("row-") for row in PERSONAL_FIRST_PAGE if row not in rendered.first_page]
        if missing:
            problems.add(first.shown, 1, f"the patient's details ({', '.join(missing)}) do not fit on page 1 "
                         f"({job.style.folder})",
                         "shorten the medicine details, or ask the leaflet's author to shorten what comes "
                         "before the emergency box")


PICTURE_FIX = ("open the picture in a browser to check it, and save it again as a plain SVG or PNG that links "
               "to nothing")


def check_pictures(project: Project, parts: list[Leaflet], rendered: pdf.Rendered, problems: Problems) -> None:
    """Report each picture WeasyPrint could not draw, at the line that shows it.

    WeasyPrint only logs it and prints the page without it; a patient must never get a
    handout that silently lacks a picture.
    """
    for url in rendered.pictures:
        shown, line, name = _picture_source(project, parts, url)
        problems.add(shown, line, f"the picture '{name}' could not be drawn (it is damaged, or uses a file or web "
                     "address outside leaflets/)", PICTURE_FIX)


def _picture_source(project: Project, parts: list[Leaflet], url: str) -> tuple[str, int | None, str]:
    """Return (file, line, picture) for a picture's URL: the content line that shows it, if any."""
    parsed = urlsplit(url)
    name = url
    if parsed.scheme == "file":
        from urllib.request import url2pathname  # here: it imports http.client and ssl, which a no-op build never needs

        path = Path(url2pathname(unquote(parsed.path)))
        try:
            name = path.resolve().relative_to(project.leaflets.resolve()).as_posix()
        except ValueError:
            name = project.rel(path)
    for part in parts:
        try:
            lines = part.path.read_text("utf-8").split("\n")
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            text = text.replace("\\", "")
            if f"]({name}" in text or f"](<{name}" in text or f"]({quote(name)}" in text:
                return part.shown, number, name
    return (parts[0].shown if parts else name), None, name


def html(project: Project, leaflet_id: str, inserts=(), paper: str = "a4", today: date | None = None,
         allow_overdue: bool = True, variant: str = "standard", lang: str | None = None) -> str:
    """Return the HTML that would be rendered, with styles inlined, for a browser preview."""
    today = today or date.today()
    problems = Problems()
    library = content.load(project, [leaflet_id], list(inserts), problems, langs="all")
    source = library.leaflets.get(leaflet_id)
    lang = lang or (source.lang if source else None)
    style = pdf.Style(paper, variant)
    jobs = plan(library, [leaflet_id], [style], inserts, Path("."), allow_overdue, today, problems,
                [lang] if lang else None)
    problems.raise_if_any(ContentError)
    job = jobs[0]
    css = [pdf.font_face_css()] + [(project.styles / n).read_text("utf-8") for n in pdf.stylesheet_names(style)]
    # The project's own CSS, trusted like the templates; "</" is escaped so it cannot close <style>.
    preview = {"base": project.leaflets.resolve().as_uri() + "/",
               "css": Markup("\n".join(css).replace("</", "<\\/"))}
    return render.render_html(project, library.org, job.parts, paper, today, preview, lang=job.lang)


def review_state(review_by: date, today: date) -> str:
    """Return 'OVERDUE', 'due soon' (within DUE_SOON) or 'ok' for a review date."""
    return "OVERDUE" if review_by < today else "due soon" if review_by - today <= DUE_SOON else "ok"


@dataclass
class Row:
    """One line of `list`: a leaflet, insert or translation and its review state."""

    kind: str
    id: str
    lang: str
    code: str
    version: str
    status: str
    review_by: date
    state: str


def listing(project: Project, today: date | None = None) -> tuple[list[Row], list[Problem]]:
    """Return a row for every valid leaflet, insert and translation, and the problems of the rest."""
    today = today or date.today()
    found = Problems()
    library = content.load(project, None, (), found, langs="all")
    rows = []
    for kind in (content.LEAFLET, content.INSERT):
        for id_ in content.available_ids(project, kind):
            for lang in library.languages(kind, id_):
                item = library.get(kind, id_, lang)
                review = item.meta["review_by"]
                state = review_state(review, today)
                if item.translated and content.out_of_date(library.get(kind, id_), item):
                    state += f"; out of date (translates v{item.meta['translation_of']})"
                rows.append(Row(kind, id_, lang, item.meta["code"], item.meta["version"], item.meta["status"],
                                review, state))
    return rows, sorted(set(found.items), key=lambda p: (p.path, p.line or 0))


@dataclass
class Handout:
    """One personalised handout, rendered in memory: its job, its bytes, and what delivery needs.

    It is delivered (saved, printed, e-mailed, downloaded) only through deliver.deliver, which
    records it in issue_log.
    """

    job: Job
    pdf: bytes
    patient: object
    issue_log: Path  # from the org config the handout was rendered with
    project: Project
    org: object      # the organisation config it was rendered with (read once per run)
    warnings: list = field(default_factory=list)  # what the person issuing it should know (never patient data)


def handout_library(project: Project, leaflet_id: str, inserts=(), problems: Problems | None = None,
                    lang: str | None = "all") -> Library:
    """Load what handouts of a leaflet and its inserts need: in every language (lang "all", as the
    desk and a print or e-mail run keep it), or in one: lang, or with None the leaflet's own.

    One language is what a single handout from the shell needs; the others' files are read and
    checked only when they are printed (about 0.05 s of its start).
    """
    problems = problems if problems is not None else Problems()
    drawable = pdf.font_characters()
    if lang == "all":
        return content.load(project, [leaflet_id], list(inserts), problems, drawable, langs="all")
    library = content.load(project, [leaflet_id], list(inserts), problems, drawable)
    source = library.leaflets.get(leaflet_id)
    lang = lang or (source.lang if source else None)
    if lang:
        content.load_translations(project, library, {leaflet_id, *inserts}, [lang], problems, drawable)
    return library


def handouts(project: Project, leaflet_id: str, inserts, paper: str, patients: list, paths: list[Path] | None = None,
             allow_overdue: bool = False, allow_draft: bool = False, today: date | None = None,
             variant: str = "standard", lang: str | None = None, *, library: Library | None = None,
             render_all=None, rest_cache: personal.RestCache | None = None, progress=None) -> list[Handout]:
    """Render one personalised handout per patient, in memory; nothing is written here.

    It is in lang, or in the leaflet's own language; every insert must exist in that language.
    paths are where each would be saved (default: named after the reference). library is content
    already loaded (the desk keeps one); render_all renders (style, html, trim) jobs (the desk's
    warm workers; default pdf.render_all). Each handout is rendered in two halves, the patient's
    page(s) and the rest (clearleaf/personal.py); rest_cache keeps the rest between calls (by
    default in the project's .clearleaf-cache/, so the next handout from the shell is quick too).
    progress(done, total), if given, is called as each patient's page is rendered. Any problem
    with any of them raises, so that none is delivered (a batch that saves the others is
    deliver.save_batch, over plan_handouts and render_handouts).
    """
    planned = plan_handouts(project, leaflet_id, inserts, paper, allow_overdue, allow_draft, today, variant, lang,
                            library=library)
    made = render_handouts(planned, patients, paths, render_all=render_all, rest_cache=rest_cache,
                           progress=progress)
    problems = Problems()
    problems.items = [problem for _, found in made for problem in found]
    problems.raise_if_any(RenderError)
    return [handout for handout, _ in made]


@dataclass
class HandoutPlan:
    """What every personalised handout of one run shares: the content, loaded and checked once."""

    project: Project
    library: Library
    leaflet_id: str
    parts: list[Leaflet]
    style: pdf.Style
    today: date

    @property
    def lang(self) -> str:
        return self.parts[0].lang


def plan_handouts(project: Project, leaflet_id: str, inserts, paper: str, allow_overdue: bool = False,
                  allow_draft: bool = False, today: date | None = None, variant: str = "standard",
                  lang: str | None = None, *, library: Library | None = None) -> HandoutPlan:
    """Load and check what handouts of a leaflet and its inserts need; raise ContentError on any
    problem (a draft without allow_draft, an overdue leaflet, a missing language)."""
    today = today or date.today()
    style = pdf.Style(paper, variant)
    problems = Problems()
    if library is None:
        library = handout_library(project, leaflet_id, inserts, problems, lang)
    elif leaflet_id not in library.leaflets:
        problems.add(f"leaflets/{leaflet_id}.md", None, f"there is no valid leaflet '{leaflet_id}'",
                     "choose a leaflet from the list, or fix its file (build.py check names the problem)")
    source = library.leaflets.get(leaflet_id)
    lang = lang or (source.lang if source else None)
    jobs = plan(library, [leaflet_id], [style], inserts, Path("."), allow_overdue, today, problems,
                [lang] if lang else None)
    if jobs and not allow_draft:
        for part in jobs[0].parts:
            if part.meta["status"] == "draft":
                problems.add(part.shown, part.lines["status"], "this is a draft, not for patient use",
                             "have it clinically reviewed and set status: approved, or use --allow-draft "
                             "(for training: every page is marked DRAFT)")
    problems.raise_if_any(ContentError)
    return HandoutPlan(project, library, leaflet_id, jobs[0].parts, style, today)


def render_handouts(planned: HandoutPlan, patients: list, paths: list[Path] | None = None, *, render_all=None,
                    rest_cache: personal.RestCache | None = None,
                    progress=None) -> list[tuple[Handout | None, list[Problem]]]:
    """Render and check one handout per patient: (the Handout, []) or (None, its problems) each."""
    project, library, parts, style = planned.project, planned.library, planned.parts, planned.style
    if paths is None:
        paths = [Path(handout_name(planned.leaflet_id, patient)) for patient in patients]
    made = [Job(style, parts, path) for path in paths]
    details = [patient.as_context() for patient in patients]

    def html(i: int | None, section: str | None, **numbers) -> str:
        return render.render_html(project, library.org, parts, style.paper, planned.today, lang=planned.lang,
                                  patient=None if i is None else details[i], section=section, **numbers)

    with contextlib.ExitStack() as stack:
        if render_all is None:  # in this process, loading the fonts once for both halves
            render_all = stack.enter_context(pdf.InProcess(project)).render_all
        if rest_cache is None:
            rest_cache = personal.disk_cache(project)
        results = personal.render(project, style, html, len(made), render_all, rest_cache,
                                  done=counter(progress, len(made)))
    log = records.log_path(project, library.org)
    shown = {part.shown for part in parts}
    about_content = [str(w) for w in library.warnings if w.path in shown]
    out = []
    for job, rendered, patient in zip(made, results, patients, strict=True):
        job.pages = rendered.pages
        found = Problems()
        _check_first_page(job, rendered, found, personalised=True)
        check_pictures(project, parts, rendered, found)
        out.append((None, found.items) if found else
                   (Handout(job, rendered.pdf, patient, log, project, library.org,
                            list(dict.fromkeys(about_content + rendered.warnings))), []))
    return out


def counter(progress, total: int):
    """Turn progress(done, total) into a done() to call once per finished job (None stays None)."""
    if progress is None:
        return None
    count = [0]

    def done() -> None:
        count[0] += 1
        progress(count[0], total)
    return done


def handout_name(leaflet_id: str, patient) -> str:
    """Return a PDF file name from the record reference, never from the patient's name."""
    if patient.reference:
        return f"{patient.reference}.pdf"
    return f"{leaflet_id}-{patient.issued:%Y-%m-%d}.pdf"
