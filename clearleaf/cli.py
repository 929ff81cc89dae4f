"""Thin Click commands over the library: parse options, call one function, report."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path

import click

from . import __version__, lazy
from .config import Project, default_root
from .errors import ClearleafError, Problem, Problems, os_reason
from .pdf import PAPERS, VARIANTS, check_bleed, font_characters

CONTEXT = {"help_option_names": ["-h", "--help"]}


builder, deliver, handout = lazy.modules("builder", "deliver", "handout")


def _fail(exc: ClearleafError):
    for line in exc.text.splitlines():
        _err(line)
    sys.exit(1)


def _out(text: str = "") -> None:
    """Print a line of the command's output; a full disk or a closed pipe is a ClearleafError."""
    try:
        click.echo(text)
    except OSError as exc:
        try:  # so that Python's own flush at exit does not fail again with a traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        raise ClearleafError([Problem("standard output", None, f"cannot write: {os_reason(exc)}",
                                      "send the output somewhere with room (another file or disk), or not "
                                      "to a file at all")]) from None


def _err(text: str) -> None:
    """Print a line on stderr; when even that cannot be written, the exit code still tells."""
    try:
        click.echo(text, err=True)
    except OSError:
        pass


class Group(click.Group):
    """The command group: any ClearleafError becomes `path: problem — fix` lines on stderr and exit code 1.

    Only a ClearleafError may reach here; anything else is a bug, and keeps its traceback.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ClearleafError as exc:
            _fail(exc)


def _papers(paper: str) -> tuple[str, ...]:
    return PAPERS if paper == "all" else (paper,)


QUIET = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
PROGRESS_MIN = 4  # fewer PDFs than this finish before a bar would help


class Progress:
    """A progress bar on stderr while PDFs render: only on a terminal, never when quiet.

    Pipes and CI logs stay free of it. It is the library's progress(done, total) callback.
    """

    def __init__(self, label: str, quiet: bool):
        self.label, self.bar = label, None
        self.enabled = not quiet and sys.stderr.isatty()

    def __enter__(self) -> "Progress":
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="clearleaf")
@click.option("--project", "root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project folder holding leaflets/, templates/ and styles/ (default: this one).")
@click.pass_context
def cli(ctx, root):
    """Clear-print patient handouts: Markdown leaflets to A4 and US-letter PDFs.

    \b
    Example:
        python build.py build            # every leaflet and insert, both papers
        python build.py list             # versions and review dates
    """
    root = (root or default_root()).resolve()
    if not (root / "leaflets").is_dir():
        raise click.UsageError(f"{root} has no leaflets/ folder; pass --project with the project folder")
    ctx.obj = Project(root)


@cli.command()
@click.argument("ids", nargs=-1, metavar="[ID ...]")
@click.option("--paper", type=click.Choice(["a4", "letter", "all"]), default="all", show_default=True,
              help="Paper size.")
@click.option("--insert", "inserts", multiple=True, metavar="INSERT_ID",
              help="Add a procedure insert after the leaflet (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Output folder.")
@click.option("--allow-overdue", is_flag=True,
              help="Build leaflets whose review date has passed, stamped 'Review overdue' on every page.")
@click.option("--variant", type=click.Choice(VARIANTS), default="standard", show_default=True,
              help="large: 18 pt large print, reflowed, into OUT/<paper>-large/.")
@click.option("--bleed", default=None, metavar="LENGTH",
              help="For a print shop: bleed around each page, e.g. 3mm (into OUT/<paper>-print/).")
@click.option("--crop-marks", is_flag=True, help="For a print shop: crop marks outside the bleed.")
@click.option("--lang", "langs", multiple=True, metavar="LANG",
              help="Build only this language (repeatable; default: every language present).")
@click.option("--force", is_flag=True, help="Render every PDF, even those unchanged since the last build.")
@click.option("--prune", is_flag=True, help="Remove PDFs whose leaflet or insert file has been deleted.")
@QUIET
@click.pass_obj
def build(project, ids, paper, inserts, out, allow_overdue, variant, bleed, crop_marks, langs, force, prune,
          quiet):
    """Build PDFs into OUT/<paper>/.

    With no ID, every leaflet and every insert on its own. With an ID and
    --insert, one combined handout: the leaflet, then each insert on a new
    right-hand page.

    \b
    Example:
        python build.py build
        python build.py build dvt --insert venous-stent --paper a4
        python build.py build --variant large
        python build.py build dvt --lang es --insert venous-stent
        python build.py build dvt --paper a4 --bleed 3mm --crop-marks
    """
    if inserts and not ids:
        raise click.UsageError("--insert needs a leaflet ID, e.g. build dvt --insert venous-stent")
    if check_bleed(bleed):
        raise click.BadParameter(check_bleed(bleed), param_hint="--bleed")
    start = time.perf_counter()
    today = date.today()
    # Nothing changed since the same build: builder.build answers from the manifest (manifest.replay)
    # before the renderer is even imported.
    result = _rendering(quiet, lambda progress: builder.build(
        project, ids or None, _papers(paper), inserts, out, allow_overdue, today, variant=variant, bleed=bleed,
        crop_marks=crop_marks, langs=langs or None, progress=progress, force=force, prune=prune))
    if quiet:
        return
    _report_warnings(result)
    for job in result.jobs:
        _out(f"{'unchanged' if job.reused else 'wrote'} {job.path} ({job.pages} page{'s' if job.pages != 1 else ''})")
    for path in result.removed:
        _out(f"removed {path} (its source is gone)")
    rendered = sum(1 for job in result.jobs if not job.reused)
    reused = f"; {len(result.jobs) - rendered} unchanged" if rendered < len(result.jobs) else ""
    _out(f"built {rendered} PDF{'s' if rendered != 1 else ''}{reused} in {time.perf_counter() - start:.1f} s")


def _rendering(quiet: bool, make):
    """Return make(progress), with a progress bar while PDFs render (a ClearleafError goes to Group)."""
    with Progress("Rendering PDFs", quiet) as progress:
        return make(progress)


def _report_warnings(result) -> None:
    for warning in result.warnings:
        _err(warning)


@cli.command(name="list")
@click.pass_obj
def list_(project):
    """List every leaflet and insert with its code, version, status and review date.

    \b
    Example:
        python build.py list
    """
    rows, problems = builder.listing(project)
    header = ("KIND", "ID", "LANG", "CODE", "VERSION", "STATUS", "REVIEW BY", "REVIEW")
    table = [header] + [(r.kind, r.id, r.lang, r.code, r.version, r.status, f"{r.review_by:%Y-%m-%d}", r.state)
                        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        _out("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if problems:
        for p in problems:
            _err(str(p))
        sys.exit(1)


@cli.command()
@click.argument("leaflet_id", metavar="ID")
@click.option("--insert", "inserts", multiple=True, metavar="INSERT_ID", help="Add a procedure insert (repeatable).")
@click.option("--paper", type=click.Choice(PAPERS), default="a4", show_default=True, help="Paper size.")
@click.option("--variant", type=click.Choice(VARIANTS), default="standard", show_default=True,
              help="large: 18 pt large print.")
@click.option("--lang", default=None, metavar="LANG", help="The language (default: the leaflet's own).")
@click.pass_obj
def html(project, leaflet_id, inserts, paper, variant, lang):
    """Print the HTML that would be rendered, for a browser preview.

    \b
    Example:
        python build.py html dvt --insert venous-stent > /tmp/dvt.html
    """
    try:
        _out(builder.html(project, leaflet_id, inserts, paper, variant=variant, lang=lang))
    except ClearleafError as exc:
        _fail(exc)


def _handout_options(f):
    """Options shared by handout, print and email: which leaflet, which paper, which patient."""
    options = [
        click.argument("leaflet_id", metavar="ID"),
        click.option("--insert", "inserts", multiple=True, metavar="INSERT_ID",
                     help="Add a procedure insert (repeatable)."),
        click.option("--paper", type=click.Choice(PAPERS), default="a4", show_default=True, help="Paper size."),
        click.option("--allow-draft", is_flag=True,
                     help="Allow draft leaflets (for training; every page says DRAFT – not for patient use)."),
        click.option("--allow-overdue", is_flag=True,
                     help="Allow leaflets past their review date (stamped 'Review overdue')."),
        click.option("--variant", type=click.Choice(VARIANTS), default="standard", show_default=True,
                     help="large: 18 pt large print."),
        click.option("--lang", default=None, metavar="LANG",
                     help="The language of the whole handout (default: the leaflet's own)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _library(project, leaflet_id, inserts):
    """Load org.yaml, the leaflet and its inserts once for the run; raise every problem at once."""
    problems = Problems()
    library = builder.handout_library(project, leaflet_id, inserts, problems)
    problems.raise_if_any()
    return library


def _render_one(project, leaflet_id, inserts, paper, patient_file, allow_draft, allow_overdue, variant, lang,
                library=None):
    """Load one patient file and render their handout in memory."""
    today = date.today()
    patient = handout.load_patient(Path(patient_file), today, font_characters())
    return builder.handouts(project, leaflet_id, inserts, paper, [patient], None, allow_overdue, allow_draft, today,
                            variant, lang, library=library)[0]


@cli.command(name="handout")
@_handout_options
@click.option("--patient", "patient_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The patient's details, as YAML or JSON.")
@click.option("--patients", "patients_file", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="A discharge list: one handout per row, named after its reference.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="The PDF to write (with --patient) or the folder (with --patients). "
                   "Default: dist/handouts/<reference>.pdf.")
@click.option("--overwrite", is_flag=True, help="Replace PDFs that already exist (never the patient file).")
@QUIET
@click.pass_obj
def handout_(project, leaflet_id, inserts, paper, allow_draft, allow_overdue, variant, lang, patient_file,
             patients_file, out, overwrite, quiet):
    """Save a personalised handout: the leaflet with a 'Your details' box on page 1.

    The patient file holds name, issued, clinician, contact_phone, medication
    (name, dose, how_often, until), follow_up, note and reference. Fields left
    out print as lines to fill in by hand. Every handout is recorded in the
    issue log, by reference and leaflet version, never by name.

    \b
    Example:
        python build.py handout dvt --insert venous-stent --patient ann.yaml --out ann.pdf
        python build.py handout dvt --patients today.csv --out dist/handouts
    """
    if bool(patient_file) == bool(patients_file):
        raise click.UsageError("give either --patient FILE or --patients FILE.csv")
    start = time.perf_counter()
    if patients_file:
        _save_batch(project, leaflet_id, inserts, paper, allow_draft, allow_overdue, variant, lang,
                    Path(patients_file), out or Path("dist/handouts"), overwrite, quiet, start)
        return
    made = _render_one(project, leaflet_id, inserts, paper, patient_file, allow_draft, allow_overdue, variant, lang)
    path = out or Path("dist/handouts") / deliver.filename(made)
    source = Path(patient_file)
    deliver.check_targets([path], overwrite, (source,))
    receipt = deliver.deliver("save", made, deliver.SaveOptions(path, overwrite, (source,)))
    if quiet:
        return
    _warn([made])
    _out(f"wrote {receipt.detail} ({receipt.pages} pages)")
    _out(f"saved 1 handout in {time.perf_counter() - start:.1f} s")


class StopOnSignal:
    """While a batch runs, the first Ctrl+C (SIGINT) or SIGTERM asks it to stop once the handout
    being written is whole and recorded; a second one stops it at once (KeyboardInterrupt)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> "StopOnSignal":
        self.requested, self.previous = False, {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self) -> bool:
        return self.requested

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _save_batch(project, leaflet_id, inserts, paper, allow_draft, allow_overdue, variant, lang, source: Path,
                out: Path, overwrite: bool, quiet: bool, start: float) -> None:
    """Save a discharge list's handouts as they are made, and say exactly what was written if it stops early."""
    rows = handout.load_patient_rows(source, date.today(), font_characters())
    written, refused, warnings = [], [], []
    failure, interrupted = None, False
    with StopOnSignal() as stop, Progress("Rendering handouts", quiet) as progress:
        batch = deliver.save_batch(project, leaflet_id, inserts, paper, rows, out, overwrite=overwrite,
                                   protect=(source,), shown=str(source), allow_overdue=allow_overdue,
                                   allow_draft=allow_draft, variant=variant, lang=lang, stop=stop)
        try:
            for row in batch:
                (written if row.receipt else refused).append(row)
                warnings.extend(row.warnings)
                if row.receipt and not quiet:
                    _out(f"wrote {row.receipt.detail} ({row.receipt.pages} pages)")
                progress(len(written) + len(refused), len(rows))
        except ClearleafError as exc:
            if not written and not refused:
                raise  # nothing was written: the error alone says it all
            failure = exc
        except KeyboardInterrupt:
            interrupted = True
        finally:
            batch.close()
    if not quiet:
        for warning in dict.fromkeys(warnings):
            _err(f"warning: {warning}")
    for row in refused:
        for problem in row.problems:
            _err(str(problem))
    done = {row.line for row in written + refused}
    unwritten = [(line, patient.reference) for line, patient in rows if line not in done]
    if failure is not None:
        for line in failure.text.splitlines():
            _err(line)
    if failure is not None or interrupted or stop.requested or unwritten:
        _report_stopped(source, rows, written, refused, unwritten)
        sys.exit(1)
    if refused:
        _err(f"{source}: {len(refused)} of the {len(rows)} handouts were not made (above); the other "
             f"{len(written)} were written — fix those rows and run them again on their own")
        sys.exit(1)
    if not quiet:
        _out(f"saved {len(written)} handout{'s' if len(written) != 1 else ''} in "
             f"{time.perf_counter() - start:.1f} s")


def _report_stopped(source: Path, rows, written, refused, unwritten) -> None:
    """Say exactly which rows' handouts were written and recorded, and which were not."""
    by_line = {line: patient.reference for line, patient in rows}
    _err(f"{source}: stopped after {len(written)} of the {len(rows)} handouts — each handout listed as "
         "written is whole and recorded in the issue log; run the rows not written again on their own")
    _err(f"  written and recorded: {_spans([row.line for row in written], by_line)}")
    not_written = sorted([line for line, _ in unwritten] + [row.line for row in refused])
    _err(f"  not written: {_spans(not_written, by_line)}")


def _spans(lines: list[int], references: dict) -> str:
    """'lines 2–4 (MRN-1 to MRN-3), 7 (MRN-6)' for the given CSV lines, in order; 'none' for none."""
    if not lines:
        return "none"
    order = sorted(references)
    position = {line: n for n, line in enumerate(order)}
    spans, first = [], lines[0]
    for previous, line in zip(lines, lines[1:] + [None]):
        if line is not None and position[line] == position[previous] + 1:
            continue
        spans.append(f"{first}–{previous} ({references[first]} to {references[previous]})" if previous != first
                     else f"{first} ({references[first]})")
        first = line
    return f"line{'s' if len(lines) > 1 else ''} " + ", ".join(spans)


@cli.command(name="print")
@_handout_options
@click.option("--patient", "patient_file", type=click.Path(dir_okay=False), metavar="FILE", required=True,
              help="The patient's details, as YAML or JSON.")
@click.option("--printer", required=True, help="The CUPS queue (lpstat -p lists them).")
@click.option("--copies", type=click.IntRange(1, 20), default=1, show_default=True, help="Number of copies.")
@click.option("--duplex", is_flag=True, help="Print on both sides (long edge).")
@click.pass_obj
def print_(project, leaflet_id, inserts, paper, allow_draft, allow_overdue, variant, lang, patient_file, printer,
           copies, duplex):
    """Print a personalised handout on a CUPS printer, with nothing left on disk.

    The PDF goes to the queue through a pipe, with the paper size set to
    match (A4 or Letter). It reports the job id and records the handout in
    the issue log. CUPS_SERVER chooses another CUPS server.

    \b
    Example:
        python build.py print dvt --insert venous-stent --patient ann.yaml --printer ward-7 --duplex
    """
    try:
        item = _render_one(project, leaflet_id, inserts, paper, patient_file, allow_draft, allow_overdue, variant,
                           lang)
        receipt = deliver.deliver("print", item, deliver.PrintOptions(printer, copies, duplex))
    except ClearleafError as exc:
        _fail(exc)
    _warn([item])
    sides = "two-sided" if duplex else "one-sided"
    _out(f"sent to {printer} as job {receipt.detail} ({receipt.pages} pages, {copies} "
         f"cop{'ies' if copies != 1 else 'y'}, {sides}, {paper})")


@cli.command(name="email")
@_handout_options
@click.option("--patient", "patient_file", type=click.Path(dir_okay=False), metavar="FILE", required=True,
              help="The patient's details, as YAML or JSON.")
@click.option("--to", "to", required=True, metavar="ADDRESS", help="The patient's e-mail address.")
@click.option("--encrypt", is_flag=True,
              help="Protect the PDF with a password (AES-256), read from HANDOUT_PASSWORD or asked for.")
@click.option("--eml", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Write the message to FILE instead of sending it.")
@click.option("--smtp-host", default=None, help="Mail server (default: smtp.host in leaflets/org.yaml).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=None, help="Mail server port.")
@click.option("--smtp-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Trust this CA certificate (e.g. the hospital's internal CA).")
@click.option("--overwrite", is_flag=True, help="With --eml: replace the file if it exists.")
@click.pass_obj
def email_(project, leaflet_id, inserts, paper, allow_draft, allow_overdue, variant, lang, patient_file, to, encrypt,
           eml, smtp_host, smtp_port, smtp_ca_file, overwrite):
    """E-mail a personalised handout as a PDF attachment.

    The subject and body name the organisation and the leaflet, never the
    patient. The SMTP password comes only from SMTP_PASSWORD. With --encrypt
    the PDF password comes from HANDOUT_PASSWORD or a prompt, never from an
    argument, and is never printed: give it to the patient another way.

    \b
    Example:
        SMTP_PASSWORD=... python build.py email dvt --patient ann.yaml --to ann@example.org --encrypt
        python build.py email dvt --patient ann.yaml --to ann@example.org --eml ann.eml
    """
    try:
        # org.yaml (read once), the address and the mail server are checked before anything is rendered.
        library = _library(project, leaflet_id, inserts)
        options = deliver.email_options(library.org, to, eml=eml, smtp_host=smtp_host, smtp_port=smtp_port,
                                        smtp_ca_file=smtp_ca_file, smtp_password=os.environ.get("SMTP_PASSWORD"),
                                        overwrite=overwrite, protect=(Path(patient_file),))
        if encrypt:
            options = deliver.encrypted(options, _handout_password())
        item = _render_one(project, leaflet_id, inserts, paper, patient_file, allow_draft, allow_overdue, variant,
                           lang, library)
        deliver.deliver("email", item, options)
    except ClearleafError as exc:
        _fail(exc)
    _warn([item])
    protected = ", password-protected" if encrypt else ""
    # The address is not repeated: this output may be seen or logged by others.
    _out(f"wrote the message to {eml}" if eml else f"e-mailed the handout ({item.job.pages} pages{protected})")


def _warn(handouts) -> None:
    """Show each warning about the handouts once, on stderr: whoever issues them should know."""
    for warning in dict.fromkeys(w for item in handouts for w in item.warnings):
        _err(f"warning: {warning}")


def _handout_password() -> str:
    """Return the PDF password from HANDOUT_PASSWORD, or ask for it without echoing it."""
    password = os.environ.get("HANDOUT_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise click.UsageError("--encrypt needs a password: set HANDOUT_PASSWORD or run it in a terminal")
    return click.prompt("Password for the PDF (give it to the patient separately)", hide_input=True,
                        confirmation_prompt=True)


@cli.command(name="check")
@click.argument("ids", nargs=-1, metavar="[ID ...]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format.")
@click.pass_obj
def check_(project, ids, fmt):
    """Check leaflets and inserts against patient-information standards.

    Reading grade (Flesch-Kincaid and SMOG), long sentences, unexplained
    medical terms, headings, actions, the danger callout, insert sections,
    review dates, sources and alt text. Per file, how many PEMAT-P items a
    machine checked and passed (not a PEMAT-P score); once, the items that
    need a person. With no ID, every leaflet and insert; with IDs,
    those leaflets and the inserts they list. Exits 1 if there is any error;
    warnings do not fail. docs/checks.md explains each check.

    \b
    Example:
        python build.py check
        python build.py check dvt --format json > report.json
    """
    # Imported here so the other commands never load textstat.
    from . import checks

    reports = checks.check(project, ids or None)
    _out(checks.to_json(reports) if fmt == "json" else checks.to_text(reports))
    if checks.has_errors(reports):
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs staff login (desk-user or a trusted proxy).")
@click.option("--port", type=click.IntRange(1, 65535), default=8750, show_default=True, help="Port to listen on.")
@click.option("--allow-draft", is_flag=True,
              help="Training mode: draft and overdue leaflets can be chosen (marked DRAFT); every page says so.")
@click.option("--workers", type=click.IntRange(0, 8), default=2, show_default=True,
              help="Warm render processes (0: render in the server process).")
@click.option("--smtp-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Trust this CA certificate for the mail server (e.g. the hospital's internal CA).")
@click.pass_obj
def serve(project, host, port, allow_draft, workers, smtp_ca_file):
    """Run the discharge desk: a web page to make, preview, print and e-mail handouts.

    Open http://127.0.0.1:8750/ on the ward PC. The mail password comes from
    SMTP_PASSWORD and the CUPS server from CUPS_SERVER, as for the CLI.
    docs/desk.md explains running it as a service behind a TLS proxy.

    \b
    Example:
        python build.py serve
        python build.py serve --allow-draft            # training
        python build.py serve --host 0.0.0.0 --port 8750   # needs desk-user or a proxy
    """
    from .desk import DeskOptions, serve as run

    options = DeskOptions(host, port, allow_draft, workers, smtp_ca_file, os.environ.get("SMTP_PASSWORD"))
    try:
        run(project, options, say=_err)
    except ClearleafError as exc:
        _fail(exc)


@cli.group(name="desk-user")
def desk_user():
    """Manage the desk's staff logins (argon2 password hashes in desk.users_file).

    \b
    Example:
        python build.py desk-user add a.patel
        python build.py desk-user list
        python build.py desk-user remove a.patel
    """


def _users_file(project) -> Path:
    from .config import load_org

    return project.root / load_org(project).desk.users_file


@desk_user.command(name="add")
@click.argument("name")
@click.pass_obj
def desk_user_add(project, name):
    """Add a staff user, or change their password (asked for twice, never echoed).

    \b
    Example:
        python build.py desk-user add a.patel
    """
    from . import staff

    try:
        staff.check_name(name)
        path = _users_file(project)
        password = os.environ.get("DESK_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise click.UsageError("run it in a terminal to type the password (or set DESK_PASSWORD)")
            password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
        new = staff.set_user(path, name, password)
    except ClearleafError as exc:
        _fail(exc)
    _out(f"{'added' if new else 'changed the password of'} {name} in {project.rel(path)}")


@desk_user.command(name="remove")
@click.argument("name")
@click.pass_obj
def desk_user_remove(project, name):
    """Remove a staff user.

    \b
    Example:
        python build.py desk-user remove a.patel
    """
    from . import staff

    try:
        path = _users_file(project)
        staff.remove_user(path, name)
    except ClearleafError as exc:
        _fail(exc)
    _out(f"removed {name} from {project.rel(path)}; a running desk signs them out at once")


@desk_user.command(name="list")
@click.pass_obj
def desk_user_list(project):
    """List the staff users.

    \b
    Example:
        python build.py desk-user list
    """
    from . import staff

    try:
        users = staff.read_users(_users_file(project))
    except ClearleafError as exc:
        _fail(exc)
    for name in sorted(users):
        _out(name)


@cli.command(name="site")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist/site"),
              show_default=True, help="The website's folder (new, empty, or an earlier site build).")
@click.option("--allow-overdue", is_flag=True,
              help="Publish leaflets whose review date has passed, marked 'Review overdue'.")
@click.option("--force", is_flag=True, help="Render every PDF, even those unchanged since the last build.")
@QUIET
@click.pass_obj
def site_(project, out, allow_overdue, force, quiet):
    """Build the website the QR codes lead to: every leaflet and insert in every language, with its PDFs.

    The pages come from the same Markdown as the PDFs; the PDFs (A4, Letter
    and large print) are built beside them. The folder works from any static
    web server or straight from disk. docs/site.md explains publishing it.

    \b
    Example:
        python build.py site
        python build.py site --out /srv/www/leaflets
    """
    from . import site

    start = time.perf_counter()
    result = _rendering(quiet, lambda progress: site.build(project, out, allow_overdue, progress=progress,
                                                           force=force))
    if quiet:
        return
    _report_warnings(result)
    for path in result.removed:
        _out(f"removed {out / path} (no longer part of the site)")
    rendered = sum(1 for job in result.pdf.jobs if not job.reused)
    _out(f"wrote {out}: {len(result.pages)} pages and the home page, {len(result.pdf.jobs)} PDFs "
         f"({rendered} rendered), {len(result.written)} files changed, in {time.perf_counter() - start:.1f} s")
    if result.address:
        _out(f"publish the folder at {result.address} so that the QR codes find its pages")


def main():
    cli(prog_name="build.py")
