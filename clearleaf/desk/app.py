"""The desk's pages and actions (Starlette), over builder.handouts and deliver.deliver.

Patient details arrive only in POST bodies and stay in memory: the rendered handout is kept in
the staff member's session under a random token until it is issued or the session ends. URLs
carry leaflet ids and that token, never a patient detail.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, quote

from babel import Locale
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import builder, content, deliver, i18n, pdf, personal, printing, staff
from ..config import Project
from ..content import INSERT, LEAFLET
from ..errors import ClearleafError, Problem, Problems, os_reason
from ..handout import MEDICATION_KEYS, PATIENT_KEYS, check_values
from . import security
from ..mail import is_loopback
from .security import COOKIE, BodyTooLarge, Guard, LoginLimiter, Sessions

TEMPLATES = "desk"
STATIC = {"desk.css": ("styles", "text/css"), "desk.js": ("templates/desk", "text/javascript")}
# The patient fields of the form, in order, with their labels and hints. The keys are those of
# the patient-file schema (handout.PATIENT_KEYS), so the CLI and the desk check them alike.
FIELDS = (
    ("reference", "Reference", "The record's reference number, e.g. MRN-0042. It names the PDF; never the name."),
    ("name", "Patient's name", "As the patient wants it printed."),
    ("issued", "Given on", "Leave empty for today."),
    ("clinician", "Seen by", "e.g. Dr A. Patel"),
    ("contact_phone", "Phone for questions", None),
    ("medication.name", "Medicine", "e.g. Apixaban"),
    ("medication.dose", "Dose", "e.g. 5 mg"),
    ("medication.how_often", "How often", "e.g. Twice a day"),
    ("medication.until", "Take it until", "e.g. 26 February 2027"),
    ("follow_up", "Follow-up", "Where and when, e.g. Clinic 4, 3 Dec 2026, 10:30"),
    ("note", "Note", "At most 500 characters."),
)
PATIENT_FIELDS = tuple(key for key, _, _ in FIELDS)
assert set(PATIENT_FIELDS) == {k for k in PATIENT_KEYS if k != "medication"} | {f"medication.{k}"
                                                                                for k in MEDICATION_KEYS}
LIMITS = {**{k: v for k, v in PATIENT_KEYS.items() if isinstance(v, int)},
          **{f"medication.{k}": v for k, v in MEDICATION_KEYS.items()}}


@dataclass(frozen=True)
class DeskOptions:
    """How the desk was started."""

    host: str = "127.0.0.1"
    port: int = 8750
    allow_draft: bool = False       # training: drafts and overdue leaflets may be chosen, marked
    workers: int = 2                # warm render processes; 0 renders in the server process
    smtp_ca_file: Path | None = None
    smtp_password: str | None = field(default=None, repr=False)


@dataclass
class Prepared:
    """A rendered handout waiting in a session: what the form said, and the exact PDF previewed."""

    leaflet_id: str
    form: dict
    handout: builder.Handout
    downloads: dict = field(default_factory=dict)  # ticket -> True, once recorded


class Catalogue:
    """Every leaflet, insert and translation, loaded once and again only when a file changes."""

    def __init__(self, project: Project):
        self.project = project
        self._signature = None
        self.library = None
        self.problems: list[Problem] = []

    def _files(self):
        roots = [self.project.leaflets, self.project.templates, i18n.locales_dir(self.project)]
        return sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                      for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file())

    def current(self):
        signature = self._files()
        if signature != self._signature:
            problems = Problems()
            self.library = content.load(self.project, None, (), problems, pdf.font_characters(), langs="all")
            self.problems = sorted(set(problems.items), key=lambda p: (p.path, p.line or 0))
            self._signature = signature
        return self.library


class Desk:
    """A running desk: its project, options, sessions, login limiter, catalogue and renderers."""

    def __init__(self, project: Project, options: DeskOptions, pool=None):
        self.project, self.options, self.pool = project, options, pool
        # The part of every handout after the patient's details, rendered once (clearleaf/personal.py).
        self.rest_cache = personal.disk_cache(project)
        self.printers = Printers()
        self.catalogue = Catalogue(project)
        library = self.catalogue.current()
        if any(p.path.endswith("org.yaml") for p in self.catalogue.problems):
            raise ClearleafError([p for p in self.catalogue.problems if p.path.endswith("org.yaml")])
        self.settings = library.org.desk
        self.users_file = project.root / self.settings.users_file
        self._users_stamp = self._stamp()
        self._users = staff.read_users(self.users_file)
        self.sessions = Sessions(self.settings.session_minutes)
        self.limiter = LoginLimiter()
        self.env = SandboxedEnvironment(loader=FileSystemLoader(project.templates / TEMPLATES), autoescape=True,
                                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(order=("inserts", "lang", "paper", *PATIENT_FIELDS), fields=FIELDS, limits=LIMITS,
                                labels={"inserts": "Inserts", "lang": "Language", "paper": "Paper",
                                        **{key: label for key, label, _ in FIELDS}},
                                lang_label=language_label)
        self.local_user = deliver.os_user()

    def _stamp(self):
        try:
            stat = self.users_file.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    @property
    def users(self) -> dict[str, str]:
        """Return the staff users, read again when desk-user has changed the file: no restart needed."""
        stamp = self._stamp()
        if stamp != self._users_stamp:
            try:
                self._users = staff.read_users(self.users_file)
            except ClearleafError as exc:
                # Keep the users we had: a half-edited file must not sign everyone out or let anyone in.
                security.access_log.warning("the desk users file cannot be read; keeping the last good one: %s",
                                            exc.text)
            self._users_stamp = stamp
        return self._users

    @property
    def login_required(self) -> bool:
        return bool(self.users or self.settings.trusted_proxy)

    # --- who is asking ---------------------------------------------------------------------

    def from_proxy(self, request: Request) -> bool:
        return (request.client.host if request.client else "") in self.settings.trusted_proxy

    def proxy_user(self, request: Request) -> str | None:
        """Return the user a trusted reverse proxy names in its header, if this request came through it."""
        if self.from_proxy(request):
            name = request.headers.get(self.settings.user_header, "").strip()
            return name or None
        return None

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or (self.from_proxy(request)
                                                 and request.headers.get("x-forwarded-proto") == "https")

    def session(self, request: Request) -> security.Session:
        """Return the caller's session, a new one when there is none (or it is no longer good)."""
        found = self.sessions.get(request.cookies.get(COOKIE))
        user = self.proxy_user(request)
        if user is not None:
            # Single sign-on names the user on every request; a session follows that name only.
            if found is not None and found.via == "proxy" and found.user == user:
                return found
            return self.sessions.new(user, "proxy")
        if found is not None and ((found.via == "login" and found.user and found.user not in self.users)
                                  or (found.via == "local" and self.login_required)):
            # Removed with desk-user remove, or staff logins were turned on: sign in (again).
            self.sessions.end(found.id)
            found = None
        if found is not None and found.via != "proxy":
            return found
        # A proxy session without its header (or from elsewhere) is over: sign in again.
        if not self.login_required:
            return self.sessions.new(self.local_user, "local")
        return self.sessions.new(None, "login")

    def set_cookie(self, response: Response, request: Request, session: security.Session) -> Response:
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=self.secure(request),
                            path="/")
        return response

    # --- pages -----------------------------------------------------------------------------

    def page(self, request: Request, session: security.Session, template_name: str, status: int = 200,
             **context):
        template = self.env.get_template(template_name)
        body = template.render(
            org=self.catalogue.library.org, user=session.user, csrf=session.csrf,
            training=self.options.allow_draft, login=self.login_required and not self.proxy_user(request),
            **context)
        return self.set_cookie(HTMLResponse(body, status_code=status), request, session)


def create_app(project: Project, options: DeskOptions = DeskOptions(), pool=None):
    """Return the desk as an ASGI application (wrapped in the security guard)."""
    desk = Desk(project, options, pool)

    async def guarded(request: Request, handler, need_user: bool = True, post: bool = False):
        session = desk.session(request)
        form = {}
        if post:
            try:
                form = await read_form(request)
            except BodyTooLarge:
                return PlainTextResponse("The request is too large.", status_code=413)
            except ValueError:
                return PlainTextResponse("The form could not be read.", status_code=400)
            if not session.check_csrf(first(form, "csrf")):
                return desk.set_cookie(PlainTextResponse(
                    "This form has expired or did not come from the desk (no valid CSRF token). "
                    "Go back, reload the page and try again.", status_code=403), request, session)
        if need_user and session.user is None:
            if desk.settings.trusted_proxy and not desk.users:
                return PlainTextResponse("Sign in through the hospital's single sign-on to use the desk.",
                                         status_code=403)
            return desk.set_cookie(RedirectResponse("/login", status_code=303), request, session)
        return await handler(request, session, form)

    async def handout_page(request: Request, session, row: Row, values: dict, status: int = 200, errors=None,
                           summary=None, prepared=None, token=None, result=None):
        """Render the form, with its preview and actions once a handout is prepared."""
        return desk.page(request, session, "handout.html", status=status, row=row, values=values,
                         errors=errors or {}, summary=summary or [], prepared=prepared, token=token, result=result,
                         printers=await run_in_threadpool(desk.printers) if prepared else None)

    async def index(request: Request, session, form):
        library = desk.catalogue.current()
        query = request.query_params.get("q", "").strip()[:80]
        rows = [row for row in leaflet_rows(desk, library) if matches(row, query)]
        return desk.page(request, session, "index.html", rows=rows, query=query,
                         problems=desk.catalogue.problems)

    async def leaflet_form(request: Request, session, form):
        library = desk.catalogue.current()
        row = find_row(desk, library, request.path_params["id"])
        if row is None:
            return desk.page(request, session, "missing.html", status=404)
        return await handout_page(request, session, row, default_values(desk, row))

    async def preview(request: Request, session, form):
        library = desk.catalogue.current()
        row = find_row(desk, library, request.path_params["id"])
        if row is None:
            return desk.page(request, session, "missing.html", status=404)
        values = form_values(form)
        errors, summary, made = await run_in_threadpool(prepare, desk, library, row, values)
        if made is None:
            return await handout_page(request, session, row, values, 422, errors, summary)
        token = secrets.token_urlsafe(24)
        session.keep(token, Prepared(row.id, values, made))
        return await handout_page(request, session, row, values, prepared=made, token=token)

    def prepared_or_404(request, session):
        return session.handouts.get(request.path_params["token"])

    async def preview_pdf(request: Request, session, form):
        prepared = prepared_or_404(request, session)
        if prepared is None:
            return PlainTextResponse("This preview has expired; make the handout again.", status_code=404)
        return Response(prepared.handout.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": "inline"})

    async def act(request: Request, session, form):
        prepared = prepared_or_404(request, session)
        if prepared is None:
            return desk.page(request, session, "expired.html", status=404)
        library = desk.catalogue.current()
        row = find_row(desk, library, prepared.leaflet_id)
        action = request.path_params["action"]
        if action not in ACTIONS:
            return PlainTextResponse("Not found.", status_code=404)
        result = await run_in_threadpool(ACTIONS[action], desk, prepared, form, session.user)
        if not result.ok:
            keys = {"print": ("printer", "copies", "duplex"), "email": ("to", "protect")}.get(action, ())
            result.values = {key: first(form, key) for key in keys}
        return await handout_page(request, session, row, prepared.form, 200 if result.ok else 422,
                                  prepared=prepared.handout, token=request.path_params["token"], result=result)

    async def download_file(request: Request, session, form):
        prepared = prepared_or_404(request, session)
        ticket = request.path_params["ticket"]
        if prepared is None or not prepared.downloads.pop(ticket, None):
            return PlainTextResponse("This download has expired; use Download again.", status_code=404)
        name = deliver.filename(prepared.handout)
        return Response(prepared.handout.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename=\"{quote(name)}\""})

    async def login_page(request: Request, session, form):
        if not desk.login_required:
            return RedirectResponse("/", status_code=303)
        return desk.page(request, session, "login.html", error=None, name="")

    async def login(request: Request, session, form):
        if not desk.login_required:
            return RedirectResponse("/", status_code=303)
        name = first(form, "user").strip().lower()[:40]
        password = first(form, "password")
        client = request.client.host if request.client else "?"
        keys = (f"ip:{client}", f"user:{name}")
        wait = desk.limiter.wait(*keys)
        if wait:
            return desk.page(request, session, "login.html", status=429, name=name,
                             error=f"Too many failed sign-ins. Try again in {(wait + 59) // 60} minutes, "
                                   "or ask your IT team.")
        if not await run_in_threadpool(staff.verify, desk.users, name, password):
            desk.limiter.failed(*keys)
            return desk.page(request, session, "login.html", status=401, name=name,
                             error="The user name or password is wrong. Check them and try again.")
        desk.limiter.succeeded(*keys)
        desk.sessions.end(session.id)  # a new id after sign-in: an id seen before it is worthless
        fresh = desk.sessions.new(name, "login")
        return desk.set_cookie(RedirectResponse("/", status_code=303), request, fresh)

    async def logout(request: Request, session, form):
        desk.sessions.end(session.id)
        response = RedirectResponse("/login" if desk.login_required else "/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def static(request: Request):
        name = request.path_params["name"]
        if name in STATIC:
            folder, kind = STATIC[name]
            return Response((project.root / folder / name).read_bytes(), media_type=kind,
                            headers={"Cache-Control": "max-age=300"})
        if name == "fonts.css":
            return Response(font_css(), media_type="text/css", headers={"Cache-Control": "max-age=300"})
        font = FONTS.get(name)
        if font is None:
            return PlainTextResponse("Not found.", status_code=404)
        return Response(font.read_bytes(), media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})

    async def health(request: Request):
        return PlainTextResponse("ok")

    def route(path, handler, methods=("GET",), need_user=True):
        post = "POST" in methods

        async def endpoint(request: Request):
            return await guarded(request, handler, need_user, post)
        return Route(path, endpoint, methods=list(methods))

    routes = [
        route("/", index),
        route("/login", login_page, need_user=False),
        route("/login", login, ("POST",), need_user=False),
        route("/logout", logout, ("POST",), need_user=False),
        route("/leaflets/{id}", leaflet_form),
        route("/leaflets/{id}", preview, ("POST",)),
        route("/handouts/{token}/preview.pdf", preview_pdf),
        route("/handouts/{token}/{action:str}", act, ("POST",)),
        route("/handouts/{token}/file/{ticket}", download_file),
        Route("/static/{name}", static),
        Route("/healthz", health),
    ]
    app = Starlette(routes=routes)
    app.state.desk = desk
    guard = Guard(app, allowed_hosts(options, desk.settings))
    return guard


def allowed_hosts(options: DeskOptions, settings) -> set[str]:
    """Return the Host names the desk answers to: where it listens, localhost, and desk.allowed_hosts.

    Any other Host is refused, so a page on another site cannot reach the desk by DNS rebinding.
    """
    hosts = {options.host, "localhost", "127.0.0.1", "[::1]", *settings.allowed_hosts}
    return {security.host_name(h) for h in hosts} | {h for h in hosts if h.startswith("[")}


# --- leaflets as the desk offers them ---------------------------------------------------------

@dataclass
class Row:
    """A leaflet as the start page and the form show it, with whether it may be given to a patient."""

    id: str
    title: str
    code: str
    version: str
    status: str
    review_by: date
    state: str                # ok | due soon | overdue (builder.review_state)
    languages: list           # (tag, label) of complete, up-to-date translations
    inserts: list             # InsertRow
    usable: bool
    why_not: str | None


@dataclass
class InsertRow:
    id: str
    title: str    # in the leaflet's language when the insert has it, else its own
    code: str
    version: str
    status: str
    usable: bool
    why_not: str | None


def _why_not(item, today: date, training: bool) -> str | None:
    """Return why a leaflet or insert cannot be given to a patient now, or None."""
    if training:
        return None
    if item.meta["status"] == "draft":
        return "draft: not yet approved for patients"
    if item.is_overdue(today):
        return f"review overdue since {item.meta['review_by']:%d %b %Y}"
    return None


def language_label(tag: str) -> str:
    """Return 'Spanish (español)' for es: the nurse's language, then the patient's."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
        english, native = locale.get_display_name("en"), locale.get_display_name(locale)
    except (ValueError, TypeError, LookupError):
        return tag
    return english if english == native else f"{english} ({native})"


def leaflet_rows(desk: Desk, library) -> list[Row]:
    """Return every leaflet as the start page lists it, by title."""
    today = date.today()
    return [leaflet_row(desk, library, leaflet_id, today)
            for leaflet_id, _ in sorted(library.leaflets.items(), key=lambda kv: kv[1].title.lower())]


def find_row(desk: Desk, library, leaflet_id: str) -> Row | None:
    return leaflet_row(desk, library, leaflet_id, date.today()) if leaflet_id in library.leaflets else None


def leaflet_row(desk: Desk, library, leaflet_id: str, today: date) -> Row:
    """Return one leaflet with its complete languages, its inserts, and whether it may be chosen now."""
    training = desk.options.allow_draft
    leaflet = library.leaflets[leaflet_id]
    listed = [i for i in leaflet.meta.get("inserts", []) if i in library.inserts]
    langs = []
    for lang in library.languages(LEAFLET, leaflet_id):
        parts = [library.get(LEAFLET, leaflet_id, lang)] + [library.get(INSERT, i, lang) for i in listed]
        complete = all(p is not None for p in parts) and i18n.missing_catalogue(desk.project, lang) is None
        fresh = all(not p.translated or not content.out_of_date(library.get(p.kind, p.id), p)
                    for p in parts if p is not None)
        if complete and fresh:
            langs.append((lang, language_label(lang)))
    inserts = []
    for insert_id in listed:
        item = library.get(INSERT, insert_id, leaflet.lang) or library.inserts[insert_id]
        why = _why_not(item, today, training)
        inserts.append(InsertRow(insert_id, item.title, item.meta["code"], item.meta["version"],
                                 item.meta["status"], why is None, why))
    why = _why_not(leaflet, today, training)
    if why is None and not langs:
        why = "no complete translation can be printed"
    return Row(leaflet_id, leaflet.title, leaflet.meta["code"], leaflet.meta["version"], leaflet.meta["status"],
               leaflet.meta["review_by"], builder.review_state(leaflet.meta["review_by"], today).lower(),
               langs, inserts, why is None, why)


def matches(row: Row, query: str) -> bool:
    query = query.lower()
    return not query or query in row.title.lower() or query in row.code.lower() or query in row.id


# --- the form ---------------------------------------------------------------------------------

async def read_form(request: Request) -> dict[str, list[str]]:
    """Read an url-encoded form body of at most MAX_BODY bytes; raise ValueError when it is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > security.MAX_BODY:
            raise BodyTooLarge()
    if kind != "application/x-www-form-urlencoded":
        if body:
            raise ValueError("not a form")
        return {}
    return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=60, strict_parsing=False)


def first(form: dict, key: str) -> str:
    return (form.get(key) or [""])[0]


def default_values(desk: Desk, row: Row) -> dict:
    return {"paper": desk.settings.paper, "lang": row.languages[0][0] if row.languages else "", "inserts": [],
            "large": False, **dict.fromkeys(PATIENT_FIELDS, "")}


def form_values(form: dict) -> dict:
    """Return what the form said, as the template shows it again."""
    values = {key: first(form, key) for key in PATIENT_FIELDS}
    values.update(paper=first(form, "paper"), lang=first(form, "lang"), inserts=form.get("inserts", []),
                  large=first(form, "large") == "on")
    return values


def by_field(problems, errors: dict, others: list) -> None:
    """Put each problem's words (as the CLI says them) under its form field, or with the others."""
    for problem in problems:
        if problem.field:
            errors.setdefault(problem.field, f"{problem.message} — {problem.fix}")
        else:
            others.append(str(problem))


def prepare(desk: Desk, library, row: Row, values: dict):
    """Check the form and render the handout: return (errors by field, other problems, handout or None)."""
    errors: dict[str, str] = {}
    summary: list[str] = []
    today = date.today()
    if not row.usable:
        summary.append(f"{row.title} cannot be given to patients: {row.why_not}.")
    if values["paper"] not in pdf.PAPERS:
        errors["paper"] = "Choose A4 or Letter."
    if values["lang"] not in [tag for tag, _ in row.languages]:
        errors["lang"] = "Choose one of the languages listed."
    listed = {i.id: i for i in row.inserts}
    for insert in values["inserts"]:
        if insert not in listed:
            errors["inserts"] = f"'{insert[:40]}' is not an insert of this leaflet — choose from the list."
        elif not listed[insert].usable:
            errors["inserts"] = f"{listed[insert].title} cannot be given to patients: {listed[insert].why_not}."
    problems = Problems()
    raw = {key: values[key] for key in PATIENT_FIELDS}
    patient = check_values(raw, "form", {}, today, problems, pdf.font_characters())
    if not values["reference"].strip():
        problems.add("form", None, "'reference' is required",
                     "give the record's reference number: it names the PDF and traces this copy in the issue log",
                     field="reference")
    by_field(problems.items, errors, summary)
    if errors or summary:
        return errors, summary, None
    inserts = [i.id for i in row.inserts if i.id in values["inserts"]]
    try:
        made = builder.handouts(desk.project, row.id, inserts, values["paper"], [patient], None,
                                allow_overdue=desk.options.allow_draft, allow_draft=desk.options.allow_draft,
                                today=today, variant="large" if values["large"] else "standard",
                                lang=values["lang"], library=library,
                                render_all=desk.pool.render_all if desk.pool else None,
                                rest_cache=desk.rest_cache)
    except ClearleafError as exc:
        return {}, [str(p) for p in exc.problems] or [exc.text], None
    return {}, [], made[0]


# --- actions: each one channel of deliver ----------------------------------------------------

@dataclass
class Result:
    """One clear line about what an action did (ok) or why nothing was done."""

    ok: bool
    action: str
    line: str
    passphrase: str | None = None
    link: str | None = None
    errors: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # what the action's form said, shown again (never passwords)


def do_download(desk: Desk, prepared: Prepared, form: dict, user: str) -> Result:
    receipt = deliver.deliver("download", prepared.handout, deliver.DownloadOptions(), staff=user)
    ticket = secrets.token_urlsafe(16)
    prepared.downloads[ticket] = True
    return Result(True, "download", f"Recorded and ready to save: {receipt.detail} ({receipt.pages} pages).",
                  link=ticket)


def do_print(desk: Desk, prepared: Prepared, form: dict, user: str) -> Result:
    printer = first(form, "printer")
    copies_text = first(form, "copies") or "1"
    duplex = first(form, "duplex") == "on"
    if not copies_text.isdigit() or not 1 <= int(copies_text) <= printing.MAX_COPIES:
        return Result(False, "print", f"Copies must be a number from 1 to {printing.MAX_COPIES}.",
                      errors={"copies": f"Give a number from 1 to {printing.MAX_COPIES}."})
    copies = int(copies_text)
    try:
        receipt = deliver.deliver("print", prepared.handout, deliver.PrintOptions(printer, copies, duplex),
                                  staff=user)
    except ClearleafError as exc:
        return Result(False, "print", f"Not printed: {exc.text}")
    sides = "two-sided" if duplex else "one-sided"
    return Result(True, "print", f"Sent to {printer} as job {receipt.detail} ({receipt.pages} pages, {copies} "
                  f"cop{'ies' if copies != 1 else 'y'}, {sides}, {printing.MEDIA[prepared.handout.job.paper]}).")


def passphrase() -> str:
    """Return a passphrase to read aloud: 16 digits in groups of four (53 bits)."""
    digits = f"{secrets.randbelow(10 ** 16):016d}"
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def do_email(desk: Desk, prepared: Prepared, form: dict, user: str) -> Result:
    to = first(form, "to")
    protect = first(form, "protect") or "generate"
    errors = {}
    secret = None
    if protect == "typed":
        secret, again = first(form, "password"), first(form, "password2")
        if secret != again:
            errors["password2"] = "The two passwords differ — type the same password twice."
    elif protect == "generate":
        secret = passphrase()
    elif protect != "none":
        errors["protect"] = "Choose how the PDF is protected."
    options = None
    try:
        options = deliver.email_options(prepared.handout.org, to, smtp_ca_file=desk.options.smtp_ca_file,
                                        smtp_password=desk.options.smtp_password)
        if secret is not None and not errors:
            options = deliver.encrypted(options, secret)
    except ClearleafError as exc:
        others: list[str] = []
        by_field(exc.problems, errors, others)  # the address and the password name their fields
        if others or not exc.problems:
            return Result(False, "email", f"Not sent: {exc.text}")
    if errors:
        return Result(False, "email", "Not sent: correct the fields marked below.", errors=errors)
    try:
        deliver.deliver("email", prepared.handout, options, staff=user)
    except ClearleafError as exc:
        return Result(False, "email", f"Not sent: {exc.text}")
    pages = prepared.handout.job.pages
    if protect == "generate":
        return Result(True, "email", f"E-mailed the handout ({pages} pages), protected by the passphrase below.",
                      passphrase=secret)
    protected = ", password-protected" if secret else ", not password-protected"
    return Result(True, "email", f"E-mailed the handout ({pages} pages{protected}).")


ACTIONS = {"download": do_download, "print": do_print, "email": do_email}


class Printers:
    """The CUPS queues to offer, asked again after FRESH seconds; a failure is never kept.

    Asking CUPS runs lpstat, a process of its own, which would otherwise be paid for by every
    preview. A queue that stops meanwhile is still caught when printing (printing.print_pdf).
    """

    FRESH = 30.0

    def __init__(self):
        self._known: tuple[float, list] | None = None

    def __call__(self) -> dict:
        now = time.monotonic()
        if self._known is None or now - self._known[0] > self.FRESH:
            try:
                self._known = (now, printing.list_printers())
            except ClearleafError as exc:
                return {"names": [], "error": exc.text}
        return {"names": self._known[1], "error": None}


# --- fonts, from the font packages ------------------------------------------------------------

FONTS = {path.name: path for root in pdf.font_roots() for path in root.glob("*.ttf")
         if path.name.startswith("AtkinsonHyperlegible-") and "Italic" not in path.name}


def font_css() -> str:
    rules = []
    for name, path in sorted(FONTS.items()):
        weight = 700 if "Bold" in name else 400
        rules.append(f'@font-face {{ font-family: "Atkinson Hyperlegible"; src: url("/static/{name}") '
                     f'format("truetype"); font-weight: {weight}; font-style: normal; font-display: swap; }}')
    return "\n".join(rules) + "\n"


# --- the server -------------------------------------------------------------------------------

class Stopped(Exception):
    """SIGTERM arrived: stop the desk as Ctrl+C would."""


def _stop(signum, frame):
    raise Stopped()


def _check_port(host: str, port: int) -> None:
    """Refuse, before saying the desk is running, an address that cannot be listened on."""
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        # socket.create_server adds the address to the message; the reason alone is clearer.
        reason = os.strerror(exc.errno) if exc.errno else os_reason(exc)
        raise ClearleafError([Problem("--port", None, f"cannot listen on {host}:{port}: {reason}",
                                      "choose another --port, or stop what is using it")]) from None


def serve(project: Project, options: DeskOptions, say=print) -> None:
    """Run the desk on uvicorn until interrupted, with warm render workers; raise ClearleafError."""
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    app = create_app(project, options)
    desk = app.app.state.desk
    pool = None
    try:
        if not is_loopback(options.host) and not desk.login_required:
            raise ClearleafError([Problem(
                "--host", None, f"refusing to listen on {options.host} without staff login: anyone on the network "
                "could issue handouts",
                "add a user with `build.py desk-user add NAME`, or set desk.trusted_proxy in leaflets/org.yaml "
                "(see docs/desk.md); or listen on 127.0.0.1")])
        _check_port(options.host, options.port)
        desk.pool = pool = pdf.WarmPool(project, options.workers) if options.workers else None
        config = uvicorn.Config(app, host=options.host, port=options.port, access_log=False, log_level="warning",
                                server_header=False, proxy_headers=False, lifespan="off")
        say(f"Clearleaf desk on http://{options.host}:{options.port}/"
            f"{' (training mode: drafts allowed)' if options.allow_draft else ''} — Ctrl+C to stop")
        if not is_loopback(options.host):
            names = sorted(h for h in allowed_hosts(options, desk.settings) if h not in ("0.0.0.0", "[::]", "::"))
            say(f"It answers to the host names {', '.join(names)}; add the name or address staff type "
                "to desk.allowed_hosts in leaflets/org.yaml")
        # uvicorn shuts down on SIGINT or SIGTERM, then raises the signal again for the handler that
        # was there before: make SIGTERM (systemd's stop) an exception too, so the workers are stopped.
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            uvicorn.Server(config).run()
        except (KeyboardInterrupt, Stopped):
            pass
        except SystemExit as exc:  # uvicorn could not start (it has said why): only ClearleafError reaches the CLI
            raise ClearleafError([Problem("--port", None, f"the desk could not start on {options.host}:"
                                          f"{options.port} (exit code {exc.code})",
                                          "see the message above; choose another --host or --port")]) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        say("Clearleaf desk stopped")
    finally:
        if pool:
            pool.close()
