"""Every way a handout leaves the building: channels of one shape, each recorded in the issue log.

A channel is one function `(handout, options) -> (detail, record)`: it delivers the rendered
handout (saves it, prints it, e-mails it, hands it to a browser) and returns what the user is
told (a file path, a print job id, a message id) and what the issue log keeps besides the
versions and reference. `deliver` is the only way in: it runs the channel, then records it with
the staff member's user name, and returns a Receipt. Both front ends (the CLI and the desk) call
it; a new channel (an EHR upload) is one more function registered here.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from . import mail, printing, records
from .errors import ClearleafError, Problem, RenderError, cannot


@dataclass(frozen=True)
class Receipt:
    """What one delivery did: the channel, the handout's reference and pages, and its detail."""

    channel: str
    reference: str | None
    pages: int
    detail: str          # the file written, the print job id, the message id or the download name


@dataclass(frozen=True)
class SaveOptions:
    """Save to a file on this machine (readable only by its owner: it carries patient details).

    An existing file is replaced only with overwrite, and an input file (protect: the patient
    file or list it was made from) never.
    """

    path: Path
    overwrite: bool = False
    protect: tuple[Path, ...] = ()


@dataclass(frozen=True)
class DownloadOptions:
    """Hand the PDF to the caller (the desk sends it to the browser, named after the reference)."""


@dataclass(frozen=True)
class PrintOptions:
    """Print on a CUPS queue; server is host:port, or None for CUPS_SERVER or the default."""

    printer: str
    copies: int = 1
    duplex: bool = False
    server: str | None = None


@dataclass(frozen=True)
class EmailOptions:
    """E-mail as an attachment, or write the message to eml; see email_options() to make one."""

    to: str
    sender: str
    smtp: mail.SmtpSettings | None = None   # None when the message is written to eml
    smtp_password: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)  # the PDF's password; None: not encrypted
    eml: Path | None = None
    overwrite: bool = False  # replace an existing eml file


Channel = Callable[[object, object], tuple[str, dict]]
CHANNELS: dict[str, tuple[type, Channel]] = {}


def channel(name: str, options: type):
    """Register a channel function under name, taking options of the given type."""
    def register(fn: Channel) -> Channel:
        CHANNELS[name] = (options, fn)
        return fn
    return register


def deliver(name: str, handout, options, staff: str | None = None) -> Receipt:
    """Deliver a rendered handout through one channel, recorded in the issue log; return a Receipt.

    The record is written first (records.begin): when the log cannot be written, nothing is
    delivered. Then the outcome is added: "issued", "failed" (the channel raised), or "unknown"
    (an e-mail server took the message and then failed: it may have been sent).
    """
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; channels are {', '.join(CHANNELS)}")
    kind, fn = CHANNELS[name]
    if not isinstance(options, kind):
        raise TypeError(f"the {name} channel takes {kind.__name__}, not {type(options).__name__}")
    job, log = handout.job, handout.issue_log
    # A draft leaflet goes out only for training (--allow-draft); the log says so.
    training = any(part.meta.get("status") == "draft" for part in job.parts)
    record_id = records.begin(log, records.entry(
        name, job.paper, job.parts, handout.patient.reference, staff=staff or os_user(),
        variant=job.style.variant, **({"training": True} if training else {})))
    try:
        detail, extra = fn(handout, options)
    except mail.MaybeSent as exc:
        _finish(log, record_id, "unknown", exc)
        raise
    except BaseException as exc:
        _finish(log, record_id, "failed", exc)
        raise
    try:
        records.finish(log, record_id, "issued", **extra)
    except ClearleafError as exc:
        raise ClearleafError([Problem(exc.problems[0].path, None,
                                      f"the handout was delivered ({detail}), but its record could not be "
                                      "completed: the issue log keeps it as 'issuing'",
                                      "do not deliver it again; free some space for the issue log")]) from None
    return Receipt(name, handout.patient.reference, job.pages, detail)


def _finish(log: Path, record_id: str, status: str, exc: BaseException) -> None:
    """Record a delivery that did not end as issued; the channel's own error is what the user sees."""
    try:
        records.finish(log, record_id, status)
    except ClearleafError:
        pass  # the begin line stays, as "issuing": the error being raised says what happened


def os_user() -> str:
    """Return who runs this process: the staff member at the command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def filename(handout) -> str:
    """Return the file name a handout is delivered under: its reference, never the patient's name."""
    from .builder import handout_name

    return handout_name(handout.job.parts[0].id, handout.patient)


@channel("save", SaveOptions)
def save(handout, options: SaveOptions) -> tuple[str, dict]:
    """Write the PDF atomically, readable only by its owner."""
    from .pdf import write_atomic

    path = Path(options.path)
    check_target(path, options.overwrite, options.protect)
    try:
        write_atomic(path, handout.pdf, mode=0o600, overwrite=options.overwrite)
    except FileExistsError:
        raise ClearleafError([Problem(str(path), None, "the file already exists",
                                      "choose another --out, or add --overwrite to replace it")]) from None
    except OSError as exc:
        raise cannot(path, "write the handout", exc,
                     "choose another --out, or check the folder's permissions and free space") from None
    return str(path), {}


def check_target(path: Path, overwrite: bool, inputs=(), option: str = "--out", what: str = "the handout") -> bool:
    """Refuse a path that cannot take a new file: an input file, a folder, a device or a pipe,
    a path under a file, a name too long; and an existing file unless overwrite.

    Return whether a file is there now (to be replaced). Raise ClearleafError naming path.
    """
    from .pdf import existing

    refuse_inputs(path, inputs, option)
    fix = f"choose another {option}"
    try:
        kind = existing(Path(path))
    except OSError as exc:
        raise cannot(path, f"write {what}", exc, fix) from None
    if kind == "folder":
        raise ClearleafError([Problem(str(path), None, f"cannot write {what}: it is a folder, not a file", fix)])
    if kind == "other":
        raise ClearleafError([Problem(str(path), None, f"cannot write {what}: it is not a regular file (a device, "
                                      "a pipe or a socket)", f"{fix}: only a file is ever replaced")])
    if kind == "file" and not overwrite:
        raise ClearleafError([Problem(str(path), None, "the file already exists",
                                      f"{fix}, or add --overwrite to replace it")])
    return kind == "file"


BATCH_CHUNK = 50  # handouts rendered, checked and written at a time; only these are ever held in memory


@dataclass(frozen=True)
class BatchRow:
    """What became of one row of a batch: its handout written and recorded (receipt), or not
    made (problems, naming the row's line); and what whoever issues it should know (warnings)."""

    line: int
    reference: str | None
    receipt: Receipt | None = None
    problems: tuple = ()
    warnings: tuple = ()


def save_batch(project, leaflet_id: str, inserts, paper: str, rows: list, out: Path, *, overwrite: bool = False,
               protect=(), shown: str = "the list", allow_overdue: bool = False, allow_draft: bool = False,
               today=None, variant: str = "standard", lang: str | None = None, staff: str | None = None,
               chunk: int | None = None, stop=None):
    """Save one personalised handout per (line, Patient) row into out, streamed a chunk at a time.

    Yield a BatchRow for each row, in order, as soon as its handout is written and recorded (or
    refused: a row whose handout fails its checks is reported by its line, and the rest go on).
    The content, the draft and review rules and every target file are checked before anything
    is rendered or written (ClearleafError). A write that fails (a full disk) raises
    ClearleafError: every row yielded before it was written and recorded, none after. Stop
    iterating (and close the generator) to stop the batch: it stops after the last row yielded;
    or pass stop, a function that says when to stop, asked before each handout is written.
    Memory holds one chunk (BATCH_CHUNK handouts), however long the list.
    """
    import contextlib

    from . import builder, pdf, personal

    chunk = chunk or BATCH_CHUNK
    planned = builder.plan_handouts(project, leaflet_id, inserts, paper, allow_overdue, allow_draft, today, variant,
                                    lang)
    paths = [Path(out) / builder.handout_name(leaflet_id, patient) for _, patient in rows]
    check_targets(paths, overwrite, protect)
    with contextlib.ExitStack() as stack:
        workers = pdf.pool_workers(len(rows))
        if workers:  # one pool for the whole batch: its workers load the fonts once
            pool = stack.enter_context(pdf.BuildPool(project, workers, [planned.style]))
            render_all = lambda _project, jobs, done=None: pool.render_all(jobs, done)  # noqa: E731
        else:
            here = stack.enter_context(pdf.InProcess(project))
            render_all = lambda _project, jobs, done=None: here.render(jobs, done)  # noqa: E731
        rest = personal.RestCache(2)  # the part after page 1, the same for every row: rendered once
        stop = stop or (lambda: False)
        for start in range(0, len(rows), chunk):
            if stop():
                return
            some, where = rows[start:start + chunk], paths[start:start + chunk]
            made = builder.render_handouts(planned, [patient for _, patient in some], where, render_all=render_all,
                                           rest_cache=rest)
            if start == 0 and made:
                # A problem every row has is the content's (a picture that cannot be drawn, the
                # emergency signs off page 1): reported as itself, before anything is written.
                common = set.intersection(*(set(problems) for _, problems in made))
                if common:
                    raise RenderError(sorted(common))
            for (line, patient), path, (handout, problems) in zip(some, where, made, strict=True):
                if stop():
                    return
                if handout is None:
                    yield BatchRow(line, patient.reference, problems=tuple(
                        Problem(shown, line, f"this row's handout was not made: {p.message} ({p.path})", p.fix)
                        for p in problems))
                    continue
                receipt = deliver("save", handout, SaveOptions(path, overwrite, tuple(protect)), staff)
                yield BatchRow(line, patient.reference, receipt, warnings=tuple(handout.warnings))
            made = handout = None  # let this chunk's PDFs go before the next is rendered


def check_targets(paths, overwrite: bool, inputs=()) -> None:
    """Before a batch writes anything: refuse every path check_target would, and existing files
    unless overwrite (all of them counted in one message)."""
    existing = [str(path) for path in paths if check_target(Path(path), True, inputs)]
    if existing and not overwrite and len(paths) == 1:
        raise ClearleafError([Problem(existing[0], None, "the file already exists",
                                      "choose another --out, or add --overwrite to replace it")])
    if existing and not overwrite:
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise ClearleafError([Problem(existing[0], None,
                                      f"{len(existing)} of the {len(paths)} PDFs to write already exist "
                                      f"({', '.join(existing[:3])}{more}); nothing was written",
                                      "choose another --out folder, or add --overwrite to replace them")])


def refuse_inputs(path: Path, inputs, option: str = "--out") -> None:
    """Refuse to write over a file a command reads (the patient file), whatever the flags."""
    for given in inputs:
        if given is None:
            continue
        try:
            same = Path(path).resolve() == Path(given).resolve()
        except (OSError, RuntimeError):  # a name too long, a link that loops: check_target reports it
            same = False
        if same:
            raise ClearleafError([Problem(str(path), None, "this is the file the patient's details were read from",
                                          f"choose another {option}: an input file is never written over")])


@channel("download", DownloadOptions)
def download(handout, options: DownloadOptions) -> tuple[str, dict]:
    """Hand the bytes over; the caller sends them (named after the reference) to the browser."""
    return filename(handout), {}


@channel("print", PrintOptions)
def print_(handout, options: PrintOptions) -> tuple[str, dict]:
    """Pipe the PDF to a CUPS queue; the job is named after the leaflet code, never the patient."""
    job = printing.print_pdf(handout.pdf, options.printer, handout.job.paper, options.copies, options.duplex,
                             title=handout.job.parts[0].meta["code"], server=options.server)
    return job, {"copies": options.copies, "duplex": options.duplex, "printer": options.printer, "job": job}


@channel("email", EmailOptions)
def email(handout, options: EmailOptions) -> tuple[str, dict]:
    """Attach the PDF (encrypted when a password is given) and send it, or write it to a .eml file."""
    encrypted = options.password is not None
    data = mail.encrypt_pdf(handout.pdf, options.password) if encrypted else handout.pdf
    message = mail.compose(handout.project, handout.org, handout.job.parts, data, filename(handout), options.to,
                           options.sender, encrypted=encrypted, lang=handout.job.lang)
    if options.eml:
        mail.write_eml(message, options.eml, overwrite=options.overwrite)
        detail = str(options.eml)
    else:
        mail.send(message, options.smtp, options.smtp_password)
        detail = message["Message-ID"]
    return detail, {"encrypted": encrypted, "delivery": "eml" if options.eml else "smtp"}


def email_options(org, to: str, *, eml: Path | None = None,
                  smtp_host: str | None = None, smtp_port: int | None = None, smtp_ca_file: Path | None = None,
                  smtp_password: str | None = None, overwrite: bool = False, protect=()) -> EmailOptions:
    """Check the address and the mail settings before anything is rendered; raise ClearleafError.

    An eml file that exists is refused here unless overwrite, and an input file always.
    """
    address = mail.check_address(to)
    if eml:
        check_target(Path(eml), overwrite, protect, "--eml", "the e-mail file")
        return EmailOptions(address, mail.sender_address(org), eml=Path(eml), overwrite=overwrite)
    settings = mail.smtp_settings(org, smtp_host, smtp_port, smtp_ca_file)
    return EmailOptions(address, settings.sender, settings, smtp_password)


def encrypted(options: EmailOptions, password: str) -> EmailOptions:
    """Return options that protect the PDF with password (AES-256); refuse a short password."""
    mail.check_pdf_password(password)
    return replace(options, password=password)
